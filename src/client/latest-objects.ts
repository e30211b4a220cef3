// What a controller wrote itself, kept until its informer catches up: writes followed by reads from a lagging cache
// would otherwise act on the state before the write.
import type { KubeObject } from '../api/types.ts';
import { objectKey } from './cache.ts';
import type { Informer } from './informer.ts';

/** resourceVersion as a number for comparison (etcd-style servers use decimal revisions). */
function resourceVersionOf(obj: KubeObject): bigint | undefined {
  try {
    return BigInt(obj.metadata.resourceVersion ?? '');
  } catch {
    return undefined;
  }
}

/**
 * The newest known version of objects the controller wrote itself (upstream's storeObjectUpdate): a lister answers
 * with whichever of cache and written copy has the higher resourceVersion, and forgets the copy once the cache has
 * caught up.
 */
export class LatestObjects<T extends KubeObject> {
  private readonly written = new Map<string, T>();
  private readonly informer: Informer<T>;

  constructor(informer: Informer<T>) {
    this.informer = informer;
    informer.onDelete((obj) => this.written.delete(objectKey(obj)));
  }

  remember(obj: T): T {
    this.written.set(objectKey(obj), obj);
    return obj;
  }

  newest(cached: T): T {
    return this.get(objectKey(cached)) ?? cached;
  }

  get(key: string): T | undefined {
    const cached = this.informer.get(key);
    const mine = this.written.get(key);
    if (!mine) return cached;
    if (!cached) return mine;
    const [a, b] = [resourceVersionOf(cached), resourceVersionOf(mine)];
    if (a === undefined || b === undefined || a >= b) {
      this.written.delete(key);
      return cached;
    }
    return mine;
  }
}
