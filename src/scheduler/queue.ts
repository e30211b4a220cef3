// The scheduling queue (pkg/scheduler/backend/queue/scheduling_queue.go): activeQ ordered by priority then time,
// backoffQ ordered by backoff expiry, and the unschedulable pods, which wait for a cluster event that one of the
// plugins that rejected them registered (queueing hints), or for the periodic flush.
import type { Pod } from '../api/types.ts';
import type { ClusterEvent, ClusterEventWithHint, EnqueueExtensions } from './framework/interfaces.ts';
import { podKey } from './framework/node-info.ts';

export interface QueuedPodInfo {
  pod: Pod;
  /** When the pod was added to a queue (last time). */
  timestamp: number;
  initialAttemptTimestamp?: number;
  attempts: number;
  /** Plugins that rejected the pod in its last attempt; empty after an error. */
  unschedulablePlugins: Set<string>;
}

export interface SchedulingQueueOptions {
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  /** podMaxInUnschedulablePodsDuration: after this an unschedulable pod is retried anyway. */
  podMaxInUnschedulablePodsMs?: number;
  now?: () => number;
}

/** A binary heap with a key index so that entries can be updated and deleted. */
class Heap {
  private readonly items: QueuedPodInfo[] = [];
  private readonly index = new Map<string, number>();
  private readonly less: (a: QueuedPodInfo, b: QueuedPodInfo) => boolean;
  constructor(less: (a: QueuedPodInfo, b: QueuedPodInfo) => boolean) {
    this.less = less;
  }
  get size(): number {
    return this.items.length;
  }
  has(key: string): boolean {
    return this.index.has(key);
  }
  get(key: string): QueuedPodInfo | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.items[i];
  }
  peek(): QueuedPodInfo | undefined {
    return this.items[0];
  }
  list(): QueuedPodInfo[] {
    return [...this.items];
  }
  addOrUpdate(info: QueuedPodInfo): void {
    const key = podKey(info.pod);
    const i = this.index.get(key);
    if (i !== undefined) {
      this.items[i] = info;
      this.fix(i);
      return;
    }
    this.items.push(info);
    this.index.set(key, this.items.length - 1);
    this.up(this.items.length - 1);
  }
  delete(key: string): QueuedPodInfo | undefined {
    const i = this.index.get(key);
    if (i === undefined) return undefined;
    const removed = this.items[i]!;
    const last = this.items.pop()!;
    this.index.delete(key);
    if (i < this.items.length) {
      this.items[i] = last;
      this.index.set(podKey(last.pod), i);
      this.fix(i);
    }
    return removed;
  }
  pop(): QueuedPodInfo | undefined {
    const top = this.items[0];
    if (top) this.delete(podKey(top.pod));
    return top;
  }
  private fix(i: number): void {
    if (!this.up(i)) this.down(i);
  }
  private swap(i: number, j: number): void {
    const [a, b] = [this.items[i]!, this.items[j]!];
    this.items[i] = b;
    this.items[j] = a;
    this.index.set(podKey(b.pod), i);
    this.index.set(podKey(a.pod), j);
  }
  private up(i: number): boolean {
    const start = i;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.items[i]!, this.items[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
    return i !== start;
  }
  private down(i: number): void {
    for (;;) {
      const [l, r] = [2 * i + 1, 2 * i + 2];
      let smallest = i;
      if (l < this.items.length && this.less(this.items[l]!, this.items[smallest]!)) smallest = l;
      if (r < this.items.length && this.less(this.items[r]!, this.items[smallest]!)) smallest = r;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}

const priority = (pod: Pod): number => pod.spec.priority ?? 0;

interface InFlightEvent {
  event: ClusterEvent;
  oldObj: unknown;
  newObj: unknown;
}

/** Whether a registered event matches: 'Update' covers the specific update actions of its resource. */
function eventMatches(registered: ClusterEventWithHint, event: ClusterEvent): boolean {
  if (registered.resource !== event.resource) return false;
  if (registered.actions.includes(event.action)) return true;
  return event.action.startsWith('Update') && registered.actions.includes('Update');
}

export class SchedulingQueue {
  private readonly activeQ = new Heap((a, b) => {
    // PrioritySort: higher priority first, then the earlier timestamp.
    const [pa, pb] = [priority(a.pod), priority(b.pod)];
    return pa > pb || (pa === pb && a.timestamp < b.timestamp);
  });
  private readonly backoffQ = new Heap((a, b) => this.backoffExpiry(a) < this.backoffExpiry(b));
  private readonly unschedulablePods = new Map<string, QueuedPodInfo>();
  /**
   * Pods popped and not yet done (scheduling or binding), each with the sequence number of the first event it has to
   * see; in pop order, so the first one is the oldest. The events seen meanwhile are one shared log (upstream's
   * inFlightEvents list), trimmed as the oldest pods finish: recording an event costs the same for any number of pods.
   */
  private readonly inFlight = new Map<string, number>();
  private inFlightEvents: InFlightEvent[] = [];
  /** The sequence number of inFlightEvents[0]. */
  private inFlightEventsBase = 0;
  private readonly plugins: EnqueueExtensions[];
  private readonly podInitialBackoffMs: number;
  private readonly podMaxBackoffMs: number;
  private readonly podMaxInUnschedulablePodsMs: number;
  private readonly now: () => number;
  private schedulingCycle = 0;
  private closed = false;
  private waiters: Array<() => void> = [];
  private timers: NodeJS.Timeout[] = [];

  constructor(plugins: EnqueueExtensions[], options: SchedulingQueueOptions = {}) {
    this.plugins = plugins;
    this.podInitialBackoffMs = options.podInitialBackoffMs ?? 1000;
    this.podMaxBackoffMs = options.podMaxBackoffMs ?? 10_000;
    this.podMaxInUnschedulablePodsMs = options.podMaxInUnschedulablePodsMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Starts the periodic flushes (backoffQ every second, unschedulable pods every 30 s). */
  run(): void {
    this.timers.push(setInterval(() => this.flushBackoffQCompleted(), 1000).unref());
    this.timers.push(setInterval(() => this.flushUnschedulablePodsLeftover(), 30_000).unref());
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** calculateBackoffDuration: initial * 2^(attempts-1), capped at the maximum. */
  backoffDuration(info: QueuedPodInfo): number {
    if (info.attempts === 0) return 0;
    let duration = this.podInitialBackoffMs;
    for (let i = 1; i < info.attempts; i++) {
      if (duration > this.podMaxBackoffMs - duration) return this.podMaxBackoffMs;
      duration += duration;
    }
    return duration;
  }

  private backoffExpiry(info: QueuedPodInfo): number {
    return info.timestamp + this.backoffDuration(info);
  }

  private isPodBackingOff(info: QueuedPodInfo): boolean {
    return this.backoffExpiry(info) > this.now();
  }

  private newQueuedPodInfo(pod: Pod): QueuedPodInfo {
    return { pod, timestamp: this.now(), attempts: 0, unschedulablePlugins: new Set() };
  }

  private contains(key: string): boolean {
    return this.activeQ.has(key) || this.backoffQ.has(key) || this.unschedulablePods.has(key);
  }

  /** Add: a new pending pod goes to activeQ. */
  add(pod: Pod): void {
    const key = podKey(pod);
    this.backoffQ.delete(key);
    this.unschedulablePods.delete(key);
    const existing = this.activeQ.get(key);
    this.activeQ.addOrUpdate(existing ? { ...existing, pod } : this.newQueuedPodInfo(pod));
    this.wake();
  }

  /**
   * Update: refreshes a queued pod; an unschedulable pod whose spec, labels or annotations changed is retried
   * (backoffQ while backing off, else activeQ).
   */
  update(oldPod: Pod, newPod: Pod): void {
    const key = podKey(newPod);
    for (const q of [this.activeQ, this.backoffQ]) {
      const info = q.get(key);
      if (info) {
        q.addOrUpdate({ ...info, pod: newPod });
        return;
      }
    }
    const info = this.unschedulablePods.get(key);
    if (info) {
      const updated = { ...info, pod: newPod };
      if (!isPodUpdated(oldPod, newPod)) {
        this.unschedulablePods.set(key, updated);
        return;
      }
      this.unschedulablePods.delete(key);
      this.requeue(updated);
      return;
    }
    if (!this.inFlight.has(key)) this.add(newPod);
  }

  delete(pod: Pod): void {
    const key = podKey(pod);
    this.activeQ.delete(key);
    this.backoffQ.delete(key);
    this.unschedulablePods.delete(key);
  }

  /** Pop: waits for a pod in activeQ; undefined once closed. */
  async pop(): Promise<QueuedPodInfo | undefined> {
    while (this.activeQ.size === 0 && !this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.closed) return undefined;
    const info = this.activeQ.pop()!;
    info.attempts++;
    info.initialAttemptTimestamp ??= this.now();
    this.schedulingCycle++;
    this.inFlight.set(podKey(info.pod), this.inFlightEventsBase + this.inFlightEvents.length);
    return info;
  }

  /** Done: the pod's scheduling attempt is over (scheduled or re-queued). */
  done(pod: Pod): void {
    if (!this.inFlight.delete(podKey(pod))) return;
    // Forget the events no in-flight pod needs any more; trimmed in batches so that finishing a pod stays cheap.
    const oldest = this.inFlight.values().next();
    const firstNeeded = oldest.done ? this.inFlightEventsBase + this.inFlightEvents.length : oldest.value;
    const unneeded = firstNeeded - this.inFlightEventsBase;
    if (unneeded > 0 && (unneeded >= 1024 || unneeded * 2 >= this.inFlightEvents.length)) {
      this.inFlightEvents = this.inFlightEvents.slice(unneeded);
      this.inFlightEventsBase = firstNeeded;
    }
  }

  /** The events recorded since the pod was popped. */
  private eventsDuringFlight(key: string): InFlightEvent[] {
    const since = this.inFlight.get(key);
    return since === undefined ? [] : this.inFlightEvents.slice(since - this.inFlightEventsBase);
  }

  /**
   * AddUnschedulableIfNotPresent: after a failed attempt. A pod that failed with an error, or for which a relevant
   * event arrived while it was being scheduled, goes to backoffQ; others wait in the unschedulable pods.
   */
  addUnschedulableIfNotPresent(info: QueuedPodInfo): void {
    const key = podKey(info.pod);
    const eventsDuringFlight = this.eventsDuringFlight(key);
    this.done(info.pod);
    if (this.contains(key)) return;
    info.timestamp = this.now();
    const relevant = eventsDuringFlight.some((e) => this.podMatchesEvent(info, e.event, e.oldObj, e.newObj));
    if (info.unschedulablePlugins.size === 0 || relevant) this.backoffQ.addOrUpdate(info);
    else this.unschedulablePods.set(key, info);
  }

  /** Whether one of the plugins that rejected the pod registered the event, and its hint says Queue. */
  private podMatchesEvent(info: QueuedPodInfo, event: ClusterEvent, oldObj: unknown, newObj: unknown): boolean {
    // A pod that failed with an error is retried on any event.
    if (info.unschedulablePlugins.size === 0) return true;
    for (const plugin of this.plugins) {
      if (!info.unschedulablePlugins.has(plugin.name)) continue;
      for (const registered of plugin.eventsToRegister()) {
        if (!eventMatches(registered, event)) continue;
        if (!registered.hint || registered.hint(info.pod, oldObj, newObj) === 'Queue') return true;
      }
    }
    return false;
  }

  /** MoveAllToActiveOrBackoffQueue: re-queues the unschedulable pods the event may help. */
  moveAllToActiveOrBackoffQueue(event: ClusterEvent, oldObj?: unknown, newObj?: unknown, preCheck?: (pod: Pod) => boolean): void {
    for (const [key, info] of this.unschedulablePods) {
      if (preCheck && !preCheck(info.pod)) continue;
      if (!this.podMatchesEvent(info, event, oldObj, newObj)) continue;
      this.unschedulablePods.delete(key);
      this.requeue(info);
    }
    if (this.inFlight.size > 0) this.inFlightEvents.push({ event, oldObj, newObj });
  }

  private requeue(info: QueuedPodInfo): void {
    if (this.isPodBackingOff(info)) {
      this.backoffQ.addOrUpdate(info);
    } else {
      this.activeQ.addOrUpdate(info);
      this.wake();
    }
  }

  /** flushBackoffQCompleted: pods whose backoff expired go to activeQ. */
  flushBackoffQCompleted(): void {
    let moved = false;
    for (let top = this.backoffQ.peek(); top && !this.isPodBackingOff(top); top = this.backoffQ.peek()) {
      this.backoffQ.pop();
      this.activeQ.addOrUpdate(top);
      moved = true;
    }
    if (moved) this.wake();
  }

  /** flushUnschedulablePodsLeftover: pods unschedulable for longer than the maximum are retried. */
  flushUnschedulablePodsLeftover(): void {
    const now = this.now();
    for (const [key, info] of this.unschedulablePods) {
      if (now - info.timestamp > this.podMaxInUnschedulablePodsMs) {
        this.unschedulablePods.delete(key);
        this.requeue(info);
      }
    }
  }

  /** The pods per sub-queue, for tests and debugging. */
  pendingPods(): { active: string[]; backoff: string[]; unschedulable: string[] } {
    return {
      active: this.activeQ.list().map((i) => podKey(i.pod)),
      backoff: this.backoffQ.list().map((i) => podKey(i.pod)),
      unschedulable: [...this.unschedulablePods.keys()],
    };
  }
}

/** isPodUpdated: a change other than status, resourceVersion, generation or managedFields. */
function isPodUpdated(oldPod: Pod, newPod: Pod): boolean {
  const strip = (p: Pod) => ({
    ...p,
    status: undefined,
    metadata: { ...p.metadata, resourceVersion: undefined, generation: undefined, managedFields: undefined },
  });
  return JSON.stringify(strip(oldPod)) !== JSON.stringify(strip(newPod));
}
