// core/v1 Events as client-go's tools/record writes them: the recorder builds the Event, an EventCorrelator decides
// whether it is new (create), a repeat (PATCH count/lastTimestamp/message) or spam (drop), and one background chain
// writes them in order so the caller never waits.
import { format } from 'node:util';
import type { CoreEvent, KubeObject, ObjectReference } from '../api/types.ts';
import { ApiError, isAlreadyExists, isNotFound } from './errors.ts';
import type { Logger } from './logger.ts';
import { defaultLogger } from './logger.ts';
import { TokenBucket } from './rate-limiter.ts';
import { Resources } from './resources.ts';
import type { KubeClient, ResourceClient } from './rest.ts';
import { metaTime } from '../api/time.ts';

export type EventType = 'Normal' | 'Warning';

// tools/record/events_cache.go defaults.
const LRU_CACHE_ENTRIES = 4096;
const AGGREGATE_MAX_EVENTS = 10;
const AGGREGATE_INTERVAL_MS = 600_000;
const SPAM_BURST = 25;
const SPAM_QPS = 1 / 300;
const AGGREGATE_MESSAGE_PREFIX = '(combined from similar events): ';
// tools/record/event.go: a write is tried 12 times, 10 s apart; at most 1000 events wait to be written.
const MAX_TRIES_PER_EVENT = 12;
const MAX_QUEUED_EVENTS = 1000;

let lastNanos = 0n;
/** Unix time in nanoseconds, strictly increasing within the process so event names never collide. */
function unixNanos(): bigint {
  const nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  lastNanos = nanos > lastNanos ? nanos : lastNanos + 1n;
  return lastNanos;
}

/** An LRU map (golang/groupcache/lru as the correlator uses it). */
class Lru<V> {
  private readonly map = new Map<string, V>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

function refFields(e: CoreEvent): string[] {
  const o = e.involvedObject;
  return [e.source?.component ?? '', e.source?.host ?? '', o.kind ?? '', o.namespace ?? '', o.name ?? ''];
}

/** getEventKey: identical events (same source, object, type, reason and message) share it. */
export function eventKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return [...refFields(e), o.fieldPath ?? '', o.uid ?? '', o.apiVersion ?? '', e.type ?? '', e.reason ?? '', e.message ?? ''].join('');
}

function spamKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return [...refFields(e), o.uid ?? '', o.apiVersion ?? ''].join('');
}

/** EventAggregatorByReasonFunc: events differing only in message share the aggregate key. */
function aggregateKeyOf(e: CoreEvent): string {
  const o = e.involvedObject;
  return [...refFields(e), o.uid ?? '', o.apiVersion ?? '', e.type ?? '', e.reason ?? '', e.reportingComponent ?? '', e.reportingInstance ?? ''].join('');
}

export interface CorrelationResult {
  /** The event to write (for a repeat: with the first occurrence's name, count and firstTimestamp). */
  event: CoreEvent;
  /** Set for a repeat: the strategic merge patch to send instead of creating. */
  patch?: { count: number; lastTimestamp?: string; message?: string };
  /** Spam: drop it. */
  skip: boolean;
}

/**
 * client-go's EventCorrelator: a source may burst 25 events about one object, then 1 per 5 minutes; more than 10
 * events differing only in message within 10 minutes are combined into one; identical events are counted on the
 * first one (PATCH count, lastTimestamp, message).
 */
export class EventCorrelator {
  private readonly spam = new Lru<TokenBucket>(LRU_CACHE_ENTRIES);
  private readonly aggregates = new Lru<{ localKeys: Set<string>; lastMs: number }>(LRU_CACHE_ENTRIES);
  private readonly observed = new Lru<{ count: number; firstTimestamp?: string; name: string; resourceVersion?: string }>(LRU_CACHE_ENTRIES);

  correlate(newEvent: CoreEvent): CorrelationResult {
    const [aggregated, key] = this.aggregate(newEvent);
    const [event, patch] = this.observe(aggregated, key);
    return this.isSpam(event) ? { event, skip: true } : { event, patch, skip: false };
  }

  /** Records what the server returned (its name and resourceVersion) for the next repeat. */
  updateState(event: CoreEvent): void {
    this.remember(eventKey(event), event);
  }

  private aggregate(e: CoreEvent): [CoreEvent, string] {
    const now = Date.now();
    const aggregateKey = aggregateKeyOf(e);
    let record = this.aggregates.get(aggregateKey);
    if (!record || now - record.lastMs > AGGREGATE_INTERVAL_MS) record = { localKeys: new Set(), lastMs: 0 };
    record.localKeys.add(e.message ?? '');
    record.lastMs = now;
    this.aggregates.set(aggregateKey, record);
    if (record.localKeys.size < AGGREGATE_MAX_EVENTS) return [e, eventKey(e)];
    // Keep the set below the limit, so every further distinct message is aggregated again.
    record.localKeys.delete(record.localKeys.values().next().value!);
    const t = metaTime(now);
    const combined: CoreEvent = {
      metadata: { name: `${e.involvedObject.name}.${unixNanos().toString(16)}`, namespace: e.metadata.namespace },
      count: 1,
      firstTimestamp: t,
      involvedObject: e.involvedObject,
      lastTimestamp: t,
      message: AGGREGATE_MESSAGE_PREFIX + (e.message ?? ''),
      type: e.type,
      reason: e.reason,
      source: e.source,
    };
    return [combined, aggregateKey];
  }

  private observe(e: CoreEvent, key: string): [CoreEvent, CorrelationResult['patch']] {
    const last = this.observed.get(key);
    let event = e;
    let patch: CorrelationResult['patch'];
    if (last && last.count > 0) {
      event = {
        ...e,
        metadata: { ...e.metadata, name: last.name, resourceVersion: last.resourceVersion },
        firstTimestamp: last.firstTimestamp,
        count: last.count + 1,
      };
      patch = { count: event.count!, lastTimestamp: event.lastTimestamp };
      if (event.message) patch.message = event.message;
    }
    this.remember(key, event);
    return [event, patch];
  }

  private remember(key: string, e: CoreEvent): void {
    this.observed.set(key, { count: e.count ?? 0, firstTimestamp: e.firstTimestamp, name: e.metadata.name ?? '', resourceVersion: e.metadata.resourceVersion });
  }

  private isSpam(e: CoreEvent): boolean {
    const key = spamKey(e);
    let bucket = this.spam.get(key);
    if (!bucket) bucket = new TokenBucket(SPAM_QPS, SPAM_BURST);
    this.spam.set(key, bucket);
    return !bucket.tryAccept();
  }
}

export interface EventRecorderOptions {
  /** source.component and reportingComponent, e.g. "persistentvolume-controller", "csi-snapshotter". */
  component: string;
  /** source.host and reportingInstance. */
  host?: string;
  logger?: Logger;
  /** Wait between tries when the server cannot be reached (client-go: 10 s, the first one randomized). */
  retryDelayMs?: number;
}

/** client-go's reference to an object, from its TypeMeta and ObjectMeta. */
export function objectReference(obj: KubeObject): ObjectReference {
  const ref: ObjectReference = { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, uid: obj.metadata.uid, apiVersion: obj.apiVersion, resourceVersion: obj.metadata.resourceVersion };
  for (const k of Object.keys(ref) as Array<keyof ObjectReference>) if (ref[k] === undefined || ref[k] === '') delete ref[k];
  return ref;
}

/** Records events about objects without making the caller wait; failures are logged, never thrown. */
export class EventRecorder {
  private readonly events: ResourceClient<CoreEvent>;
  private readonly options: EventRecorderOptions;
  private readonly logger: Logger;
  private readonly correlator = new EventCorrelator();
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private closed = false;

  constructor(client: KubeClient, options: EventRecorderOptions) {
    this.events = client.resource(Resources.events);
    this.options = options;
    this.logger = options.logger ?? defaultLogger;
  }

  event(obj: KubeObject, type: EventType, reason: string, message: string): void {
    if (type !== 'Normal' && type !== 'Warning') {
      this.logger.error({ type }, `Unsupported event type: '${type as string}'`);
      return;
    }
    const ref = objectReference(obj);
    if (!ref.kind || !ref.apiVersion || !ref.name) {
      this.logger.error({ ref, type, reason, message }, 'could not construct reference to the object (kind, apiVersion and name are required); will not report event');
      return;
    }
    if (this.closed) return;
    if (this.queued >= MAX_QUEUED_EVENTS) {
      this.logger.error({ ref, reason }, 'unable to record event: too many queued events, dropped event');
      return;
    }
    const event = this.makeEvent(ref, type, reason, message);
    this.queued++;
    this.chain = this.chain.then(() => this.recordToSink(event)).finally(() => this.queued--);
  }

  /** event() with a printf-style message (node's util.format: %s, %d, %j, %o). */
  eventf(obj: KubeObject, type: EventType, reason: string, messageFormat: string, ...args: unknown[]): void {
    this.event(obj, type, reason, format(messageFormat, ...args));
  }

  /** Resolves when every event recorded so far has been written or given up on. */
  flush(): Promise<void> {
    return this.chain;
  }

  /** Stops retrying; events recorded from now on are dropped. */
  close(): void {
    this.closed = true;
  }

  private makeEvent(ref: ObjectReference, type: EventType, reason: string, message: string): CoreEvent {
    const t = metaTime();
    const source: CoreEvent['source'] = { component: this.options.component };
    if (this.options.host) source.host = this.options.host;
    const event: CoreEvent = {
      metadata: { name: `${ref.name}.${unixNanos().toString(16)}`, namespace: ref.namespace || 'default' },
      involvedObject: ref,
      reason,
      message,
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
      type,
      source,
      reportingComponent: this.options.component,
      reportingInstance: this.options.host ?? '',
    };
    return event;
  }

  private async recordToSink(event: CoreEvent): Promise<void> {
    const result = this.correlator.correlate(event);
    if (result.skip) return;
    const retryDelayMs = this.options.retryDelayMs ?? 10_000;
    for (let tries = 1; ; tries++) {
      if (await this.write(result)) return;
      if (tries >= MAX_TRIES_PER_EVENT || this.closed) {
        this.logger.error({ event: result.event.metadata.name }, 'Unable to write event (retry limit exceeded!)');
        return;
      }
      await new Promise((r) => setTimeout(r, tries === 1 ? retryDelayMs * Math.random() : retryDelayMs).unref?.());
    }
  }

  /** True when written or abandoned for good; false when worth another try (the server could not be reached). */
  private async write({ event, patch }: CorrelationResult): Promise<boolean> {
    const ns = event.metadata.namespace;
    try {
      let written: CoreEvent | undefined;
      if (patch) {
        try {
          written = await this.events.patch(event.metadata.name!, patch, 'strategic', ns);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      written ??= await this.events.create({ ...event, metadata: { ...event.metadata, resourceVersion: undefined } });
      this.correlator.updateState(written);
      return true;
    } catch (err) {
      if (err instanceof ApiError) {
        const log = isAlreadyExists(err) ? this.logger.debug.bind(this.logger) : this.logger.error.bind(this.logger);
        log({ event: event.metadata.name, reason: event.reason, err: err.message }, 'Server rejected event (will not retry!)');
        return true;
      }
      this.logger.error({ event: event.metadata.name, err }, 'Unable to write event (may retry after sleeping)');
      return false;
    }
  }
}
