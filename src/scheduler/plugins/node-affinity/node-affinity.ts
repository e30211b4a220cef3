// NodeAffinity: spec.nodeSelector and required node affinity (filter); preferred terms' weights (score).
import type { Node, Pod } from '../../../api/types.ts';
import { podMatchesNodeSelectorAndAffinity, preferredSchedulingTermsScore } from '../../../api/node-affinity.ts';
import {
  CycleState,
  MaxNodeScore,
  Status,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type NodeScore,
  type PreScorePlugin,
  type ScorePlugin,
} from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import { defaultNormalizeScore } from '../helper.ts';
import * as names from '../names.ts';

export const ErrReasonPod = "node(s) didn't match Pod's node affinity/selector";

export class NodeAffinityPlugin implements FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.NodeAffinity;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    return podMatchesNodeSelectorAndAffinity(pod, nodeInfo.node) ? undefined : new Status('UnschedulableAndUnresolvable', ErrReasonPod);
  }

  preScore(_state: CycleState, pod: Pod): Status | undefined {
    const preferred = pod.spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    return preferred?.length ? undefined : new Status('Skip');
  }

  score(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    return preferredSchedulingTermsScore(pod.spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution, nodeInfo.node);
  }

  normalizeScore(_state: CycleState, _pod: Pod, scores: NodeScore[]): void {
    defaultNormalizeScore(MaxNodeScore, false, scores);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{
      resource: 'Node',
      actions: ['Add', 'UpdateNodeLabel'],
      hint: (pod, _old, node) => (podMatchesNodeSelectorAndAffinity(pod, node as Node) ? 'Queue' : 'QueueSkip'),
    }];
  }
}
