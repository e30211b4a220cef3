// Pod status as the kubelet computes it (pkg/kubelet/status/generate.go and kubelet_pods.go getPhase): phase from
// the container statuses, the kubelet-owned conditions with upstream's reasons and messages. Pure functions.
import type { Container, ContainerStatus, Pod, PodCondition, PodStatus } from '../api/types.ts';

// Container state reasons (kubelet and CRI).
export const ContainerCreating = 'ContainerCreating';
export const PodInitializing = 'PodInitializing';
export const CrashLoopBackOff = 'CrashLoopBackOff';
export const Completed = 'Completed';
export const ErrorReason = 'Error';
/** A container found gone after the node agent restarted (as containerd reports one lost in a node reboot). */
export const UnknownReason = 'Unknown';

// Condition reasons (generate.go).
export const PodCompleted = 'PodCompleted';
export const PodFailed = 'PodFailed';
export const ContainersNotReady = 'ContainersNotReady';
export const ContainersNotInitialized = 'ContainersNotInitialized';

export type WaitingState = {
  reason: string;
  message?: string;
};
export type RunningState = {
  startedAt: string;
};
export type TerminatedState = {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
  containerID?: string;
};
export type ContainerState = {
  waiting?: WaitingState;
  running?: RunningState;
  terminated?: TerminatedState;
};

/** A ContainerStatus with its states typed (type aliases, so they fit ContainerStatus's record types). */
export interface TypedContainerStatus extends ContainerStatus {
  state: ContainerState;
  lastState: ContainerState;
}

type Phase = NonNullable<PodStatus['phase']>;

/** Go's %v of a []string: "[a b]". */
export function goList(items: string[]): string {
  return `[${items.join(' ')}]`;
}

/** Go's time.Duration String() for whole-second-or-more and millisecond durations: 10s, 1m20s, 5m0s, 250ms. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const totalSeconds = ms / 1000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = Number((totalSeconds % 60).toFixed(3));
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

function statusOf(statuses: ContainerStatus[], name: string): TypedContainerStatus | undefined {
  return statuses.find((s) => s.name === name) as TypedContainerStatus | undefined;
}

/** getPhase for a pod without restartable (sidecar) init containers, with the ContainerRestartRules gate off. */
export function podPhase(pod: Pod, initStatuses: ContainerStatus[], statuses: ContainerStatus[]): Phase {
  const spec = pod.spec;
  let pendingInit = 0;
  let failedInit = 0;
  for (const c of spec.initContainers ?? []) {
    const s = statusOf(initStatuses, c.name);
    if (!s) {
      pendingInit++;
    } else if (s.state.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.state.waiting && s.lastState?.terminated) {
      if (s.lastState.terminated.exitCode !== 0) failedInit++;
    } else {
      pendingInit++;
    }
  }
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of spec.containers) {
    const s = statusOf(statuses, c.name);
    if (!s) unknown++;
    else if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else unknown++;
  }
  if (failedInit > 0 && spec.restartPolicy === 'Never') return 'Failed';
  if (pendingInit > 0 || waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (spec.restartPolicy === 'Always' || spec.restartPolicy === undefined) return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (spec.restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

/** The phase of a pod whose containers were all stopped for good (deleted): getPhase with podIsTerminal. */
export function terminalPhase(statuses: ContainerStatus[]): 'Succeeded' | 'Failed' {
  const ok = statuses.every((s) => (s as TypedContainerStatus).state.terminated?.exitCode === 0);
  return ok ? 'Succeeded' : 'Failed';
}

type Cond = Omit<PodCondition, 'lastTransitionTime' | 'lastProbeTime'>;

export function containersReadyCondition(pod: Pod, statuses: ContainerStatus[], phase: Phase): Cond {
  const unknown: string[] = [];
  const unready: string[] = [];
  for (const c of pod.spec.containers) {
    const s = statusOf(statuses, c.name);
    if (!s) unknown.push(c.name);
    else if (!s.ready) unready.push(c.name);
  }
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'ContainersReady', status: 'False', reason: PodCompleted };
  if (phase === 'Failed') return { type: 'ContainersReady', status: 'False', reason: PodFailed };
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (unready.length > 0) messages.push(`containers with unready status: ${goList(unready)}`);
  if (messages.length > 0) return { type: 'ContainersReady', status: 'False', reason: ContainersNotReady, message: messages.join(', ') };
  return { type: 'ContainersReady', status: 'True' };
}

export function readyCondition(pod: Pod, statuses: ContainerStatus[], phase: Phase): Cond {
  const containersReady = containersReadyCondition(pod, statuses, phase);
  return { ...containersReady, type: 'Ready' };
}

export function initializedCondition(pod: Pod, initStatuses: ContainerStatus[], statuses: ContainerStatus[], phase: Phase): Cond {
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const c of pod.spec.initContainers ?? []) {
    const s = statusOf(initStatuses, c.name);
    if (!s) unknown.push(c.name);
    else if (!s.ready) incomplete.push(c.name);
  }
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'Initialized', status: 'True', reason: PodCompleted };
  // A regular container that has started means the pod was initialized before.
  const anyStarted = pod.spec.containers.some((c) => {
    const s = statusOf(statuses, c.name);
    return s !== undefined && (s.state.running !== undefined || s.state.terminated !== undefined || s.lastState?.terminated !== undefined);
  });
  if (anyStarted) return { type: 'Initialized', status: 'True' };
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (incomplete.length > 0) messages.push(`containers with incomplete status: ${goList(incomplete)}`);
  if (messages.length > 0) return { type: 'Initialized', status: 'False', reason: ContainersNotInitialized, message: messages.join(', ') };
  return { type: 'Initialized', status: 'True' };
}

/**
 * The kubelet-owned conditions in kubectl's order, with lastTransitionTime kept from the previous status when a
 * condition's status did not change (the first of `previous` with a type counts); conditions owned by others (e.g.
 * DisruptionTarget) are kept as they were.
 */
export function podConditions(
  pod: Pod,
  initStatuses: ContainerStatus[],
  statuses: ContainerStatus[],
  phase: Phase,
  sandboxReady: boolean,
  previous: PodCondition[],
  now: string,
): PodCondition[] {
  const owned: Cond[] = [
    { type: 'PodReadyToStartContainers', status: sandboxReady ? 'True' : 'False' },
    initializedCondition(pod, initStatuses, statuses, phase),
    readyCondition(pod, statuses, phase),
    containersReadyCondition(pod, statuses, phase),
    { type: 'PodScheduled', status: 'True' },
  ];
  const result: PodCondition[] = owned.map((c) => {
    const old = previous.find((p) => p.type === c.type);
    const lastTransitionTime = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now;
    const cond: PodCondition = { type: c.type, status: c.status, lastProbeTime: null, lastTransitionTime };
    if (c.reason) cond.reason = c.reason;
    if (c.message) cond.message = c.message;
    return cond;
  });
  for (const p of previous) if (!result.some((c) => c.type === p.type)) result.push(p);
  return result;
}

/** The container state a container is in before it first runs. */
export function initialWaitingReason(pod: Pod): string {
  return (pod.spec.initContainers?.length ?? 0) > 0 ? PodInitializing : ContainerCreating;
}

/** restartPolicy says this container, having exited with exitCode, is started again. */
export function shouldRestart(pod: Pod, exitCode: number): boolean {
  const policy = pod.spec.restartPolicy ?? 'Always';
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}

/** Terminated reason the CRI gives an exit code. */
export function terminatedReason(exitCode: number): string {
  return exitCode === 0 ? Completed : ErrorReason;
}

/** Init containers restart on failure unless restartPolicy is Never (they never restart after success). */
export function shouldRestartInit(pod: Pod, exitCode: number): boolean {
  return exitCode !== 0 && pod.spec.restartPolicy !== 'Never';
}

/** The command a container runs as a real process, or undefined for a simulated one (no command). */
export function containerCommand(c: Container): string[] | undefined {
  if (!c.command || c.command.length === 0) return undefined;
  return [...c.command, ...(c.args ?? [])];
}
