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

  constructor(key: string, resource: ResourceDef, raw: Buffer, rev: number, labels: Record<string, string> | undefined, fields: Record<string, string>) {
    this.key = key;
    this.resource = resource;
    this.raw = raw;
    this.rev = rev;
    this.labels = labels;
    this.fields = fields;
  }

  /** The object of a stored value (which has no resourceVersion: it is the revision that stored it). */
  static decode(key: string, resource: ResourceDef, value: string, rev: number): CachedObject {
    const obj = JSON.parse(value) as KubeObject;
    obj.metadata ??= {};
    obj.metadata.resourceVersion = String(rev);
    return new CachedObject(key, resource, Buffer.from(JSON.stringify(obj)), rev, obj.metadata.labels, fieldsForObject(resource.kind, obj));
  }

  /** The object, decoded afresh on every access: a private copy the caller may change. */
  get obj(): KubeObject {
    return JSON.parse(this.raw.toString('utf8')) as KubeObject;
  }
}

// A write's object is encoded once, with a placeholder where its resourceVersion goes: the stored value is that text
// without the placeholder, and the cached bytes are that text with the revision the store gave it. This spares the
// cache decoding and re-encoding every value written through this server. The placeholder's encoding (`\u0000`
// escapes inside quotes) is text no other string of the object encodes to except the same value; should another field
// hold it, the write takes the plain way.
const RV_PLACEHOLDER = '\0rv\0';
const RV_MEMBER = `"resourceVersion":${JSON.stringify(RV_PLACEHOLDER)}`;

/** A value about to be stored, with what the cache needs to serve it without decoding it. */
export interface EncodedObject {
  /** The object's JSON without metadata.resourceVersion: what the store keeps. */
  readonly value: string;
  /** The JSON with the resourceVersion member at `at`, when encoded that way. */
  readonly template?: { text: string; at: number; labels: Record<string, string> | undefined; fields: Record<string, string> };
}

/** JSON of obj with metadata.resourceVersion set to rv (undefined: without it), leaving obj as it was. */
function stringifyWithRV(obj: KubeObject, rv: string | undefined): string {
  const m = obj.metadata;
  const had = Object.hasOwn(m, 'resourceVersion');
  const before = m.resourceVersion;
  if (rv === undefined) delete m.resourceVersion;
  else m.resourceVersion = rv;
  try {
    return JSON.stringify(obj);
  } finally {
    if (had) m.resourceVersion = before;
    else delete m.resourceVersion;
  }
}

/** Encodes obj for the store (leaving obj as it was). */
export function encodeForStore(kind: string, obj: KubeObject): EncodedObject {
  const text = stringifyWithRV(obj, RV_PLACEHOLDER);
  const at = text.indexOf(RV_MEMBER);
  if (at < 0 || text.indexOf(RV_MEMBER, at + 1) >= 0) return { value: stringifyWithRV(obj, undefined) };
  const end = at + RV_MEMBER.length;
  // Without the member, and the comma that joined it to a neighbour.
  const value = text[at - 1] === ',' ? text.slice(0, at - 1) + text.slice(end) : text[end] === ',' ? text.slice(0, at) + text.slice(end + 1) : text.slice(0, at) + text.slice(end);
  const labels = obj.metadata.labels ? { ...obj.metadata.labels } : undefined;
  return { value, template: { text, at, labels, fields: fieldsForObject(kind, obj) } };
}

function fromTemplate(key: string, resource: ResourceDef, t: NonNullable<EncodedObject['template']>, rev: number): CachedObject {
  const raw = Buffer.from(`${t.text.slice(0, t.at)}"resourceVersion":"${rev}"${t.text.slice(t.at + RV_MEMBER.length)}`);
  return new CachedObject(key, resource, raw, rev, t.labels, t.fields);
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
  /** Values this server is writing, by key, encoded as they will be served (see expect). */
  private readonly expected = new Map<string, EncodedObject>();

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
      this.byResource.get(keyPrefix(r))!.set(kv.key, CachedObject.decode(kv.key, r, kv.value, kv.modRevision));
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
        const expected = this.expected.get(e.kv.key);
        let current: CachedObject;
        if (expected?.template && expected.value === e.kv.value) {
          this.expected.delete(e.kv.key);
          current = fromTemplate(e.kv.key, r, expected.template, e.revision);
        } else {
          current = CachedObject.decode(e.kv.key, r, e.kv.value, e.revision);
        }
        if (!previous) this.sortedKeys.set(keyPrefix(r), undefined);
        map.set(e.kv.key, current);
        ev = { type: previous ? 'MODIFIED' : 'ADDED', rev: e.revision, current, previous };
      } else {
        map.delete(e.kv.key);
        this.sortedKeys.set(keyPrefix(r), undefined);
        // The DELETED event carries the last state with the delete's resourceVersion, as upstream.
        ev = { type: 'DELETED', rev: e.revision, current: CachedObject.decode(e.kv.key, r, e.kv.value, e.revision), previous };
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

  /**
   * Tells the cache that `encoded.value` is about to be written at key, so that its event, when the value comes back
   * through the store's watch, is served from the encoding the writer made. A write that fails calls forget.
   */
  expect(key: string, encoded: EncodedObject): void {
    if (encoded.template) this.expected.set(key, encoded);
  }

  forget(key: string, encoded: EncodedObject): void {
    if (this.expected.get(key) === encoded) this.expected.delete(key);
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
