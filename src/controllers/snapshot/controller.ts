// The common snapshot controller's wiring (external-snapshotter's common-controller/snapshot_controller_base.go):
// informers for snapshots, contents, classes, PVCs and PVs → two keyed work queues with per-item exponential backoff
// (1 s … 5 min) → workers running the sync logic of snapshot-logic.ts. No client-side throttling; the objects the
// controller writes are remembered until its informers catch up, so a sync never acts on its own stale state.
import { LatestObjects } from '../../client/latest-objects.ts';
import type { Registry } from 'prom-client';
import type { KubeObject, PersistentVolume, PersistentVolumeClaim, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from '../../api/types.ts';
import { objectKey, splitKey } from '../../client/cache.ts';
import { EventRecorder } from '../../client/events.ts';
import { SharedInformerFactory, waitForCacheSync } from '../../client/informer.ts';
import type { Informer } from '../../client/informer.ts';
import type { Logger } from '../../client/logger.ts';
import { defaultLogger } from '../../client/logger.ts';
import { sidecarRateLimiter } from '../../client/rate-limiter.ts';
import { Resources } from '../../client/resources.ts';
import type { KubeClient } from '../../client/rest.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import { SnapshotOperationMetrics } from './metrics.ts';
import type { SnapshotApi, SnapshotListers } from './snapshot-logic.ts';
import { SnapshotSyncLogic } from './snapshot-logic.ts';
import { SnapshotKind } from './utils.ts';

export interface SnapshotControllerOptions {
  client: KubeClient;
  /** Shared with the process's other controllers; one is made when absent. */
  informers?: SharedInformerFactory;
  /** Workers per queue (upstream's --worker-threads is 10; more keeps bursts of snapshots fast). */
  workers?: number;
  /** Per-item retry backoff (upstream --retry-interval-start / --retry-interval-max). */
  retryIntervalStartMs?: number;
  retryIntervalMaxMs?: number;
  /** Where snapshot_controller_operation_total_seconds and snapshot_controller_operations_in_flight are registered. */
  registry?: Registry;
  preventVolumeModeConversion?: boolean;
  logger?: Logger;
}

const claimBySourceIndex = 'snapshotSourceClaim';
const claimByDataSourceSnapshotIndex = 'dataSourceSnapshot';

function compileOptions(o: SnapshotControllerOptions) {
  return {
    client: o.client,
    informers: o.informers ?? new SharedInformerFactory(o.client, { resyncPeriodMs: 15 * 60_000, logger: o.logger }),
    ownsInformers: !o.informers,
    workers: o.workers ?? 32,
    retryIntervalStartMs: o.retryIntervalStartMs ?? 1000,
    retryIntervalMaxMs: o.retryIntervalMaxMs ?? 5 * 60_000,
    registry: o.registry,
    preventVolumeModeConversion: o.preventVolumeModeConversion ?? true,
    logger: o.logger ?? defaultLogger,
  };
}

function nsKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export class SnapshotController {
  private readonly options: ReturnType<typeof compileOptions>;
  private readonly snapshotQueue: RateLimitingQueue<string>;
  private readonly contentQueue: RateLimitingQueue<string>;
  private readonly snapshotInformer: Informer<VolumeSnapshot>;
  private readonly contentInformer: Informer<VolumeSnapshotContent>;
  private readonly classInformer: Informer<VolumeSnapshotClass>;
  private readonly claimInformer: Informer<PersistentVolumeClaim>;
  private readonly volumeInformer: Informer<PersistentVolume>;
  private readonly recorder: EventRecorder;
  readonly logic: SnapshotSyncLogic;

  constructor(options: SnapshotControllerOptions) {
    const o = (this.options = compileOptions(options));
    const limiter = () => sidecarRateLimiter<string>(o.retryIntervalStartMs, o.retryIntervalMaxMs);
    this.snapshotQueue = new RateLimitingQueue({ name: 'snapshot-controller-snapshot', rateLimiter: limiter() });
    this.contentQueue = new RateLimitingQueue({ name: 'snapshot-controller-content', rateLimiter: limiter() });
    this.snapshotInformer = o.informers.informerFor(Resources.volumeSnapshots);
    this.contentInformer = o.informers.informerFor(Resources.volumeSnapshotContents);
    this.classInformer = o.informers.informerFor(Resources.volumeSnapshotClasses);
    this.claimInformer = o.informers.informerFor(Resources.pvc);
    this.volumeInformer = o.informers.informerFor(Resources.pv);
    this.recorder = new EventRecorder(o.client, { component: 'snapshot-controller', logger: o.logger });

    this.snapshotInformer.addIndexer(claimBySourceIndex, (s) =>
      s.spec?.source?.persistentVolumeClaimName ? [nsKey(s.metadata.namespace ?? '', s.spec.source.persistentVolumeClaimName)] : [],
    );
    this.claimInformer.addIndexer(claimByDataSourceSnapshotIndex, (pvc) => {
      const names = [pvc.spec?.dataSource, pvc.spec?.dataSourceRef].filter((d) => d?.kind === SnapshotKind).map((d) => nsKey(pvc.metadata.namespace ?? '', d!.name));
      return [...new Set(names)];
    });

    const snapshots = new LatestObjects(this.snapshotInformer);
    const contents = new LatestObjects(this.contentInformer);
    const claims = new LatestObjects(this.claimInformer);
    const listers: SnapshotListers = {
      getSnapshot: (ns, name) => snapshots.get(nsKey(ns, name)),
      snapshotsOfClaim: (ns, claim) => this.snapshotInformer.byIndex(claimBySourceIndex, nsKey(ns, claim)).map((s) => snapshots.newest(s)),
      getContent: (name) => contents.get(name),
      getClass: (name) => this.classInformer.get(name),
      listClasses: () => this.classInformer.list(),
      getClaim: (ns, name) => claims.get(nsKey(ns, name)),
      claimsRestoringFrom: (ns, name) => this.claimInformer.byIndex(claimByDataSourceSnapshotIndex, nsKey(ns, name)),
      getVolume: (name) => this.volumeInformer.get(name),
    };
    const vs = o.client.resource(Resources.volumeSnapshots);
    const vsc = o.client.resource(Resources.volumeSnapshotContents);
    const pvc = o.client.resource(Resources.pvc);
    const api: SnapshotApi = {
      getSnapshot: async (ns, name) => snapshots.remember(await vs.get(name, ns)),
      patchSnapshot: async (ns, name, p) => snapshots.remember(await vs.patch(name, p, 'merge', ns)),
      patchSnapshotStatus: async (ns, name, p) => snapshots.remember(await vs.patch(name, p, 'merge', ns, { subresource: 'status' })),
      getContent: async (name) => contents.remember(await vsc.get(name)),
      createContent: async (c) => contents.remember(await vsc.create(c)),
      patchContent: async (name, p) => contents.remember(await vsc.patch(name, p, 'merge')),
      deleteContent: async (name) => {
        await vsc.delete(name);
      },
      getClaim: async (ns, name) => claims.remember(await pvc.get(name, ns)),
      patchClaim: async (ns, name, p) => claims.remember(await pvc.patch(name, p, 'merge', ns)),
      getVolume: (name) => o.client.resource(Resources.pv).get(name),
    };
    this.logic = new SnapshotSyncLogic({
      listers,
      api,
      recorder: this.recorder,
      enqueueSnapshot: (key) => this.snapshotQueue.add(key),
      metrics: o.registry ? new SnapshotOperationMetrics(o.registry) : undefined,
      preventVolumeModeConversion: o.preventVolumeModeConversion,
    });

    const enqueueSnapshot = (s: VolumeSnapshot) => this.snapshotQueue.add(objectKey(s));
    const enqueueContent = (c: VolumeSnapshotContent) => this.contentQueue.add(objectKey(c));
    this.snapshotInformer.onAdd(enqueueSnapshot);
    this.snapshotInformer.onUpdate((_old, s) => enqueueSnapshot(s));
    this.snapshotInformer.onDelete((s) => {
      // Deletion finished: record it and let the content notice.
      const contentName = this.logic.snapshotDeleted(s);
      if (contentName) this.contentQueue.add(contentName);
    });
    this.contentInformer.onAdd(enqueueContent);
    this.contentInformer.onUpdate((_old, c) => enqueueContent(c));
    this.contentInformer.onDelete((c) => {
      const ref = c.spec?.volumeSnapshotRef;
      if (ref?.name) this.snapshotQueue.add(nsKey(ref.namespace ?? '', ref.name));
    });
    // A restore that leaves Pending may unblock a snapshot's deletion (SnapshotDeletePending).
    const claimChanged = (pvcObj: PersistentVolumeClaim) => {
      for (const key of [pvcObj.spec?.dataSource, pvcObj.spec?.dataSourceRef].filter((d) => d?.kind === SnapshotKind).map((d) => nsKey(pvcObj.metadata.namespace ?? '', d!.name))) {
        const snapshot = snapshots.get(key);
        if (snapshot?.metadata.deletionTimestamp) this.snapshotQueue.add(key);
      }
    };
    this.claimInformer.onUpdate((old, cur) => {
      if (old.status?.phase !== cur.status?.phase) claimChanged(cur);
    });
    this.claimInformer.onDelete(claimChanged);
  }

  private async syncSnapshotKey(key: string): Promise<void> {
    const { namespace = '', name } = splitKey(key);
    await this.logic.syncSnapshotByKey(namespace, name);
  }

  /** Runs until the signal aborts: waits for the caches, then works both queues. */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.options;
    if (o.ownsInformers) o.informers.start();
    const informers = [this.snapshotInformer, this.contentInformer, this.classInformer, this.claimInformer, this.volumeInformer];
    try {
      if (!(await waitForCacheSync(signal, ...informers))) return;
      o.logger.info({ workers: o.workers }, 'Starting snapshot controller');
      const stop = (): void => {
        this.snapshotQueue.shutDown();
        this.contentQueue.shutDown();
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      await Promise.all([
        runWorkers(this.snapshotQueue, o.workers, (key) => this.syncSnapshotKey(key), { logger: o.logger }),
        runWorkers(this.contentQueue, o.workers, (key) => this.logic.syncContentByKey(key), { logger: o.logger }),
      ]);
      o.logger.info({}, 'Shutting snapshot controller');
    } finally {
      this.recorder.close();
      if (o.ownsInformers) o.informers.shutdown();
    }
  }
}

