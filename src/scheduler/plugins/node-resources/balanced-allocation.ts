// NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory would be used in equal shares.
import type { Pod } from '../../../api/types.ts';
import { CycleState, MaxNodeScore, Status, type PreScorePlugin, type ScorePlugin } from '../../framework/interfaces.ts';
import { podRequests, type NodeInfo, type Resource } from '../../framework/node-info.ts';
import * as names from '../names.ts';

const preScoreStateKey = 'PreScore' + names.NodeResourcesBalancedAllocation;

/** balancedResourceScorer: (1 - standard deviation of the used fractions) * 100. */
export function balancedResourceScore(resources: Array<{ requested: number; allocatable: number }>): number {
  const fractions: number[] = [];
  for (const { requested, allocatable } of resources) {
    if (allocatable === 0) continue;
    fractions.push(Math.min(requested / allocatable, 1));
  }
  if (fractions.length === 2) return balancedPairScore(fractions[0]!, fractions[1]!);
  let std = 0;
  if (fractions.length > 2) {
    const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
    std = Math.sqrt(fractions.reduce((sum, f) => sum + (f - mean) ** 2, 0) / fractions.length);
  }
  return Math.trunc((1 - std) * MaxNodeScore);
}

/** Two used fractions: their standard deviation is half their difference. */
function balancedPairScore(a: number, b: number): number {
  return Math.trunc((1 - Math.abs((a - b) / 2)) * MaxNodeScore);
}

export class NodeResourcesBalancedAllocationPlugin implements PreScorePlugin, ScorePlugin {
  readonly name = names.NodeResourcesBalancedAllocation;

  preScore(state: CycleState, pod: Pod): Status | undefined {
    const request = podRequests(pod);
    // A best-effort pod changes no balance.
    if (request.milliCPU === 0 && request.memory === 0) return new Status('Skip');
    state.write(preScoreStateKey, request);
    return undefined;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const request = state.read<Resource>(preScoreStateKey) ?? podRequests(pod);
    const { allocatable, requested } = nodeInfo;
    // Both resources known (the common case): scored without allocating.
    if (allocatable.milliCPU === 0 || allocatable.memory === 0) {
      return balancedResourceScore([
        { requested: requested.milliCPU + request.milliCPU, allocatable: allocatable.milliCPU },
        { requested: requested.memory + request.memory, allocatable: allocatable.memory },
      ]);
    }
    const cpu = Math.min((requested.milliCPU + request.milliCPU) / allocatable.milliCPU, 1);
    const memory = Math.min((requested.memory + request.memory) / allocatable.memory, 1);
    return balancedPairScore(cpu, memory);
  }
}
