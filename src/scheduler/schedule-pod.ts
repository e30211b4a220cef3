// One pod's node choice (pkg/scheduler/schedule_one.go: schedulePod, findNodesThatFitPod, prioritizeNodes,
// selectHost): filter the nodes starting where the previous pod stopped, score the feasible ones, pick the best.
import type { Pod } from '../api/types.ts';
import { CycleState, Status, type Diagnosis, type NodePluginScores } from './framework/interfaces.ts';
import type { NodeInfo } from './framework/node-info.ts';
import type { Framework } from './framework/runtime.ts';
import { FitError, NoNodesAvailableError } from './errors.ts';

// numFeasibleNodesToFind's constants.
const minFeasibleNodesToFind = 100;
const minFeasibleNodesPercentageToFind = 5;

export interface ScheduleResult {
  suggestedHost: string;
  evaluatedNodes: number;
  feasibleNodes: number;
}

export type ScheduleOutcome =
  | { kind: 'scheduled'; result: ScheduleResult }
  | { kind: 'unschedulable'; fitError: FitError }
  | { kind: 'error'; error: Error };

export function newDiagnosis(): Diagnosis {
  return { nodeToStatus: new Map(), unschedulablePlugins: new Set(), preFilterMsg: '', postFilterMsg: '' };
}

/** How many feasible nodes are enough: all below 100 nodes, else an adaptive percentage (50% - nodes/125, >= 5%). */
export function numFeasibleNodesToFind(numAllNodes: number, percentageOfNodesToScore = 0): number {
  if (numAllNodes < minFeasibleNodesToFind) return numAllNodes;
  let percentage = percentageOfNodesToScore;
  if (percentage === 0) percentage = Math.max(50 - Math.trunc(numAllNodes / 125), minFeasibleNodesPercentageToFind);
  const numNodes = Math.trunc((numAllNodes * percentage) / 100);
  return Math.max(numNodes, minFeasibleNodesToFind);
}

/**
 * selectHost: the highest total score; among equal scores each node is equally likely (reservoir sampling, one pass).
 * `random(n)` returns an integer in [0, n).
 */
export function selectHost(scores: NodePluginScores[], random: (n: number) => number): string {
  if (scores.length === 0) throw new Error('empty priorityList');
  let selected = scores[0]!;
  let maxCount = 1;
  for (const candidate of scores.slice(1)) {
    if (candidate.totalScore > selected.totalScore) {
      selected = candidate;
      maxCount = 1;
    } else if (candidate.totalScore === selected.totalScore) {
      maxCount++;
      // Replace the candidate with probability 1/maxCount.
      if (random(maxCount) === 0) selected = candidate;
    }
  }
  return selected.name;
}

export const defaultRandom = (n: number): number => Math.floor(Math.random() * n);

export interface SchedulePodOptions {
  percentageOfNodesToScore?: number;
  random?: (n: number) => number;
}

/** Schedules pods one at a time against the node list; remembers where the last search stopped. */
export class PodScheduler {
  private nextStartNodeIndex = 0;
  private readonly fwk: Framework;
  private readonly percentageOfNodesToScore: number;
  private readonly random: (n: number) => number;

  constructor(fwk: Framework, options: SchedulePodOptions = {}) {
    this.fwk = fwk;
    this.percentageOfNodesToScore = options.percentageOfNodesToScore ?? 0;
    this.random = options.random ?? defaultRandom;
  }

  schedulePod(state: CycleState, pod: Pod, nodes: NodeInfo[]): ScheduleOutcome {
    if (nodes.length === 0) return { kind: 'error', error: new NoNodesAvailableError() };
    const diagnosis = newDiagnosis();
    const found = this.findNodesThatFitPod(state, pod, nodes, diagnosis);
    if (found instanceof Error) return { kind: 'error', error: found };
    if (found.length === 0) return { kind: 'unschedulable', fitError: new FitError(nodes.length, diagnosis) };
    const evaluatedNodes = found.length + diagnosis.nodeToStatus.size;
    if (found.length === 1) {
      return { kind: 'scheduled', result: { suggestedHost: found[0]!.name, evaluatedNodes, feasibleNodes: 1 } };
    }
    try {
      const scores = this.prioritizeNodes(state, pod, found);
      if (scores instanceof Status) return { kind: 'error', error: new Error(scores.message()) };
      return { kind: 'scheduled', result: { suggestedHost: selectHost(scores, this.random), evaluatedNodes, feasibleNodes: found.length } };
    } catch (err) {
      return { kind: 'error', error: err as Error };
    }
  }

  private findNodesThatFitPod(state: CycleState, pod: Pod, nodes: NodeInfo[], diagnosis: Diagnosis): NodeInfo[] | Error {
    const pre = this.fwk.runPreFilterPlugins(state, pod, nodes);
    diagnosis.unschedulablePlugins = pre.unschedulablePlugins;
    if (pre.status && !pre.status.isSuccess()) {
      if (!pre.status.isRejected()) return new Error(pre.status.message());
      // Every node gets the PreFilter status, so that preemption sees it; the message is the PreFilter's alone.
      for (const n of nodes) diagnosis.nodeToStatus.set(n.name, pre.status);
      diagnosis.preFilterMsg = pre.status.message();
      return [];
    }
    const numAllNodes = nodes.length;
    const numNodesToFind = numFeasibleNodesToFind(numAllNodes, this.percentageOfNodesToScore);
    const feasible: NodeInfo[] = [];
    let processed = 0;
    for (let i = 0; i < numAllNodes && feasible.length < numNodesToFind; i++) {
      const nodeInfo = nodes[(this.nextStartNodeIndex + i) % numAllNodes]!;
      const status = this.fwk.runFilterPlugins(state, pod, nodeInfo);
      processed++;
      if (!status || status.isSuccess()) {
        feasible.push(nodeInfo);
        continue;
      }
      if (status.code === 'Error') return new Error(status.message());
      diagnosis.nodeToStatus.set(nodeInfo.name, status);
      diagnosis.unschedulablePlugins.add(status.plugin);
    }
    this.nextStartNodeIndex = (this.nextStartNodeIndex + processed) % numAllNodes;
    return feasible;
  }

  private prioritizeNodes(state: CycleState, pod: Pod, nodes: NodeInfo[]): NodePluginScores[] | Status {
    if (this.fwk.scorePlugins.length === 0) return nodes.map((n) => ({ name: n.name, scores: [], totalScore: 1 }));
    const pre = this.fwk.runPreScorePlugins(state, pod, nodes);
    if (pre) return pre;
    return this.fwk.runScorePlugins(state, pod, nodes);
  }
}
