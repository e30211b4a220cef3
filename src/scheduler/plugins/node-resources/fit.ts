// NodeResourcesFit: the pod's requests must fit the node's allocatable minus what its pods request (filter); the
// LeastAllocated strategy prefers emptier nodes (score, cpu and memory with weight 1 each).
import type { Node, Pod } from '../../../api/types.ts';
import {
  CycleState,
  MaxNodeScore,
  Status,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../../framework/interfaces.ts';
import { NodeInfo, podRequests, type Resource } from '../../framework/node-info.ts';
import * as names from '../names.ts';

const preFilterStateKey = 'PreFilter' + names.NodeResourcesFit;
const preScoreStateKey = 'PreScore' + names.NodeResourcesFit;

export interface InsufficientResource {
  resourceName: string;
  reason: string;
  requested: number;
  used: number;
  capacity: number;
  /** The request exceeds the whole node: evicting pods cannot help. */
  unresolvable: boolean;
}

/** fitsRequest: every resource the pod cannot get on the node, in upstream's order (pods, cpu, memory, storage). */
export function fitsRequest(request: Resource, nodeInfo: NodeInfo): InsufficientResource[] {
  const insufficient: InsufficientResource[] = [];
  const { allocatable, requested } = nodeInfo;
  if (nodeInfo.pods.length + 1 > allocatable.allowedPodNumber) {
    insufficient.push({
      resourceName: 'pods', reason: 'Too many pods', requested: 1, used: nodeInfo.pods.length,
      capacity: allocatable.allowedPodNumber, unresolvable: false,
    });
  }
  const checks: Array<[keyof Resource, string]> = [['milliCPU', 'cpu'], ['memory', 'memory'], ['ephemeralStorage', 'ephemeral-storage']];
  for (const [field, resourceName] of checks) {
    const want = request[field];
    if (want > 0 && want > allocatable[field] - requested[field]) {
      insufficient.push({
        resourceName, reason: `Insufficient ${resourceName}`, requested: want, used: requested[field],
        capacity: allocatable[field], unresolvable: want > allocatable[field],
      });
    }
  }
  return insufficient;
}

/** leastRequestedScore: the free share of the resource after placing the pod, 0..100. */
function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MaxNodeScore) / capacity);
}

/** The node's allocatable and the requests after placing the pod, for cpu and memory. */
export function resourceAllocation(nodeInfo: NodeInfo, podRequest: Resource, useRequested: boolean): Array<{ requested: number; allocatable: number }> {
  const base = useRequested ? nodeInfo.requested : nodeInfo.nonZeroRequested;
  return (['milliCPU', 'memory'] as const).map((field) => ({
    requested: base[field] + podRequest[field],
    allocatable: nodeInfo.allocatable[field],
  }));
}

export class NodeResourcesFitPlugin implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.NodeResourcesFit;

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    state.write(preFilterStateKey, podRequests(pod));
    return undefined;
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    const request = state.read<Resource>(preFilterStateKey) ?? podRequests(pod);
    const insufficient = fitsRequest(request, nodeInfo);
    if (insufficient.length === 0) return undefined;
    const code = insufficient.some((r) => r.unresolvable) ? 'UnschedulableAndUnresolvable' : 'Unschedulable';
    return new Status(code, ...insufficient.map((r) => r.reason));
  }

  preScore(state: CycleState, pod: Pod): Status | undefined {
    state.write(preScoreStateKey, podRequests(pod, true));
    return undefined;
  }

  /** LeastAllocated over cpu and memory (weights 1), on the non-zero requests. */
  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const request = state.read<Resource>(preScoreStateKey) ?? podRequests(pod, true);
    let nodeScore = 0;
    let weightSum = 0;
    for (const { requested, allocatable } of resourceAllocation(nodeInfo, request, false)) {
      if (allocatable === 0) continue;
      nodeScore += leastRequestedScore(requested, allocatable);
      weightSum += 1;
    }
    return weightSum === 0 ? 0 : Math.trunc(nodeScore / weightSum);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { resource: 'AssignedPod', actions: ['Delete', 'UpdatePodScaleDown'] },
      {
        resource: 'Node',
        actions: ['Add', 'UpdateNodeAllocatable'],
        // isSchedulableAfterNodeChange: only whether the pod could ever fit the node's allocatable.
        hint: (pod, _old, node) => {
          const info = new NodeInfo(node as Node);
          return fitsRequest(podRequests(pod), info).some((r) => r.unresolvable) ? 'QueueSkip' : 'Queue';
        },
      },
    ];
  }
}
