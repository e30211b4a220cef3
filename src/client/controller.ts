// The client-go controller shape: informers fill caches and enqueue keys; workers take keys from a rate-limited
// queue and run an idempotent sync(key) that reads the caches; a failed sync is retried with per-key backoff.
import type { KubeObject } from '../api/types.ts';
import { objectKey } from './cache.ts';
import { waitForCacheSync } from './informer.ts';
import type { Informer } from './informer.ts';
import type { Logger } from './logger.ts';
import { defaultLogger } from './logger.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { RateLimitingQueue, runWorkers } from './workqueue.ts';

export interface ControllerOptions {
  /** Names the queue and the logs. */
  name: string;
  rateLimiter?: RateLimiter<string>;
  logger?: Logger;
}

export abstract class Controller {
  readonly name: string;
  readonly queue: RateLimitingQueue<string>;
  protected readonly logger: Logger;
  private readonly cachesToSync: Array<Informer<KubeObject>> = [];

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.queue = new RateLimitingQueue<string>({ name: options.name, rateLimiter: options.rateLimiter });
    this.logger = options.logger ?? defaultLogger;
  }

  /** Brings the object (or key) to its desired state; throw to retry with backoff. */
  protected abstract sync(key: string): Promise<void>;

  /** Informers whose caches must be synced before the workers start. */
  protected addInformer<T extends KubeObject>(informer: Informer<T>): void {
    this.cachesToSync.push(informer as unknown as Informer<KubeObject>);
  }

  /** Queues the object's key ("namespace/name" or "name"). */
  enqueue(obj: KubeObject): void {
    this.queue.add(objectKey(obj));
  }

  /** Waits for the caches, runs `workers` workers until the signal aborts, then shuts the queue down and waits for in-flight syncs. */
  async run(workers: number, signal: AbortSignal): Promise<void> {
    this.logger.info({ controller: this.name }, 'starting controller');
    if (!(await waitForCacheSync(signal, ...this.cachesToSync))) {
      this.logger.info({ controller: this.name }, 'stopped before caches synced');
      this.queue.shutDown();
      return;
    }
    const stop = (): void => this.queue.shutDown();
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    await runWorkers(this.queue, workers, (key) => this.sync(key), { logger: this.logger });
    this.logger.info({ controller: this.name }, 'shutting down controller');
  }
}
