// The informer's local cache: objects by key with secondary indexes (client-go tools/cache thread_safe_store).
import type { KubeObject } from '../api/types.ts';
import { IndexerError } from './errors.ts';

/** The values an object is indexed under (an object may appear under several, or none). */
export type IndexFunc<T> = (obj: T) => string[];

/** client-go's NamespaceIndex, present on every cache. */
export const NAMESPACE_INDEX = 'namespace';

/** "namespace/name" for namespaced objects, "name" for cluster-scoped ones (MetaNamespaceKeyFunc). */
export function objectKey(obj: KubeObject): string {
  const { namespace, name = '' } = obj.metadata;
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class Indexer<T extends KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly indexFuncs = new Map<string, IndexFunc<T>>();
  /** index name → indexed value → keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor() {
    this.addIndexer(NAMESPACE_INDEX, (obj) => (obj.metadata.namespace ? [obj.metadata.namespace] : []));
  }

  /** Adds an index (also over the objects already cached). */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.indexFuncs.has(name)) throw new IndexerError(`indexer conflict: ${name}`);
    this.indexFuncs.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indices.set(name, index);
    for (const [key, obj] of this.items) this.indexInto(index, fn, key, obj);
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  /** Objects indexed under `value` by index `name`. */
  byIndex(name: string, value: string): T[] {
    return this.indexKeys(name, value).map((k) => this.items.get(k)!);
  }

  indexKeys(name: string, value: string): string[] {
    const index = this.indices.get(name);
    if (!index) throw new IndexerError(`Index with name ${name} does not exist`);
    return [...(index.get(value) ?? [])];
  }

  /** The values present in index `name`. */
  indexValues(name: string): string[] {
    const index = this.indices.get(name);
    if (!index) throw new IndexerError(`Index with name ${name} does not exist`);
    return [...index.keys()];
  }

  /** Stores the object under key; returns what was there before. */
  set(key: string, obj: T): T | undefined {
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexFuncs) this.indexInto(this.indices.get(name)!, fn, key, obj);
    return old;
  }

  /** Removes the key; returns the object it held. */
  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  private indexInto(index: Map<string, Set<string>>, fn: IndexFunc<T>, key: string, obj: T): void {
    for (const value of new Set(fn(obj))) {
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexFuncs) {
      const index = this.indices.get(name)!;
      for (const value of new Set(fn(obj))) {
        const keys = index.get(value);
        if (!keys) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(value);
      }
    }
  }
}
