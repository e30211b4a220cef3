// Informers as client-go's reflector + shared index informer: list, then watch from the list's resourceVersion with
// bookmarks; a closed watch resumes from the last resourceVersion seen, 410 Expired relists, any other failure backs
// off and tries again — an informer only stops when told to. Objects land in an indexed cache, then handlers run.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../api/types.ts';
import type { IndexFunc } from './cache.ts';
import { Indexer, objectKey } from './cache.ts';
import { isGone } from './errors.ts';
import type { Logger } from './logger.ts';
import { defaultLogger } from './logger.ts';
import type { KubeClient, ResourceClient, ResourceType, WatchEventType, WatchHandle } from './rest.ts';

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Every period, onUpdate(obj, obj) for every cached object (0 or unset: never). */
  resyncPeriodMs?: number;
  logger?: Logger;
  /** Backoff after a failed list or watch: from initialBackoffMs doubling to maxBackoffMs, plus up to 100 % jitter (the reflector's 800 ms … 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export type AddHandler<T> = (obj: T) => void;
export type UpdateHandler<T> = (oldObj: T, newObj: T) => void;
/** finalStateUnknown: the object vanished while the watch was down (found missing on a relist); obj is its last known state. */
export type DeleteHandler<T> = (obj: T, finalStateUnknown: boolean) => void;

// A watch that ends this fast without an event is not progress (the reflector's "very short watch").
const SHORT_WATCH_MS = 1000;
// The reflector asks the server to end each watch after 5 to 10 minutes, spreading reconnects.
const MIN_WATCH_TIMEOUT_S = 300;

export class Informer<T extends KubeObject> {
  readonly resource: ResourceClient<T>;
  private readonly options: InformerOptions;
  private readonly logger: Logger;
  private readonly cache = new Indexer<T>();
  private readonly addHandlers = new Set<AddHandler<T>>();
  private readonly updateHandlers = new Set<UpdateHandler<T>>();
  private readonly deleteHandlers = new Set<DeleteHandler<T>>();
  private readonly syncWaiters = new Set<(synced: boolean) => void>();
  private resourceVersion = '';
  private synced = false;
  private running = false;
  private stopController = new AbortController();
  private currentWatch?: { handle: WatchHandle; done: () => void };
  private resyncTimer?: NodeJS.Timeout;

  constructor(resource: ResourceClient<T>, options: InformerOptions = {}) {
    this.resource = resource;
    this.options = options;
    this.logger = options.logger ?? defaultLogger;
  }

  addIndexer(name: string, fn: IndexFunc<T>): void {
    this.cache.addIndexer(name, fn);
  }

  byIndex(name: string, value: string): T[] {
    return this.cache.byIndex(name, value);
  }

  /** By key: "namespace/name" or "name". */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return this.cache.list();
  }

  keys(): string[] {
    return this.cache.keys();
  }

  /** The resourceVersion the cache reflects. */
  lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Registers an add handler; registered after the first sync, it first gets every cached object (as client-go replays to late handlers). Returns an unregister function. */
  onAdd(fn: AddHandler<T>): () => void {
    this.addHandlers.add(fn);
    if (this.synced) for (const obj of this.cache.list()) this.call(() => fn(obj));
    return () => this.addHandlers.delete(fn);
  }

  onUpdate(fn: UpdateHandler<T>): () => void {
    this.updateHandlers.add(fn);
    return () => this.updateHandlers.delete(fn);
  }

  onDelete(fn: DeleteHandler<T>): () => void {
    this.deleteHandlers.add(fn);
    return () => this.deleteHandlers.delete(fn);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** True once the first list is in the cache; false if the signal aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => finish(false);
      const finish = (synced: boolean): void => {
        this.syncWaiters.delete(finish);
        signal?.removeEventListener('abort', onAbort);
        resolve(synced);
      };
      this.syncWaiters.add(finish);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopController = new AbortController();
    void this.run(this.stopController.signal);
    const period = this.options.resyncPeriodMs ?? 0;
    if (period > 0) {
      this.resyncTimer = setInterval(() => this.resync(), period);
      this.resyncTimer.unref?.();
    }
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.stopController.abort();
    clearInterval(this.resyncTimer);
    if (this.currentWatch) {
      this.currentWatch.handle.stop();
      this.currentWatch.done();
    }
    for (const waiter of [...this.syncWaiters]) waiter(false);
  }

  private async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    let failures = 0;
    const backoff = async (): Promise<void> => {
      const initial = this.options.initialBackoffMs ?? 800;
      const max = this.options.maxBackoffMs ?? 30_000;
      const delay = Math.min(max, initial * 2 ** failures++) * (1 + Math.random());
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    };
    while (!signal.aborted) {
      if (needList) {
        try {
          await this.listAndReplace(signal);
          needList = false;
          failures = 0;
        } catch (err) {
          if (signal.aborted) return;
          this.logger.warn({ resource: this.resource.type.plural, err }, 'informer list failed; retrying after backoff');
          await backoff();
          continue;
        }
      }
      const started = Date.now();
      const { err, events } = await this.watchOnce();
      if (signal.aborted) return;
      if (events > 0) failures = 0;
      if (err && isGone(err)) {
        this.logger.info({ resource: this.resource.type.plural, resourceVersion: this.resourceVersion }, 'watch expired; relisting');
        needList = true;
      } else if (err) {
        this.logger.warn({ resource: this.resource.type.plural, err }, 'informer watch failed; resuming after backoff');
        await backoff();
      } else if (events === 0 && Date.now() - started < SHORT_WATCH_MS) {
        await backoff();
      }
    }
  }

  private async listAndReplace(signal: AbortSignal): Promise<void> {
    const { namespace, labelSelector, fieldSelector } = this.options;
    const list = await this.resource.list({ namespace, labelSelector, fieldSelector });
    if (signal.aborted) return;
    const seen = new Set<string>();
    for (const obj of list.items) {
      const key = objectKey(obj);
      seen.add(key);
      this.upsert(key, obj);
    }
    for (const key of this.cache.keys()) {
      if (seen.has(key)) continue;
      const last = this.cache.delete(key)!;
      for (const fn of this.deleteHandlers) this.call(() => fn(last, true));
    }
    this.resourceVersion = list.metadata.resourceVersion ?? '';
    if (!this.synced) {
      this.synced = true;
      for (const waiter of [...this.syncWaiters]) waiter(true);
    }
  }

  private watchOnce(): Promise<{ err?: Error; events: number }> {
    return new Promise((resolve) => {
      let events = 0;
      let settled = false;
      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        this.currentWatch = undefined;
        resolve({ err, events });
      };
      const { namespace, labelSelector, fieldSelector } = this.options;
      const handle = this.resource.watch(
        {
          namespace, labelSelector, fieldSelector,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: Math.floor(MIN_WATCH_TIMEOUT_S * (1 + Math.random())),
        },
        (type, obj) => {
          events++;
          this.handleEvent(type, obj);
        },
        done,
      );
      this.currentWatch = { handle, done: () => done() };
    });
  }

  private handleEvent(type: WatchEventType, obj: T): void {
    const rv = obj.metadata?.resourceVersion;
    if (type !== 'BOOKMARK') {
      const key = objectKey(obj);
      if (type === 'DELETED') {
        this.cache.delete(key);
        for (const fn of this.deleteHandlers) this.call(() => fn(obj, false));
      } else {
        this.upsert(key, obj);
      }
    }
    if (rv) this.resourceVersion = rv;
  }

  private upsert(key: string, obj: T): void {
    const old = this.cache.set(key, obj);
    if (old) for (const fn of this.updateHandlers) this.call(() => fn(old, obj));
    else for (const fn of this.addHandlers) this.call(() => fn(obj));
  }

  private resync(): void {
    if (!this.synced) return;
    for (const obj of this.cache.list()) for (const fn of this.updateHandlers) this.call(() => fn(obj, obj));
  }

  /** A throwing handler must not break the informer or the other handlers. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ resource: this.resource.type.plural, err }, 'informer event handler threw');
    }
  }
}

export interface InformerSelector {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface SharedInformerFactoryOptions {
  /** Default namespace of the informers (unset: all namespaces). */
  namespace?: string;
  resyncPeriodMs?: number;
  logger?: Logger;
}

/** One informer per resource and selector for all the controllers of a process (client-go SharedInformerFactory). */
export class SharedInformerFactory {
  readonly client: KubeClient;
  private readonly options: SharedInformerFactoryOptions;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private started = false;

  constructor(client: KubeClient, options: SharedInformerFactoryOptions = {}) {
    this.client = client;
    this.options = options;
  }

  /** The shared informer of this resource and selector; once the factory is started, new ones start at once. */
  informerFor<T extends KubeObject>(type: ResourceType<T>, selector: InformerSelector = {}): Informer<T> {
    const namespace = type.namespaced ? (selector.namespace ?? this.options.namespace) : undefined;
    const key = [type.group, type.version, type.plural, namespace ?? '', selector.labelSelector ?? '', selector.fieldSelector ?? ''].join('|');
    let informer = this.informers.get(key) as Informer<T> | undefined;
    if (!informer) {
      informer = new Informer<T>(this.client.resource(type), {
        namespace,
        labelSelector: selector.labelSelector,
        fieldSelector: selector.fieldSelector,
        resyncPeriodMs: this.options.resyncPeriodMs,
        logger: this.options.logger,
      });
      this.informers.set(key, informer as unknown as Informer<KubeObject>);
      if (this.started) informer.start();
    }
    return informer;
  }

  start(): void {
    this.started = true;
    for (const informer of this.informers.values()) informer.start();
  }

  /** True once every informer asked for so far has synced; false if the signal aborts first. */
  async waitForCacheSync(signal?: AbortSignal): Promise<boolean> {
    return waitForCacheSync(signal, ...this.informers.values());
  }

  shutdown(): void {
    this.started = false;
    for (const informer of this.informers.values()) informer.stop();
  }
}

/** client-go's cache.WaitForCacheSync: true when all have synced, false if the signal aborts first. */
export async function waitForCacheSync(signal: AbortSignal | undefined, ...informers: Array<{ waitForSync(signal?: AbortSignal): Promise<boolean> }>): Promise<boolean> {
  const results = await Promise.all(informers.map((i) => i.waitForSync(signal)));
  return results.every(Boolean);
}
