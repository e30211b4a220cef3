// DefaultBinder: binds the pod through the pods/binding subresource.
import type { Pod } from '../../../api/types.ts';
import { CycleState, Status, type BindPlugin } from '../../framework/interfaces.ts';
import * as names from '../names.ts';

export type BindPod = (pod: Pod, nodeName: string) => Promise<void>;

export class DefaultBinderPlugin implements BindPlugin {
  readonly name = names.DefaultBinder;
  private readonly bindPod: BindPod;

  constructor(bindPod: BindPod) {
    this.bindPod = bindPod;
  }

  async bind(_state: CycleState, pod: Pod, nodeName: string): Promise<Status | undefined> {
    try {
      await this.bindPod(pod, nodeName);
    } catch (err) {
      return Status.error(err);
    }
    return undefined;
  }
}
