// NodeName: a pod naming its node (spec.nodeName) fits only there.
import type { Pod } from '../../../api/types.ts';
import { Status, type ClusterEventWithHint, type EnqueueExtensions, type FilterPlugin } from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import * as names from '../names.ts';

export const ErrReasonNodeName = "node(s) didn't match the requested node name";

export class NodeNamePlugin implements FilterPlugin, EnqueueExtensions {
  readonly name = names.NodeName;

  filter(_state: unknown, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    if (!pod.spec.nodeName || pod.spec.nodeName === nodeInfo.name) return undefined;
    return new Status('UnschedulableAndUnresolvable', ErrReasonNodeName);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{ resource: 'Node', actions: ['Add'] }];
  }
}
