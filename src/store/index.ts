import { MemoryStore } from './memory.ts';
import { SqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export * from './errors.ts';
export type * from './types.ts';
export { DEFAULT_HISTORY_LIMIT } from './revisioned-store.ts';
export { MemoryStore, type MemoryStoreOptions } from './memory.ts';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.ts';

export interface StoreOptions {
  backend: 'memory' | 'sqlite';
  /** Database file; required for sqlite. */
  path?: string;
  /** Events of history kept by automatic compaction (default DEFAULT_HISTORY_LIMIT). */
  historyLimit?: number;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const { backend, path, historyLimit } = options;
  switch (backend) {
    case 'memory':
      return new MemoryStore({ historyLimit });
    case 'sqlite':
      if (!path) throw new TypeError("openStore: the sqlite backend needs a path");
      return new SqliteStore({ path, historyLimit });
    default:
      throw new TypeError(`openStore: unknown backend ${JSON.stringify(backend satisfies never)}`);
  }
}
