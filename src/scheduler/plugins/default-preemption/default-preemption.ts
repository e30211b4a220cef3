// DefaultPreemption's diagnosis (defaultpreemption + framework/preemption): which nodes evicting lower-priority pods
// could help. Strata does not evict yet, so the plugin reports what upstream reports when no candidate exists.
import type { Pod } from '../../../api/types.ts';
import { CycleState, Status, type PostFilterPlugin } from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import { FitError } from '../../errors.ts';
import * as names from '../names.ts';

export const ErrPreemptionNotHelpful = 'Preemption is not helpful for scheduling';
export const ErrNoVictims = 'No preemption victims found for incoming pod';

/** What the plugin needs from the scheduler: the nodes and the filters. */
export interface PreemptionHandle {
  nodeInfos(): NodeInfo[];
  runFilterPlugins(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined;
}

const priority = (pod: Pod): number => pod.spec.priority ?? 0;

export class DefaultPreemptionPlugin implements PostFilterPlugin {
  readonly name = names.DefaultPreemption;
  private readonly handle: PreemptionHandle;

  constructor(handle: PreemptionHandle) {
    this.handle = handle;
  }

  postFilter(state: CycleState, pod: Pod, nodeToStatus: Map<string, Status>): Status | undefined {
    if (pod.spec.preemptionPolicy === 'Never') return new Status('Unschedulable', 'preemption: not eligible due to preemptionPolicy=Never.');
    const allNodes = this.handle.nodeInfos();
    if (allNodes.length === 0) return Status.error('preemption: no nodes available');
    const statuses = new Map<string, Status>();
    let candidates = 0;
    for (const nodeInfo of allNodes) {
      const status = nodeToStatus.get(nodeInfo.name);
      // nodesWherePreemptionMightHelp: an unresolvable rejection stays one whatever is evicted.
      if (status?.code === 'UnschedulableAndUnresolvable') {
        statuses.set(nodeInfo.name, new Status('UnschedulableAndUnresolvable', ErrPreemptionNotHelpful));
        continue;
      }
      const dryRun = this.selectVictimsOnNode(state, pod, nodeInfo);
      if (dryRun) statuses.set(nodeInfo.name, dryRun);
      else candidates++;
    }
    // A node where eviction would help needs real preemption, which Strata does not perform: no message, as
    // upstream prints none once it found candidates.
    if (candidates > 0) return new Status('Unschedulable');
    const fitError = new FitError(statuses.size, {
      nodeToStatus: statuses,
      unschedulablePlugins: new Set(),
      preFilterMsg: '',
      postFilterMsg: '',
    });
    return new Status('Unschedulable', `preemption: ${fitError.message}`.replace(/\.$/, ''));
  }

  /** SelectVictimsOnNode's verdict: undefined when evicting all lower-priority pods would make the pod fit. */
  private selectVictimsOnNode(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    const victims = nodeInfo.pods.filter((p) => priority(p.pod) < priority(pod));
    if (victims.length === 0) return new Status('UnschedulableAndUnresolvable', ErrNoVictims);
    const trial = nodeInfo.clone();
    for (const v of victims) trial.removePod(v.pod);
    return this.handle.runFilterPlugins(state, pod, trial);
  }
}
