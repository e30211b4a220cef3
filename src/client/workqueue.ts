// client-go's rate-limited work queue (util/workqueue): an item is queued at most once however often it is added
// ("dirty"), is handed to one worker at a time ("processing"), and an item added while it is processed is queued
// again when the worker calls done(). addAfter/addRateLimited delay an add; the rate limiter tracks per-item retries.
import type { Logger } from './logger.ts';
import { defaultLogger } from './logger.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { defaultControllerRateLimiter } from './rate-limiter.ts';

export interface WorkQueueOptions<T> {
  /** Shown in logs. */
  name?: string;
  /** Per-item retry delays for addRateLimited; defaults to client-go's DefaultControllerRateLimiter. */
  rateLimiter?: RateLimiter<T>;
}

// Items are non-nullable so that get() can answer undefined for "shut down".
export class RateLimitingQueue<T extends {} = string> {
  readonly name: string;
  private readonly rateLimiter: RateLimiter<T>;
  private queue: T[] = [];
  private head = 0;
  private readonly dirty = new Set<T>();
  private readonly processing = new Set<T>();
  /** Items waiting for addAfter: the earliest requested time wins, as in client-go's delaying queue. */
  private readonly waiting = new Map<T, { readyAt: number; timer: NodeJS.Timeout }>();
  private readonly getters: Array<(item: T | undefined) => void> = [];
  private stopping = false;

  constructor(options: WorkQueueOptions<T> = {}) {
    this.name = options.name ?? '';
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<T>();
  }

  add(item: T): void {
    if (this.stopping || this.dirty.has(item)) return;
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    const getter = this.getters.shift();
    if (getter) {
      this.dirty.delete(item);
      this.processing.add(item);
      getter(item);
    } else {
      this.queue.push(item);
    }
  }

  /** Items ready to be handed out (not the ones being processed or waiting for a delay). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** The next item, marked as processing until done(item); undefined once the queue is shut down and drained. */
  get(): Promise<T | undefined> {
    if (this.len() > 0) {
      const item = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.dirty.delete(item);
      this.processing.add(item);
      return Promise.resolve(item);
    }
    if (this.stopping) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** The worker finished with the item; if it was added meanwhile, it is queued again now. */
  done(item: T): void {
    this.processing.delete(item);
    if (this.dirty.has(item)) {
      this.dirty.delete(item);
      this.add(item);
    }
  }

  addAfter(item: T, delayMs: number): void {
    if (this.stopping) return;
    if (delayMs <= 0) {
      this.add(item);
      return;
    }
    const readyAt = Date.now() + delayMs;
    const existing = this.waiting.get(item);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, delayMs);
    timer.unref?.();
    this.waiting.set(item, { readyAt, timer });
  }

  /** Adds the item after the rate limiter's delay for it (a retry). */
  addRateLimited(item: T): void {
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** The item succeeded: stop tracking its retries (the queue itself is unaffected). */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** Stops accepting items; get() still hands out what is queued, then answers undefined. */
  shutDown(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    for (const getter of this.getters.splice(0)) getter(undefined);
  }

  shuttingDown(): boolean {
    return this.stopping;
  }
}

export interface RunWorkersOptions {
  logger?: Logger;
}

/**
 * Runs `workers` loops that take keys from the queue and call `sync(key)`: success forgets the key's retries,
 * a throw re-adds it with the rate limiter's backoff. Resolves when the queue is shut down and every worker is idle.
 */
export async function runWorkers<T extends {}>(
  queue: RateLimitingQueue<T>,
  workers: number,
  sync: (key: T) => Promise<void>,
  options: RunWorkersOptions = {},
): Promise<void> {
  const logger = options.logger ?? defaultLogger;
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await sync(key);
        queue.forget(key);
      } catch (err) {
        logger.error({ queue: queue.name, key, requeues: queue.numRequeues(key), err }, 'sync failed; requeuing with backoff');
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}
