// NodePorts: a container's hostPort must be free on the node.
import type { ContainerPort, Pod } from '../../../api/types.ts';
import { CycleState, Status, type ClusterEventWithHint, type EnqueueExtensions, type FilterPlugin, type PreFilterPlugin } from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import * as names from '../names.ts';

export const ErrReasonNodePorts = "node(s) didn't have free ports for the requested pod ports";
const preFilterStateKey = 'PreFilter' + names.NodePorts;

const hostPorts = (pod: Pod): ContainerPort[] =>
  (pod.spec.containers ?? []).flatMap((c) => (c.ports ?? []).filter((p) => (p.hostPort ?? 0) > 0));

export class NodePortsPlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = names.NodePorts;

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    const ports = hostPorts(pod);
    if (ports.length === 0) return new Status('Skip');
    state.write(preFilterStateKey, ports);
    return undefined;
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    const ports = state.read<ContainerPort[]>(preFilterStateKey) ?? hostPorts(pod);
    const conflict = ports.some((p) => nodeInfo.usedPorts.conflicts(p.hostIP, p.protocol, p.hostPort!));
    return conflict ? new Status('Unschedulable', ErrReasonNodePorts) : undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { resource: 'AssignedPod', actions: ['Delete'] },
      { resource: 'Node', actions: ['Add'] },
    ];
  }
}
