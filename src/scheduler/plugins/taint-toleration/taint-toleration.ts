// TaintToleration: NoSchedule/NoExecute taints must be tolerated (filter); untolerated PreferNoSchedule taints lower
// the score (normalized in reverse).
import type { Node, Pod, Toleration } from '../../../api/types.ts';
import { doNotScheduleTaint, findUntoleratedTaint, tolerationsTolerateTaint } from '../../../api/taints.ts';
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

const preScoreStateKey = 'PreScore' + names.TaintToleration;

export class TaintTolerationPlugin implements FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.TaintToleration;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    const taints = nodeInfo.node.spec?.taints;
    if (!taints || taints.length === 0) return undefined;
    const taint = findUntoleratedTaint(taints, pod.spec.tolerations ?? [], doNotScheduleTaint);
    if (!taint) return undefined;
    return new Status('UnschedulableAndUnresolvable', `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
  }

  preScore(state: CycleState, pod: Pod): Status | undefined {
    // An empty effect tolerates every effect, PreferNoSchedule included.
    const tolerations = (pod.spec.tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
    state.write(preScoreStateKey, tolerations);
    return undefined;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const tolerations = state.read<Toleration[]>(preScoreStateKey) ?? pod.spec.tolerations ?? [];
    let count = 0;
    for (const taint of nodeInfo.node.spec?.taints ?? []) {
      if (taint.effect === 'PreferNoSchedule' && !tolerationsTolerateTaint(tolerations, taint)) count++;
    }
    return count;
  }

  normalizeScore(_state: CycleState, _pod: Pod, scores: NodeScore[]): void {
    defaultNormalizeScore(MaxNodeScore, true, scores);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        resource: 'Node',
        actions: ['Add', 'UpdateNodeTaint'],
        hint: (pod, _old, node) =>
          findUntoleratedTaint((node as Node).spec?.taints ?? [], pod.spec.tolerations ?? [], doNotScheduleTaint) ? 'QueueSkip' : 'Queue',
      },
      { resource: 'Pod', actions: ['UpdatePodTolerations'] },
    ];
  }
}
