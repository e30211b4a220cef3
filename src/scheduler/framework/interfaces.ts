// The scheduling framework's vocabulary (pkg/scheduler/framework/interface.go, cycle_state.go, types.go):
// statuses, the cycle state, the plugin extension points and the cluster events that re-queue pods.
import type { Pod } from '../../api/types.ts';
import type { NodeInfo } from './node-info.ts';

export type StatusCode = 'Success' | 'Error' | 'Unschedulable' | 'UnschedulableAndUnresolvable' | 'Wait' | 'Skip';

/** framework.Status. A plugin returns undefined for Success, as upstream returns nil. */
export class Status {
  readonly code: StatusCode;
  readonly reasons: string[];
  plugin = '';
  /** Beyond upstream: structured detail for the scheduling diagnosis (strata explain). */
  detail?: unknown;
  constructor(code: StatusCode, ...reasons: string[]) {
    this.code = code;
    this.reasons = reasons;
  }
  /** framework.AsStatus(err). */
  static error(err: unknown): Status {
    return new Status('Error', err instanceof Error ? err.message : String(err));
  }
  message(): string {
    return this.reasons.join(', ');
  }
  isSuccess(): boolean {
    return this.code === 'Success';
  }
  isSkip(): boolean {
    return this.code === 'Skip';
  }
  /** Unschedulable or UnschedulableAndUnresolvable. */
  isRejected(): boolean {
    return this.code === 'Unschedulable' || this.code === 'UnschedulableAndUnresolvable';
  }
  withPlugin(plugin: string): this {
    this.plugin = plugin;
    return this;
  }
  withDetail(detail: unknown): this {
    this.detail = detail;
    return this;
  }
}

export const isSuccess = (s: Status | undefined): boolean => !s || s.isSuccess();

/** Per-cycle plugin state (CycleState), keyed by plugin-chosen keys. */
export class CycleState {
  private readonly data = new Map<string, unknown>();
  write(key: string, value: unknown): void {
    this.data.set(key, value);
  }
  read<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }
}

/** The per-node filter statuses and the messages of a failed scheduling attempt. */
export interface Diagnosis {
  nodeToStatus: Map<string, Status>;
  unschedulablePlugins: Set<string>;
  preFilterMsg: string;
  postFilterMsg: string;
}

export interface Plugin {
  readonly name: string;
}

export interface PreFilterPlugin extends Plugin {
  preFilter(state: CycleState, pod: Pod, nodes: NodeInfo[]): Status | undefined;
}
export interface FilterPlugin extends Plugin {
  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined;
  /** Beyond upstream: structured reasons for a node this plugin rejected, computed only when a pod fails. */
  explainFilter?(state: CycleState, pod: Pod, nodeInfo: NodeInfo): unknown;
}
export interface PostFilterPlugin extends Plugin {
  postFilter(state: CycleState, pod: Pod, nodeToStatus: Map<string, Status>): Status | undefined;
}
export interface PreScorePlugin extends Plugin {
  preScore(state: CycleState, pod: Pod, nodes: NodeInfo[]): Status | undefined;
}
export interface ScorePlugin extends Plugin {
  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number;
  /** Scales raw scores into [0, MaxNodeScore] in place. */
  normalizeScore?(state: CycleState, pod: Pod, scores: NodeScore[]): void;
}
export interface ReservePlugin extends Plugin {
  reserve(state: CycleState, pod: Pod, nodeName: string): Status | undefined;
  unreserve(state: CycleState, pod: Pod, nodeName: string): void;
}
export interface PreBindPlugin extends Plugin {
  preBind(state: CycleState, pod: Pod, nodeName: string, signal: AbortSignal): Promise<Status | undefined>;
}
export interface BindPlugin extends Plugin {
  bind(state: CycleState, pod: Pod, nodeName: string): Promise<Status | undefined>;
}
export interface EnqueueExtensions extends Plugin {
  /** The cluster events after which a pod this plugin rejected may fit (EventsToRegister with queueing hints). */
  eventsToRegister(): ClusterEventWithHint[];
}

export const MaxNodeScore = 100;
export const MinNodeScore = 0;

export interface NodeScore {
  name: string;
  score: number;
}
export interface NodePluginScores {
  name: string;
  scores: Array<{ plugin: string; score: number }>;
  totalScore: number;
}

// ---- cluster events ----

export type EventResource =
  | 'Pod' | 'AssignedPod' | 'Node' | 'PersistentVolume' | 'PersistentVolumeClaim' | 'StorageClass' | 'CSINode'
  | 'CSIDriver' | 'CSIStorageCapacity';
export type ActionType =
  | 'Add' | 'Delete' | 'Update' | 'UpdateNodeAllocatable' | 'UpdateNodeLabel' | 'UpdateNodeTaint' | 'UpdateNodeCondition'
  | 'UpdatePodLabel' | 'UpdatePodScaleDown' | 'UpdatePodTolerations';

export interface ClusterEvent {
  resource: EventResource;
  action: ActionType;
  /** For the log and the diagnosis, e.g. "NodeAdd". */
  label: string;
}

/** QueueingHint: whether the event may make the rejected pod schedulable. */
export type QueueingHint = 'Queue' | 'QueueSkip';
export type QueueingHintFn = (pod: Pod, oldObj: unknown, newObj: unknown) => QueueingHint;

export interface ClusterEventWithHint {
  resource: EventResource;
  /** Actions that match; 'Update' also matches the specific node/pod update actions. */
  actions: ActionType[];
  hint?: QueueingHintFn;
}
