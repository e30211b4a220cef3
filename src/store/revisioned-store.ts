import { CompactedError, KeyNotFoundError, RevisionConflictError } from './errors.ts';
import type { KeyValue, ListResult, Store, Watch, WatchEvent, WatchOptions } from './types.ts';
import { WatchHub } from './watch-hub.ts';

/** Events of history kept by automatic compaction unless a backend is told otherwise. */
export const DEFAULT_HISTORY_LIMIT = 50_000;

/**
 * What every in-process backend shares: the revision counter, preconditions, compaction (explicit and automatic)
 * and watch fan-out. A backend stores values and history; it calls `committed` once a write is durable.
 */
export abstract class RevisionedStore implements Store {
  /** Latest committed revision. */
  protected revision = 0;
  /** History up to and including this revision is gone. */
  protected compacted = 0;
  readonly #hub = new WatchHub();
  readonly #historyLimit: number;
  // Automatic compaction runs once this many events past the limit pile up, so each run is one sizeable batch.
  readonly #trimBatch: number;
  #trimScheduled: NodeJS.Immediate | undefined;
  #closed = false;

  /** historyLimit: events of history kept by automatic compaction (Infinity keeps all). */
  constructor(historyLimit: number = DEFAULT_HISTORY_LIMIT) {
    if (!(Number.isSafeInteger(historyLimit) && historyLimit >= 1) && historyLimit !== Infinity) {
      throw new RangeError(`historyLimit must be a positive integer or Infinity, got ${historyLimit}`);
    }
    this.#historyLimit = historyLimit;
    this.#trimBatch = Math.min(10_000, Math.ceil(historyLimit / 10));
  }

  abstract get(key: string): Promise<KeyValue | undefined>;
  abstract list(prefix: string): Promise<ListResult>;
  abstract create(key: string, value: string): Promise<number>;
  abstract update(key: string, value: string, expectedModRevision?: number): Promise<number>;
  abstract delete(key: string, expectedModRevision?: number): Promise<number>;
  /** Events under prefix with revision > afterRevision, in revision order. */
  protected abstract historySince(prefix: string, afterRevision: number): WatchEvent[];
  /** Removes history up to and including revision and records it as the compacted revision. */
  protected abstract dropHistory(revision: number): void;
  protected abstract closeBackend(): void;

  async currentRevision(): Promise<number> {
    return this.revision;
  }

  compactedRevision(): number {
    return this.compacted;
  }

  async compact(revision: number): Promise<void> {
    this.#compact(revision);
  }

  async watch(prefix: string, options: WatchOptions): Promise<Watch> {
    if (options.afterRevision < this.compacted) throw new CompactedError(options.afterRevision, this.compacted);
    // Reading history and registering happen in one synchronous turn: no write can fall between them.
    return this.#hub.add(prefix, options, this.historySince(prefix, options.afterRevision));
  }

  /** Idempotent. Writes already issued complete first; watches end without an error. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#trimScheduled) clearImmediate(this.#trimScheduled);
    this.#trimScheduled = undefined;
    this.#hub.clear();
    this.closeBackend();
  }

  /** The key's current value, after checking that it exists and matches expectedModRevision when given. */
  protected requireCurrent(key: string, current: KeyValue | undefined, expectedModRevision?: number): KeyValue {
    if (!current) throw new KeyNotFoundError(key);
    if (expectedModRevision !== undefined && current.modRevision !== expectedModRevision) {
      throw new RevisionConflictError(key, expectedModRevision, current.modRevision);
    }
    return current;
  }

  /** Advances the revision and tells watchers, before the write's promise resolves. */
  protected committed(event: WatchEvent): void {
    this.revision = event.revision;
    this.#hub.publish(event);
    if (!this.#trimScheduled && this.revision - this.compacted >= this.#historyLimit + this.#trimBatch) {
      this.#trimScheduled = setImmediate(() => {
        this.#trimScheduled = undefined;
        this.#compact(this.revision - this.#historyLimit);
      });
    }
  }

  #compact(revision: number): void {
    const target = Math.min(revision, this.revision);
    if (target <= this.compacted) return;
    this.dropHistory(target);
    this.compacted = target;
  }
}
