// Lease-based leader election as client-go's tools/leaderelection with a LeaseLock: candidates try every retryPeriod
// to take a coordination.k8s.io/v1 Lease whose holder has not renewed within leaseDuration — judged by when this
// candidate last saw the lease change, not by the lease's timestamps, so clock skew does not matter; the leader
// renews every retryPeriod and gives up when it could not renew for renewDeadline.
import { setTimeout as sleep } from 'node:timers/promises';
import { LeaderElectionConfigError, isNotFound } from './errors.ts';
import type { EventRecorder } from './events.ts';
import type { Logger } from './logger.ts';
import { defaultLogger } from './logger.ts';
import type { Lease } from './resources.ts';
import { Resources } from './resources.ts';
import type { KubeClient, ResourceClient } from './rest.ts';
import { microTime } from '../api/time.ts';

const JITTER_FACTOR = 1.2;

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** The Lease's name (the lock). */
  name: string;
  /** This candidate's holderIdentity; unique per process (e.g. hostname + random suffix). */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** On cancellation, hand the lease back (holder "" and a 1 s duration) so another candidate takes over at once. Default true. */
  releaseOnCancel?: boolean;
  /** Ends the election (and leadership). */
  signal?: AbortSignal;
  /** Called on becoming leader; `signal` aborts when leadership ends. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called when runLeaderElection returns, leader or not (as client-go does). */
  onStoppedLeading(): void;
  /** Called when the observed leader changes (including to this candidate). */
  onNewLeader?(identity: string): void;
  /** Records "<identity> became leader" / "<identity> stopped leading" on the Lease (reason LeaderElection). */
  eventRecorder?: EventRecorder;
  logger?: Logger;
}

interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

function recordFromLease(lease: Lease): LeaderElectionRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: s.acquireTime ?? undefined,
    renewTime: s.renewTime ?? undefined,
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}

function leaseSpec(r: LeaderElectionRecord): NonNullable<Lease['spec']> {
  const spec: NonNullable<Lease['spec']> = { holderIdentity: r.holderIdentity, leaseDurationSeconds: r.leaseDurationSeconds, leaseTransitions: r.leaseTransitions };
  if (r.acquireTime) spec.acquireTime = r.acquireTime;
  if (r.renewTime) spec.renewTime = r.renewTime;
  return spec;
}

interface Timings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go defaults (15 s, 10 s, 2 s) and NewLeaderElector's checks. */
export function compileTimings(o: Partial<Timings> & { identity?: string }): Timings {
  const t = { leaseDurationMs: o.leaseDurationMs ?? 15_000, renewDeadlineMs: o.renewDeadlineMs ?? 10_000, retryPeriodMs: o.retryPeriodMs ?? 2_000 };
  if (t.leaseDurationMs <= t.renewDeadlineMs) throw new LeaderElectionConfigError('leaseDuration must be greater than renewDeadline');
  if (t.renewDeadlineMs <= JITTER_FACTOR * t.retryPeriodMs) throw new LeaderElectionConfigError('renewDeadline must be greater than retryPeriod*JitterFactor');
  if (t.leaseDurationMs < 1) throw new LeaderElectionConfigError('leaseDuration must be greater than zero');
  if (t.renewDeadlineMs < 1) throw new LeaderElectionConfigError('renewDeadline must be greater than zero');
  if (t.retryPeriodMs < 1) throw new LeaderElectionConfigError('retryPeriod must be greater than zero');
  if (o.identity === '') throw new LeaderElectionConfigError('Lock identity is empty');
  return t;
}

class LeaderElector {
  private readonly o: LeaderElectionOptions;
  private readonly t: Timings;
  private readonly leases: ResourceClient<Lease>;
  private readonly logger: Logger;
  private observed?: LeaderElectionRecord;
  private observedRaw = '';
  /** Local time at which the lease was last seen to change. */
  private observedTime = 0;
  private lease?: Lease;
  private reportedLeader = '';

  constructor(o: LeaderElectionOptions) {
    this.o = o;
    this.t = compileTimings(o);
    this.leases = o.client.resource(Resources.leases);
    this.logger = o.logger ?? defaultLogger;
  }

  isLeader(): boolean {
    return this.observed?.holderIdentity === this.o.identity;
  }

  private leaseValid(now: number): boolean {
    return !!this.observed && this.observedTime + this.observed.leaseDurationSeconds * 1000 > now;
  }

  private setObserved(lease: Lease, now: number): void {
    this.lease = lease;
    this.observed = recordFromLease(lease);
    this.observedRaw = JSON.stringify(this.observed);
    this.observedTime = now;
  }

  private reportTransition(): void {
    const leader = this.observed?.holderIdentity ?? '';
    if (!leader || leader === this.reportedLeader) return;
    this.reportedLeader = leader;
    this.o.onNewLeader?.(leader);
  }

  recordEvent(what: string): void {
    if (!this.lease || !this.o.eventRecorder) return;
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: this.lease.metadata };
    this.o.eventRecorder.event(lease, 'Normal', 'LeaderElection', `${this.o.identity} ${what}`);
  }

  /** One attempt to take or keep the lease; true when this candidate holds it afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const desired: LeaderElectionRecord = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.t.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    // Fast path: still the leader with a valid lease — renew on the cached object without a GET.
    if (this.isLeader() && this.leaseValid(now) && this.lease) {
      try {
        const updated = await this.leases.update({ ...this.lease, spec: leaseSpec({ ...desired, acquireTime: this.observed!.acquireTime, leaseTransitions: this.observed!.leaseTransitions }) });
        this.setObserved(updated, now);
        return true;
      } catch (err) {
        this.logger.warn({ lease: this.o.name, err }, 'failed to renew the lease on the cached object; falling back to a fresh read');
      }
    }
    let current: Lease;
    try {
      current = await this.leases.get(this.o.name, this.o.namespace);
    } catch (err) {
      if (!isNotFound(err)) {
        this.logger.error({ lease: this.o.name, err }, 'error retrieving resource lock');
        return false;
      }
      try {
        const created = await this.leases.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec: leaseSpec(desired) });
        this.setObserved(created, now);
        return true;
      } catch (createErr) {
        this.logger.error({ lease: this.o.name, err: createErr }, 'error initially creating leader election record');
        return false;
      }
    }
    const record = recordFromLease(current);
    const raw = JSON.stringify(record);
    if (raw !== this.observedRaw) {
      this.lease = current;
      this.observed = record;
      this.observedRaw = raw;
      this.observedTime = now;
    }
    if (record.holderIdentity && record.holderIdentity !== this.o.identity && this.leaseValid(now)) {
      this.logger.debug({ lease: this.o.name, holder: record.holderIdentity }, 'lock is held by another candidate and has not yet expired');
      return false;
    }
    if (record.holderIdentity === this.o.identity) {
      desired.acquireTime = record.acquireTime;
      desired.leaseTransitions = record.leaseTransitions;
    } else {
      desired.leaseTransitions = record.leaseTransitions + 1;
    }
    try {
      const updated = await this.leases.update({ ...current, spec: leaseSpec(desired) });
      this.setObserved(updated, now);
      return true;
    } catch (err) {
      this.logger.error({ lease: this.o.name, err }, 'failed to update lock');
      return false;
    }
  }

  /** tryAcquireOrRenew, then report a new leader. */
  async attempt(): Promise<boolean> {
    const ok = await this.tryAcquireOrRenew();
    this.reportTransition();
    return ok;
  }

  /** Hands the lease back: no holder, 1 s duration, transitions kept. */
  async release(): Promise<void> {
    if (!this.isLeader() || !this.lease) return;
    const now = microTime(Date.now());
    const released: LeaderElectionRecord = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: this.observed!.leaseTransitions };
    try {
      const updated = await this.leases.update({ ...this.lease, spec: leaseSpec(released) });
      this.setObserved(updated, Date.now());
    } catch (err) {
      this.logger.error({ lease: this.o.name, err }, 'failed to release lock');
    }
  }

  get timings(): Timings {
    return this.t;
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => undefined);
}

/** Resolves with false if `deadlineMs` passes first (the request itself is left to finish on its own). */
function within(p: Promise<boolean>, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadlineMs))));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Campaigns until this candidate leads, leads until renewing fails for renewDeadline or the signal aborts, then
 * returns (calling onStoppedLeading). Like client-go's Run, it does not campaign again: exit or call it anew.
 */
export async function runLeaderElection(options: LeaderElectionOptions): Promise<void> {
  const elector = new LeaderElector(options);
  const { retryPeriodMs, renewDeadlineMs } = elector.timings;
  const signal = options.signal;
  const logger = options.logger ?? defaultLogger;
  try {
    logger.info({ lease: `${options.namespace}/${options.name}`, identity: options.identity }, 'attempting to acquire leader lease');
    while (!signal?.aborted) {
      if (await elector.attempt()) break;
      await pause(retryPeriodMs + Math.random() * JITTER_FACTOR * retryPeriodMs, signal);
    }
    if (signal?.aborted) return;
    logger.info({ lease: `${options.namespace}/${options.name}`, identity: options.identity }, 'successfully acquired lease');
    elector.recordEvent('became leader');
    const leading = new AbortController();
    void Promise.resolve()
      .then(() => options.onStartedLeading(leading.signal))
      .catch((err: unknown) => logger.error({ err }, 'onStartedLeading failed'));
    for (;;) {
      await pause(retryPeriodMs, signal);
      if (signal?.aborted) break;
      const deadline = Date.now() + renewDeadlineMs;
      let renewed = false;
      while (!renewed && !signal?.aborted && Date.now() < deadline) {
        renewed = await within(elector.attempt(), deadline - Date.now());
        if (!renewed) await pause(Math.min(retryPeriodMs, deadline - Date.now()), signal);
      }
      if (!renewed) break;
    }
    leading.abort();
    if (!signal?.aborted) logger.error({ lease: `${options.namespace}/${options.name}`, identity: options.identity }, 'failed to renew lease: timed out');
    else if (options.releaseOnCancel !== false) await elector.release();
    elector.recordEvent('stopped leading');
  } finally {
    options.onStoppedLeading();
  }
}
