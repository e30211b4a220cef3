import { Etcd3, type ICompare, type IKeyValue, type IRequestOp, type IWatchResponse, type Watcher } from 'etcd3';
import { KeyExistsError, KeyNotFoundError, RevisionConflictError, StoreError } from './errors.ts';
import { RevisionedStore } from './revisioned-store.ts';
import { EventHistory } from './event-history.ts';
import type { KeyValue, ListResult, Watch, WatchEvent, WatchOptions } from './types.ts';

export interface EtcdStoreOptions {
  /** Client URLs of the etcd cluster, e.g. ["http://127.0.0.1:2379"]. */
  endpoints: string[];
  /** Prepended to every key in etcd, so several deployments can share one cluster (default "/strata"). */
  prefix?: string;
  /** Events of history kept by automatic compaction (locally, and compacted in etcd too). */
  historyLimit?: number;
}

export const DEFAULT_ETCD_PREFIX = '/strata';

// A fresh etcd is at revision 1 with nothing written; the store counts from 0 like the other backends, so every
// store revision (and so every resourceVersion) is etcd's revision minus one. All API servers sharing a cluster
// apply the same shift, so they agree on resourceVersions.
const toStoreRevision = (etcdRevision: string | number): number => Number(etcdRevision) - 1;
const toEtcdRevision = (storeRevision: number): number => storeRevision + 1;

/** Keys fetched per range request when listing; a page is read at the revision of the first. */
const LIST_PAGE_SIZE = 1000;

/** The first key after every key that starts with prefix (byte-wise); [0] means "to the end of the keyspace". */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function isCompactedError(err: unknown): boolean {
  return err instanceof Error && err.message.includes('required revision has been compacted');
}

interface TrackedWatch {
  watch: Watch;
  onError: ((err: Error) => void) | undefined;
}

/**
 * The distributed backend: state lives in etcd, so several API servers can share it. Revisions are etcd's
 * (shifted by one, see toStoreRevision); preconditions are etcd transactions; one etcd watch over the prefix
 * (with prev_kv) feeds every local watcher and the local history that watches resume from.
 *
 * Unlike the in-process backends, a write commits in etcd before this process hears of it. To keep their
 * guarantee — a write's watch event is delivered to local watchers before the write's promise resolves, which the
 * API server's watch cache relies on for read-your-writes — every write resolves only once its revision has come
 * back through the store's own watch. Writes from other processes arrive through the same watch, later.
 *
 * Writes from one store are sent one at a time, so writes issued together apply in call order; reads wait for the
 * writes issued before them. Local history starts at the revision the store opened at: a watch from before it
 * fails with CompactedError (the API server answers 410 and the client relists), as kube-apiserver's watch cache
 * does after a restart.
 */
export class EtcdStore extends RevisionedStore {
  readonly #client: Etcd3;
  /** The key prefix in etcd, as bytes. Store keys start with "/", so this deployment's keys are those under root + "/". */
  readonly #root: Buffer;
  #watcher: Watcher | undefined;
  /** Events after the revision the store opened at (or the compacted one), in revision order. */
  readonly #history = new EventHistory();
  /** Tail of the write chain; never rejects. */
  #writes: Promise<unknown> = Promise.resolve();
  /** Revision of the last write this store made (for close to wait for its event). */
  #lastWritten = 0;
  readonly #deliveryWaiters: Array<{ revision: number; resolve: () => void }> = [];
  /** Local watches, so a failure of the etcd watch can be reported to each. */
  readonly #watches = new Set<TrackedWatch>();
  /** Set once the etcd watch has failed for good: local watches can no longer be served. */
  #failure: Error | undefined;
  /** etcd compactions under way (close waits for them). */
  readonly #compactions = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  private constructor(options: EtcdStoreOptions) {
    super(options.historyLimit);
    if (options.endpoints.length === 0) throw new TypeError('EtcdStore: at least one endpoint is needed');
    this.#root = Buffer.from(options.prefix ?? DEFAULT_ETCD_PREFIX);
    this.#client = new Etcd3({
      hosts: options.endpoints,
      dialTimeout: 5000,
      // Lists and events of large objects exceed gRPC's 4 MiB default.
      grpcOptions: { 'grpc.max_receive_message_length': -1 },
    });
  }

  /** Connects, reads the current revision and starts the watch that feeds local watchers. */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(options);
    try {
      await store.#start();
    } catch (err) {
      store.#client.close();
      throw new StoreError(`cannot open the etcd store at ${options.endpoints.join(',')}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  async #start(): Promise<void> {
    const opened = await this.#etcdCurrentRevision();
    this.revision = opened;
    this.compacted = opened;
    const watcher = this.#client.watch()
      .inRange({ start: this.#etcdKey('/'), end: prefixEnd(this.#etcdKey('/')) })
      .withPreviousKV()
      .startRevision(String(toEtcdRevision(opened) + 1))
      .watcher();
    watcher.on('data', (response) => this.#receive(watcher, response));
    watcher.on('connected', () => this.#resumeAfterDelivered(watcher));
    watcher.on('error', (err) => this.#fail(new StoreError(`the etcd watch ended: ${err.message}`, { cause: err })));
    this.#watcher = watcher;
    await new Promise<void>((resolve, reject) => {
      watcher.once('connected', () => resolve());
      watcher.once('error', reject);
    });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    await this.#writes;
    const { kvs } = await this.#client.kv.range({ key: this.#etcdKey(key) });
    return kvs[0] && this.#keyValue(kvs[0]);
  }

  async list(prefix: string): Promise<ListResult> {
    // Every key starts with "/": under any other non-empty prefix there is nothing.
    if (prefix !== '' && !prefix.startsWith('/')) return { items: [], revision: await this.currentRevision() };
    await this.#writes;
    const start = this.#etcdKey(prefix || '/');
    const end = prefixEnd(start);
    const items: KeyValue[] = [];
    let revision: number | undefined;
    let from = start;
    for (;;) {
      const page = await this.#client.kv.range({
        key: from,
        range_end: end,
        limit: LIST_PAGE_SIZE,
        revision: revision === undefined ? 0 : toEtcdRevision(revision),
      });
      revision ??= toStoreRevision(page.header.revision);
      for (const kv of page.kvs) items.push(this.#keyValue(kv));
      if (!page.more || page.kvs.length === 0) return { items, revision };
      from = Buffer.concat([page.kvs.at(-1)!.key, Buffer.from([0])]);
    }
  }

  async create(key: string, value: string): Promise<number> {
    const etcdKey = this.#etcdKey(key);
    return this.#write(async () => {
      const response = await this.#client.kv.txn({
        compare: [{ key: etcdKey, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: etcdKey, value: Buffer.from(value) } }],
      });
      if (!response.succeeded) throw new KeyExistsError(key);
      return toStoreRevision(response.header.revision);
    });
  }

  async update(key: string, value: string, expectedModRevision?: number): Promise<number> {
    return this.#conditionalWrite(key, expectedModRevision, { request_put: { key: this.#etcdKey(key), value: Buffer.from(value) } });
  }

  async delete(key: string, expectedModRevision?: number): Promise<number> {
    return this.#conditionalWrite(key, expectedModRevision, { request_delete_range: { key: this.#etcdKey(key) } });
  }

  /** etcd's current revision: includes writes of other API servers not yet delivered here. */
  override async currentRevision(): Promise<number> {
    await this.#writes;
    return this.#etcdCurrentRevision();
  }

  override async watch(prefix: string, options: WatchOptions): Promise<Watch> {
    if (this.#failure) throw this.#failure;
    const watch = await super.watch(prefix, options);
    const tracked: TrackedWatch = { watch, onError: options.onError };
    this.#watches.add(tracked);
    return {
      cancel: () => {
        this.#watches.delete(tracked);
        watch.cancel();
      },
    };
  }

  /** Idempotent. Writes already issued complete and reach watchers first; watches end without an error. */
  override close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#writes;
      await this.#delivered(this.#lastWritten);
      const watcher = this.#watcher;
      watcher?.removeAllListeners();
      // Cancelling waits for etcd's answer; a cluster that is already gone must not hold close up.
      await Promise.race([watcher?.cancel().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      await Promise.all(this.#compactions);
      // In the same turn as the wait above: no automatic compaction can start in between.
      await super.close();
    })();
    return this.#closing;
  }

  protected historySince(prefix: string, afterRevision: number): WatchEvent[] {
    return this.#history.since(prefix, afterRevision);
  }

  protected dropHistory(revision: number): void {
    this.#history.dropThrough(revision);
    // etcd keeps the state at the compaction revision; another API server may already have compacted further.
    const compaction = this.#client.kv
      .compact({ revision: toEtcdRevision(revision) })
      .then(
        () => {},
        (err: unknown) => {
          if (!isCompactedError(err)) process.emitWarning(`etcd compaction to ${revision} failed: ${(err as Error).message}`);
        },
      )
      .finally(() => this.#compactions.delete(compaction));
    this.#compactions.add(compaction);
  }

  protected closeBackend(): void {
    this.#client.close();
  }

  /** The revision in the header of the cheapest linearizable read. */
  async #etcdCurrentRevision(): Promise<number> {
    const { header } = await this.#client.kv.range({ key: this.#root, count_only: true });
    return toStoreRevision(header.revision);
  }


  /** update/delete: the key must exist and, when expectedModRevision is given, have that modRevision. */
  #conditionalWrite(key: string, expectedModRevision: number | undefined, operation: IRequestOp): Promise<number> {
    const etcdKey = this.#etcdKey(key);
    const compare: ICompare[] = [{ key: etcdKey, target: 'Create', result: 'Greater', create_revision: 0 }];
    if (expectedModRevision !== undefined) {
      compare.push({ key: etcdKey, target: 'Mod', result: 'Equal', mod_revision: toEtcdRevision(expectedModRevision) });
    }
    return this.#write(async () => {
      const response = await this.#client.kv.txn({ compare, success: [operation], failure: [{ request_range: { key: etcdKey } }] });
      if (response.succeeded) return toStoreRevision(response.header.revision);
      const current = response.responses[0]?.response_range.kvs[0];
      if (!current) throw new KeyNotFoundError(key);
      throw new RevisionConflictError(key, expectedModRevision!, toStoreRevision(current.mod_revision));
    });
  }

  /** Runs write after the writes issued before it; resolves once its event has reached local watchers. */
  async #write(write: () => Promise<number>): Promise<number> {
    const committed = this.#writes.then(async () => {
      const revision = await write();
      this.#lastWritten = revision;
      return revision;
    });
    this.#writes = committed.catch(() => {});
    const revision = await committed;
    await this.#delivered(revision);
    return revision;
  }

  /** Resolves once local watchers have been given every event up to revision (or the etcd watch has failed). */
  #delivered(revision: number): Promise<void> {
    if (revision <= this.revision || this.#failure) return Promise.resolve();
    return new Promise((resolve) => this.#deliveryWaiters.push({ revision, resolve }));
  }

  #receive(watcher: Watcher, response: IWatchResponse): void {
    try {
      for (const { type, kv, prev_kv } of response.events) {
        const event = this.#watchEvent(type, kv, prev_kv);
        this.#history.append(event);
        this.committed(event);
      }
    } catch (err) {
      this.#fail(err instanceof StoreError ? err : new StoreError(`bad etcd watch event: ${(err as Error).message}`, { cause: err }));
      return;
    }
    this.#resumeAfterDelivered(watcher);
    this.#releaseWaiters();
  }

  // The client resumes a broken stream after the last response's header revision, which, while etcd is catching a
  // slow watcher up, can be past events not sent yet; resume after the last event delivered instead.
  #resumeAfterDelivered(watcher: Watcher): void {
    watcher.request.start_revision = String(toEtcdRevision(this.revision) + 1);
  }

  #releaseWaiters(): void {
    for (let i = this.#deliveryWaiters.length - 1; i >= 0; i--) {
      const waiter = this.#deliveryWaiters[i]!;
      if (waiter.revision <= this.revision || this.#failure) {
        this.#deliveryWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** The etcd watch is gone (e.g. compacted past while disconnected): end every local watch with the error. */
  #fail(err: Error): void {
    if (this.#failure || this.#closing) return;
    this.#failure = err;
    for (const { watch, onError } of this.#watches) {
      watch.cancel();
      onError?.(err);
    }
    this.#watches.clear();
    // Writes already committed still resolve, without the read-your-writes guarantee.
    this.#releaseWaiters();
  }

  #watchEvent(type: string, kv: IKeyValue, prevKv: IKeyValue | undefined): WatchEvent {
    if (type === 'Put') {
      const current = this.#keyValue(kv);
      return prevKv
        ? { type: 'put', kv: current, prevKv: this.#keyValue(prevKv), revision: current.modRevision }
        : { type: 'put', kv: current, revision: current.modRevision };
    }
    if (!prevKv) throw new StoreError(`etcd sent a delete of ${kv.key.toString()} without its previous value`);
    const previous = this.#keyValue(prevKv);
    return { type: 'delete', kv: previous, prevKv: previous, revision: toStoreRevision(kv.mod_revision) };
  }

  #keyValue(kv: IKeyValue): KeyValue {
    return Object.freeze({
      key: kv.key.subarray(this.#root.length).toString(),
      value: kv.value.toString(),
      modRevision: toStoreRevision(kv.mod_revision),
      createRevision: toStoreRevision(kv.create_revision),
    });
  }

  #etcdKey(key: string): Buffer {
    if (!key.startsWith('/')) throw new TypeError(`EtcdStore: keys start with "/", got ${JSON.stringify(key)}`);
    return Buffer.concat([this.#root, Buffer.from(key)]);
  }
}
