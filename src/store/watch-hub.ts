import type { Watch, WatchEvent, WatchOptions } from './types.ts';

interface Watcher {
  prefix: string;
  afterRevision: number;
  onEvent: (event: WatchEvent) => void;
  onError: ((err: Error) => void) | undefined;
  /** Events not yet delivered, from `head` on. */
  pending: WatchEvent[];
  head: number;
}

/**
 * Fans committed events out to in-process watchers, synchronously and in revision order. A watcher first gets the
 * history it was registered with, then every published event; registration and publication happen in the same
 * synchronous turn as the history read and the commit, so nothing is missed or repeated.
 */
export class WatchHub {
  readonly #watchers = new Set<Watcher>();
  #delivering = false;

  add(prefix: string, options: WatchOptions, history: WatchEvent[]): Watch {
    const { afterRevision, onEvent, onError } = options;
    const watcher: Watcher = { prefix, afterRevision, onEvent, onError, pending: history, head: 0 };
    this.#watchers.add(watcher);
    this.#deliver();
    return { cancel: () => this.#remove(watcher) };
  }

  publish(event: WatchEvent): void {
    for (const watcher of this.#watchers) {
      if (event.revision > watcher.afterRevision && event.kv.key.startsWith(watcher.prefix)) {
        watcher.pending.push(event);
      }
    }
    this.#deliver();
  }

  /** Ends every watch without an error (the store is closing). */
  clear(): void {
    for (const watcher of this.#watchers) this.#remove(watcher);
  }

  #remove(watcher: Watcher): void {
    this.#watchers.delete(watcher);
    watcher.pending = [];
    watcher.head = 0;
  }

  // A handler that writes to the store publishes while we are delivering; the outermost call delivers those events
  // after the current ones, so every watcher still sees revisions in order.
  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      let delivered = true;
      while (delivered) {
        delivered = false;
        for (const watcher of this.#watchers) {
          while (watcher.head < watcher.pending.length) {
            const event = watcher.pending[watcher.head++]!;
            delivered = true;
            try {
              watcher.onEvent(event);
            } catch (err) {
              // A throwing handler ends its own watch, never the write or the other watchers. Its error is reported
              // outside the write (unhandled if nobody listens, like an EventEmitter 'error').
              this.#remove(watcher);
              const error = err instanceof Error ? err : new Error(String(err));
              const { onError } = watcher;
              queueMicrotask(() => {
                if (!onError) throw error;
                onError(error);
              });
            }
          }
          if (watcher.head > 0) {
            watcher.pending = [];
            watcher.head = 0;
          }
        }
      }
    } finally {
      this.#delivering = false;
    }
  }
}
