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

const noneInsufficient: InsufficientResource[] = [];

/** fitsRequest: every resource the pod cannot get on the node, in upstream's order (pods, cpu, memory, storage). */
export function fitsRequest(request: Resource, nodeInfo: NodeInfo): InsufficientResource[] {
  const { allocatable, requested } = nodeInfo;
  // The common case, checked without allocating: everything fits.
  if (
    nodeInfo.pods.length + 1 <= allocatable.allowedPodNumber &&
    (request.milliCPU <= 0 || request.milliCPU <= allocatable.milliCPU - requested.milliCPU) &&
    (request.memory <= 0 || request.memory <= allocatable.memory - requested.memory) &&
    (request.ephemeralStorage <= 0 || request.ephemeralStorage <= allocatable.ephemeralStorage - requested.ephemeralStorage)
  ) {
    return noneInsufficient;
  }
  const insufficient: InsufficientResource[] = [];
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
    const { allocatable, nonZeroRequested } = nodeInfo;
    let nodeScore = 0;
    let weightSum = 0;
    // cpu, then memory, without allocating (this runs for every feasible node).
    if (allocatable.milliCPU !== 0) {
      nodeScore += leastRequestedScore(nonZeroRequested.milliCPU + request.milliCPU, allocatable.milliCPU);
      weightSum += 1;
    }
    if (allocatable.memory !== 0) {
      nodeScore += leastRequestedScore(nonZeroRequested.memory + request.memory, allocatable.memory);
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
