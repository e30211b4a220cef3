import { MemoryStore } from './memory.ts';
import { SqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export * from './errors.ts';
export type * from './types.ts';
export { DEFAULT_HISTORY_LIMIT } from './revisioned-store.ts';
export { MemoryStore, type MemoryStoreOptions } from './memory.ts';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.ts';
// EtcdStore is loaded only when asked for: its gRPC client takes about a second to import.
export type { EtcdStore, EtcdStoreOptions } from './etcd.ts';

export interface StoreOptions {
  backend: 'memory' | 'sqlite' | 'etcd';
  /** Database file; required for sqlite. */
  path?: string;
  /** etcd client URLs; required for etcd. */
  endpoints?: string[];
  /** Key prefix in etcd (default "/strata"). */
  prefix?: string;
  /** Events of history kept by automatic compaction (default DEFAULT_HISTORY_LIMIT). */
  historyLimit?: number;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const { backend, path, endpoints, prefix, historyLimit } = options;
  switch (backend) {
    case 'memory':
      return new MemoryStore({ historyLimit });
    case 'sqlite':
      if (!path) throw new TypeError("openStore: the sqlite backend needs a path");
      return new SqliteStore({ path, historyLimit });
    case 'etcd': {
      if (!endpoints?.length) throw new TypeError('openStore: the etcd backend needs endpoints');
      const { EtcdStore } = await import('./etcd.ts');
      return EtcdStore.open({ endpoints, prefix, historyLimit });
    }
    default:
      throw new TypeError(`openStore: unknown backend ${JSON.stringify(backend satisfies never)}`);
  }
}
