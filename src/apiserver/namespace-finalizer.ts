// Namespace deletion, as kube-controller-manager's namespace controller does it: a namespace with a
// deletionTimestamp has every object in it deleted (honouring their finalizers); once none is left, the
// `kubernetes` finalizer is dropped and the namespace goes.
import { ApiError } from './errors.ts';
import { RESOURCES, findResource, keyPrefix } from './resources.ts';
import type { Rest } from './rest.ts';
import type { WatchCache } from './watch-cache.ts';

const namespaces = findResource('', 'v1', 'namespaces')!;

export class NamespaceFinalizer {
  private readonly rest: Rest;
  private readonly cache: WatchCache;
  private unsubscribe?: () => void;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;

  constructor(rest: Rest, cache: WatchCache) {
    this.rest = rest;
    this.cache = cache;
  }

  start(): void {
    this.unsubscribe = this.cache.subscribe(keyPrefix(namespaces), this.cache.resourceVersion, (ev) => {
      if (ev.type !== 'DELETED' && ev.current.obj.metadata.deletionTimestamp) this.kick();
    });
    // Objects with finalizers keep a namespace alive; look again until they are gone.
    this.timer = setInterval(() => this.kick(), 2000);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    this.unsubscribe?.();
    clearInterval(this.timer);
  }

  private kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.sweep().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async sweep(): Promise<void> {
    for (const ns of this.cache.list(namespaces)) {
      const { metadata } = ns.obj;
      if (!metadata.deletionTimestamp) continue;
      const name = metadata.name!;
      try {
        await this.finalize(name);
      } catch (e) {
        if (!(e instanceof ApiError)) process.emitWarning(`namespace controller: ${name}: ${(e as Error).message}`);
      }
    }
  }

  private async finalize(name: string): Promise<void> {
    let remaining = 0;
    for (const r of RESOURCES) {
      if (!r.namespaced) continue;
      for (const c of this.cache.list(r, name)) {
        remaining++;
        const { metadata } = c.obj;
        if (metadata.deletionTimestamp && r.kind !== 'Pod') continue;
        await this.rest.delete(r, name, metadata.name!, { dryRun: false }).catch((e) => {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        });
      }
    }
    if (remaining > 0) return;
    await this.rest.finalizeNamespace(name, 'kubernetes');
  }
}
