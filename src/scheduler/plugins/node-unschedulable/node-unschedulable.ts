// NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods tolerating its taint.
import type { Node, Pod } from '../../../api/types.ts';
import { TaintNodeUnschedulable, tolerationsTolerateTaint } from '../../../api/taints.ts';
import { Status, type ClusterEventWithHint, type EnqueueExtensions, type FilterPlugin } from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import * as names from '../names.ts';

export const ErrReasonUnschedulable = 'node(s) were unschedulable';

export class NodeUnschedulablePlugin implements FilterPlugin, EnqueueExtensions {
  readonly name = names.NodeUnschedulable;

  filter(_state: unknown, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    if (!nodeInfo.node.spec?.unschedulable) return undefined;
    // A pod tolerating the unschedulable taint also tolerates spec.unschedulable.
    if (tolerationsTolerateTaint(pod.spec.tolerations, { key: TaintNodeUnschedulable, effect: 'NoSchedule' })) return undefined;
    return new Status('UnschedulableAndUnresolvable', ErrReasonUnschedulable);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{
      resource: 'Node',
      actions: ['Add', 'UpdateNodeTaint'],
      hint: (_pod, _old, node) => ((node as Node).spec?.unschedulable ? 'QueueSkip' : 'Queue'),
    }];
  }
}
