// The API server's in-memory view of the store, kept current by one store watch — kube-apiserver's watch cache.
// Every read (get, list) and every watch is served from here; writes go to the store and come back through the
// store's watch before the write returns (in-process backends deliver events synchronously on commit; etcd resolves a
// write only once its event came back through the watch), so reads observe this server's acknowledged writes. A bounded ring of recent events serves watches that resume from a resourceVersion; older
// ones get 410 Expired, exactly as upstream's watch cache answers.
import { fieldsForObject } from '../api/fields.ts';
import type { KubeObject } from '../api/types.ts';
import type { Store, Watch, WatchEvent } from '../store/types.ts';
import type { ResourceDef } from './resources.ts';
import { RESOURCES, keyPrefix } from './resources.ts';

/**
 * One object as this server serves it. Only the encoded bytes are kept (not a decoded copy as well, which would about
 * double the cache's memory), plus the little that list and watch filtering read for every object.
 */
export class CachedObject {
  readonly key: string;
  readonly resource: ResourceDef;
  /** UTF-8 JSON with metadata.resourceVersion set, encoded once and shared by every get, list and watch. */
  readonly raw: Buffer;
  readonly rev: number;
  readonly labels: Record<string, string> | undefined;
  /** The object's selectable fields (fieldsForObject). */
  readonly fields: Record<string, string>;

  constructor(key: string, resource: ResourceDef, value: string, rev: number) {
    const obj = JSON.parse(value) as KubeObject;
    obj.metadata ??= {};
    obj.metadata.resourceVersion = String(rev);
    this.key = key;
    this.resource = resource;
    this.raw = Buffer.from(JSON.stringify(obj));
    this.rev = rev;
    this.labels = obj.metadata.labels;
    this.fields = fieldsForObject(resource.kind, obj);
  }

  /** The object, decoded afresh on every access: a private copy the caller may change. */
  get obj(): KubeObject {
    return JSON.parse(this.raw.toString('utf8')) as KubeObject;
  }
}

export type CacheEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent {
  type: CacheEventType;
  rev: number;
  /** For DELETED, the object's last state (with resourceVersion of the delete). */
  current: CachedObject;
  /** The state before this event, absent for ADDED. */
  previous?: CachedObject;
}

export type CacheListener = (ev: CacheEvent) => void;

interface Subscription {
  prefix: string;
  listener: CacheListener;
}

export class TooOldResourceVersionError extends Error {
  readonly requested: number;
  readonly oldest: number;
  constructor(requested: number, oldest: number) {
    super(`too old resource version: ${requested} (${oldest})`);
    this.requested = requested;
    this.oldest = oldest;
  }
}

const resourceByPrefix = new Map(RESOURCES.map((r) => [keyPrefix(r), r]));

function resourceOfKey(key: string): ResourceDef | undefined {
  // /registry/<group>/<plural>/...
  const third = key.indexOf('/', key.indexOf('/', 10) + 1);
  return resourceByPrefix.get(key.slice(0, third + 1));
}

export class WatchCache {
  private readonly store: Store;
  private readonly capacity: number;
  /** resource key prefix -> key -> object */
  private readonly byResource = new Map<string, Map<string, CachedObject>>();
  private readonly sortedKeys = new Map<string, string[] | undefined>();
  private readonly ring: CacheEvent[] = [];
  private ringStart = 0;
  /** The resourceVersion the cache reflects; events with higher revisions are not applied yet. */
  private revision = 0;
  /** Lowest revision a watch can resume after. */
  private oldestResumable = 0;
  private readonly subscriptions = new Set<Subscription>();
  private readonly waiters: Array<{ rev: number; resolve: () => void }> = [];
  private storeWatch?: Watch;

  constructor(store: Store, options: { capacity?: number } = {}) {
    this.store = store;
    this.capacity = options.capacity ?? 100_000;
    for (const r of RESOURCES) this.byResource.set(keyPrefix(r), new Map());
  }

  async start(): Promise<void> {
    const { items, revision } = await this.store.list('/registry/');
    for (const kv of items) {
      const r = resourceOfKey(kv.key);
      if (!r) continue;
      this.byResource.get(keyPrefix(r))!.set(kv.key, new CachedObject(kv.key, r, kv.value, kv.modRevision));
    }
    this.revision = revision;
    this.oldestResumable = revision;
    this.storeWatch = await this.store.watch('/registry/', {
      afterRevision: revision,
      onEvent: (e) => this.apply(e),
      // A lost store watch leaves this cache stale; stop serving rather than serve old state forever.
      onError: (err) => {
        process.emitWarning(`watch cache: the store watch ended: ${err.message}; exiting so a supervisor restarts the API server`);
        process.exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
      },
    });
  }

  stop(): void {
    this.storeWatch?.cancel();
    this.subscriptions.clear();
  }

  get resourceVersion(): number {
    return this.revision;
  }

  get oldestResourceVersion(): number {
    return this.oldestResumable;
  }

  private apply(e: WatchEvent): void {
    const r = resourceOfKey(e.kv.key);
    if (e.revision > this.revision) this.revision = e.revision;
    if (r) {
      const map = this.byResource.get(keyPrefix(r))!;
      const previous = map.get(e.kv.key);
      let ev: CacheEvent;
      if (e.type === 'put') {
        const current = new CachedObject(e.kv.key, r, e.kv.value, e.revision);
        if (!previous) this.sortedKeys.set(keyPrefix(r), undefined);
        map.set(e.kv.key, current);
        ev = { type: previous ? 'MODIFIED' : 'ADDED', rev: e.revision, current, previous };
      } else {
        map.delete(e.kv.key);
        this.sortedKeys.set(keyPrefix(r), undefined);
        // The DELETED event carries the last state with the delete's resourceVersion, as upstream.
        ev = { type: 'DELETED', rev: e.revision, current: new CachedObject(e.kv.key, r, e.kv.value, e.revision), previous };
      }
      this.record(ev);
      for (const s of this.subscriptions) if (e.kv.key.startsWith(s.prefix)) s.listener(ev);
    }
    this.releaseWaiters();
  }

  private record(ev: CacheEvent): void {
    this.ring.push(ev);
    if (this.ring.length - this.ringStart > this.capacity) {
      this.oldestResumable = this.ring[this.ringStart].rev;
      this.ringStart++;
      if (this.ringStart > 4096 && this.ringStart * 2 > this.ring.length) {
        this.ring.splice(0, this.ringStart);
        this.ringStart = 0;
      }
    }
  }

  private releaseWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].rev <= this.revision) {
        this.waiters[i].resolve();
        this.waiters.splice(i, 1);
      }
    }
  }

  /** Resolves once the cache reflects revision rev (or the timeout passes; returns whether it got there). */
  async waitForRevision(rev: number, timeoutMs: number): Promise<boolean> {
    if (rev <= this.revision) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      const w = { rev, resolve: () => { clearTimeout(timer); resolve(true); } };
      this.waiters.push(w);
    });
  }

  get(r: ResourceDef, key: string): CachedObject | undefined {
    return this.byResource.get(keyPrefix(r))!.get(key);
  }

  /** Objects of a resource (optionally one namespace), in key order as etcd lists them. */
  list(r: ResourceDef, namespace?: string): CachedObject[] {
    const prefix = keyPrefix(r);
    const map = this.byResource.get(prefix)!;
    let keys = this.sortedKeys.get(prefix);
    if (!keys) {
      keys = [...map.keys()].sort();
      this.sortedKeys.set(prefix, keys);
    }
    const out: CachedObject[] = [];
    if (namespace && r.namespaced) {
      const nsPrefix = keyPrefix(r, namespace);
      for (const k of keys) if (k.startsWith(nsPrefix)) out.push(map.get(k)!);
    } else {
      for (const k of keys) out.push(map.get(k)!);
    }
    return out;
  }

  count(r: ResourceDef): number {
    return this.byResource.get(keyPrefix(r))!.size;
  }

  /**
   * Delivers every buffered event under prefix after fromRev, then live ones, with no gap: replay and
   * subscription happen in one synchronous step. Throws TooOldResourceVersionError when fromRev is gone.
   */
  subscribe(prefix: string, fromRev: number, listener: CacheListener): () => void {
    if (fromRev < this.oldestResumable) throw new TooOldResourceVersionError(fromRev, this.oldestResumable);
    // binary search the first event with rev > fromRev
    let lo = this.ringStart;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ring[mid].rev <= fromRev) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.ring.length; i++) {
      const ev = this.ring[i];
      if (ev.current.key.startsWith(prefix)) listener(ev);
    }
    const sub: Subscription = { prefix, listener };
    this.subscriptions.add(sub);
    return () => this.subscriptions.delete(sub);
  }
}
