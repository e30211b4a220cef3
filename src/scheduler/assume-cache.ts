// The assume cache (pkg/scheduler/util/assumecache): informer objects that the scheduler may shadow with an
// "assumed" newer version (a PV with its claimRef set, a PVC with its selected-node) before the API write lands.
// An assumed object stays until the informer delivers a strictly newer resourceVersion, or until restore().
import type { KubeObject } from '../api/types.ts';
import { AssumeCacheNotFoundError, AssumeCacheOutOfSyncError, ResourceVersionParseError } from './errors.ts';

interface ObjInfo<T> {
  /** The object the scheduler works with: the assumed one, or the informer's. */
  latestObj: T;
  /** The informer's object. */
  apiObj: T;
}

export const objectKey = (obj: KubeObject): string =>
  obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : (obj.metadata.name ?? '');

/** Index functions by name; each yields the index values an object is listed under. */
export type AssumeCacheIndexers<T> = Record<string, (obj: T) => string[]>;

export class AssumeCache<T extends KubeObject> {
  readonly description: string;
  private readonly objects = new Map<string, ObjInfo<T>>();
  private readonly indexers: AssumeCacheIndexers<T>;
  /** Per index name: index value -> keys. */
  private readonly indexes = new Map<string, Map<string, Set<string>>>();

  /** `description` names the type in errors ("v1.PersistentVolume"); `indexers` enable byIndex(name, value). */
  constructor(description: string, indexers: AssumeCacheIndexers<T> = {}) {
    this.description = description;
    this.indexers = indexers;
    for (const name of Object.keys(indexers)) this.indexes.set(name, new Map());
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of Object.entries(this.indexers)) {
      const index = this.indexes.get(name)!;
      for (const value of fn(obj)) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(value);
      }
    }
  }

  private version(name: string, obj: T): bigint {
    const rv = obj.metadata.resourceVersion ?? '';
    if (!/^-?[0-9]+$/.test(rv)) throw new ResourceVersionParseError(rv, this.description, name);
    return BigInt(rv);
  }

  private store(key: string, info: ObjInfo<T>): void {
    const previous = this.objects.get(key);
    if (previous) this.unindex(key, previous.latestObj);
    for (const [name, fn] of Object.entries(this.indexers)) {
      const index = this.indexes.get(name)!;
      for (const value of fn(info.latestObj)) {
        let keys = index.get(value);
        if (!keys) index.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
    this.objects.set(key, info);
  }

  /** Informer add/update: only a newer version replaces what is stored, so resyncs do not undo assumptions. */
  add(obj: T): void {
    const key = objectKey(obj);
    const existing = this.objects.get(key);
    if (existing && this.version(key, obj) <= this.version(key, existing.latestObj)) return;
    this.store(key, { latestObj: obj, apiObj: obj });
  }

  update(_old: T, obj: T): void {
    this.add(obj);
  }

  delete(obj: T): void {
    const key = objectKey(obj);
    const existing = this.objects.get(key);
    if (!existing) return;
    this.unindex(key, existing.latestObj);
    this.objects.delete(key);
  }

  /** The latest (possibly assumed) object. */
  get(key: string): T | undefined {
    return this.objects.get(key)?.latestObj;
  }

  /** The informer's object, ignoring assumptions. */
  getAPIObj(key: string): T | undefined {
    return this.objects.get(key)?.apiObj;
  }

  /** get() that fails with upstream's error text when the object is unknown. */
  mustGet(key: string): T {
    const obj = this.get(key);
    if (!obj) throw new AssumeCacheNotFoundError(this.description, key);
    return obj;
  }

  mustGetAPIObj(key: string): T {
    const obj = this.getAPIObj(key);
    if (!obj) throw new AssumeCacheNotFoundError(this.description, key);
    return obj;
  }

  /** The latest objects. */
  list(): T[] {
    return [...this.objects.values()].map((info) => info.latestObj);
  }

  /** The latest objects whose index function `name` yields `value`. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indexes.get(name)?.get(value);
    return keys ? [...keys].map((key) => this.objects.get(key)!.latestObj) : [];
  }

  /** Shadows the informer's object with `obj`, which must not be older than the latest one. */
  assume(obj: T): void {
    const key = objectKey(obj);
    const existing = this.objects.get(key);
    if (!existing) throw new AssumeCacheNotFoundError(this.description, key);
    const assumed = this.version(key, obj);
    const stored = this.version(key, existing.latestObj);
    if (assumed < stored) throw new AssumeCacheOutOfSyncError(this.description, key, stored, assumed);
    this.store(key, { latestObj: obj, apiObj: existing.apiObj });
  }

  /** Drops an assumption: the informer's object is the latest again. Unknown keys are ignored. */
  restore(key: string): void {
    const existing = this.objects.get(key);
    if (existing) this.store(key, { latestObj: existing.apiObj, apiObj: existing.apiObj });
  }
}
