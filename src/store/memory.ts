import { KeyExistsError } from './errors.ts';
import { RevisionedStore } from './revisioned-store.ts';
import { EventHistory } from './event-history.ts';
import type { KeyValue, ListResult, WatchEvent } from './types.ts';

export interface MemoryStoreOptions {
  /** Events of history kept by automatic compaction. */
  historyLimit?: number;
}

/** Orders keys by code point, which is UTF-8 byte order: the order of SQLite's BINARY collation and of etcd. */
function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 puts surrogates (U+10000 and up) below U+E000..U+FFFF; move them above.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** The reference backend: everything in memory, lost on exit. */
export class MemoryStore extends RevisionedStore {
  readonly #values = new Map<string, KeyValue>();
  /** The keys of #values in key order, so a list is a range scan rather than a filter and a sort. */
  readonly #keys: string[] = [];
  /** Events after the compacted revision, in revision order. */
  readonly #history = new EventHistory();

  constructor(options: MemoryStoreOptions = {}) {
    super(options.historyLimit);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return this.#values.get(key);
  }

  async list(prefix: string): Promise<ListResult> {
    const items: KeyValue[] = [];
    for (let i = this.#keyIndex(prefix); i < this.#keys.length && this.#keys[i]!.startsWith(prefix); i++) {
      items.push(this.#values.get(this.#keys[i]!)!);
    }
    return { items, revision: this.revision };
  }

  async create(key: string, value: string): Promise<number> {
    if (this.#values.has(key)) throw new KeyExistsError(key);
    const revision = this.revision + 1;
    const kv = Object.freeze({ key, value, modRevision: revision, createRevision: revision });
    this.#values.set(key, kv);
    this.#keys.splice(this.#keyIndex(key), 0, key);
    return this.#record({ type: 'put', kv, revision });
  }

  async update(key: string, value: string, expectedModRevision?: number): Promise<number> {
    const prevKv = this.requireCurrent(key, this.#values.get(key), expectedModRevision);
    const revision = this.revision + 1;
    const kv = Object.freeze({ key, value, modRevision: revision, createRevision: prevKv.createRevision });
    this.#values.set(key, kv);
    return this.#record({ type: 'put', kv, prevKv, revision });
  }

  async delete(key: string, expectedModRevision?: number): Promise<number> {
    const prevKv = this.requireCurrent(key, this.#values.get(key), expectedModRevision);
    this.#values.delete(key);
    this.#keys.splice(this.#keyIndex(key), 1);
    return this.#record({ type: 'delete', kv: prevKv, prevKv, revision: this.revision + 1 });
  }

  protected historySince(prefix: string, afterRevision: number): WatchEvent[] {
    return this.#history.since(prefix, afterRevision);
  }

  protected dropHistory(revision: number): void {
    this.#history.dropThrough(revision);
  }

  protected closeBackend(): void {}

  #record(event: WatchEvent): number {
    this.#history.append(Object.freeze(event));
    this.committed(event);
    return event.revision;
  }

  /** Index of the first key >= key. */
  #keyIndex(key: string): number {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareKeys(this.#keys[middle]!, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

}
