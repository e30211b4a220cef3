// The csi-snapshotter sidecar's wiring (external-snapshotter's sidecar-controller/snapshot_controller_base.go):
// content and class informers → one keyed work queue with per-item exponential backoff (1 s … 5 min) → workers running
// snapshotter-logic.ts against the driver's CSI endpoint. A sync may ask to look again (a snapshot not ready yet):
// that requeues with backoff without counting as a failure in the logs. No client-side throttling.
import type { KubeObject, VolumeSnapshotClass, VolumeSnapshotContent } from '../../api/types.ts';
import { objectKey } from '../../client/cache.ts';
import { EventRecorder } from '../../client/events.ts';
import { SharedInformerFactory, waitForCacheSync } from '../../client/informer.ts';
import type { Informer } from '../../client/informer.ts';
import type { Logger } from '../../client/logger.ts';
import { defaultLogger } from '../../client/logger.ts';
import { sidecarRateLimiter } from '../../client/rate-limiter.ts';
import { Resources } from '../../client/resources.ts';
import type { KubeClient, ResourceType } from '../../client/rest.ts';
import { RateLimitingQueue } from '../../client/workqueue.ts';
import type { CsiClient } from '../../csi/grpc.ts';
import type { Snapshot } from '../../csi/types.ts';
import { LatestObjects } from '../../client/latest-objects.ts';
import { shouldEnqueueContentChange } from '../snapshot/utils.ts';
import type { CsiSnapshot, CsiSnapshotClient, SnapshotterApi } from './snapshotter-logic.ts';
import { SnapshotterSyncLogic } from './snapshotter-logic.ts';

export interface SnapshotterControllerOptions {
  client: KubeClient;
  /** The driver's CSI client (connectCsi; its default call timeout is upstream's --timeout of 1 min). */
  csi: CsiClient;
  /** Defaults to the driver's GetPluginInfo name. */
  driverName?: string;
  informers?: SharedInformerFactory;
  /** Upstream's --worker-threads is 10; more keeps bursts of snapshots fast. */
  workers?: number;
  retryIntervalStartMs?: number;
  retryIntervalMaxMs?: number;
  extraCreateMetadata?: boolean;
  snapshotNamePrefix?: string;
  logger?: Logger;
}

interface Secret extends KubeObject {
  data?: Record<string, string>;
}
const secrets: ResourceType<Secret> & { kind: string } = { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };

function compileOptions(o: SnapshotterControllerOptions) {
  return {
    client: o.client,
    csi: o.csi,
    driverName: o.driverName,
    informers: o.informers ?? new SharedInformerFactory(o.client, { resyncPeriodMs: 15 * 60_000, logger: o.logger }),
    ownsInformers: !o.informers,
    workers: o.workers ?? 32,
    retryIntervalStartMs: o.retryIntervalStartMs ?? 1000,
    retryIntervalMaxMs: o.retryIntervalMaxMs ?? 5 * 60_000,
    extraCreateMetadata: o.extraCreateMetadata ?? false,
    snapshotNamePrefix: o.snapshotNamePrefix,
    logger: o.logger ?? defaultLogger,
  };
}

/** A CSI Snapshot message as the sidecar's logic sees it. */
export function fromCsiSnapshot(s: Snapshot): CsiSnapshot {
  const t = s.creation_time;
  return {
    snapshotId: s.snapshot_id,
    sourceVolumeId: s.source_volume_id,
    creationTimeNs: t ? Number(t.seconds) * 1e9 + (t.nanos ?? 0) : 0,
    sizeBytes: Number(s.size_bytes || 0),
    readyToUse: s.ready_to_use,
  };
}

/** The logic's CSI interface over the generated client. */
export function csiSnapshotClient(csi: CsiClient): CsiSnapshotClient {
  return {
    createSnapshot: async (req) =>
      fromCsiSnapshot((await csi.createSnapshot({ name: req.name, source_volume_id: req.sourceVolumeId, parameters: req.parameters, secrets: req.secrets ?? {} })).snapshot),
    deleteSnapshot: async (req) => {
      await csi.deleteSnapshot({ snapshot_id: req.snapshotId, secrets: req.secrets ?? {} });
    },
    listSnapshots: async (req) =>
      (await csi.listSnapshots({ snapshot_id: req.snapshotId, secrets: req.secrets ?? {} })).entries.map((e) => fromCsiSnapshot(e.snapshot)),
  };
}

export class SnapshotterController {
  private readonly options: ReturnType<typeof compileOptions>;
  private readonly queue: RateLimitingQueue<string>;
  private readonly contentInformer: Informer<VolumeSnapshotContent>;
  private readonly classInformer: Informer<VolumeSnapshotClass>;
  private readonly contents: LatestObjects<VolumeSnapshotContent>;

  constructor(options: SnapshotterControllerOptions) {
    const o = (this.options = compileOptions(options));
    this.queue = new RateLimitingQueue({ name: 'csi-snapshotter-content', rateLimiter: sidecarRateLimiter<string>(o.retryIntervalStartMs, o.retryIntervalMaxMs) });
    this.contentInformer = o.informers.informerFor(Resources.volumeSnapshotContents);
    this.classInformer = o.informers.informerFor(Resources.volumeSnapshotClasses);
    this.contents = new LatestObjects(this.contentInformer);
    const enqueue = (c: VolumeSnapshotContent) => this.queue.add(objectKey(c));
    this.contentInformer.onAdd(enqueue);
    // The sidecar's own writes (status, finalizers, the being-created annotation) need no new sync.
    this.contentInformer.onUpdate((old, cur) => {
      if (shouldEnqueueContentChange(old, cur)) enqueue(cur);
    });
  }

  private async newLogic(): Promise<{ logic: SnapshotterSyncLogic; recorder: EventRecorder }> {
    const o = this.options;
    const driverName = o.driverName ?? (await o.csi.getPluginInfo({})).name;
    const recorder = new EventRecorder(o.client, { component: `csi-snapshotter ${driverName}`, logger: o.logger });
    const caps = await o.csi.controllerGetCapabilities({});
    const listSnapshotsSupported = caps.capabilities.some((c) => c.rpc?.type === 'LIST_SNAPSHOTS');
    const vsc = o.client.resource(Resources.volumeSnapshotContents);
    const secretClient = o.client.resource(secrets);
    const api: SnapshotterApi = {
      getContent: async (name) => this.contents.remember(await vsc.get(name)),
      patchContent: async (name, p) => this.contents.remember(await vsc.patch(name, p, 'merge')),
      patchContentStatus: async (name, p) => this.contents.remember(await vsc.patch(name, p, 'merge', undefined, { subresource: 'status' })),
      getSecretData: async (namespace, name) => {
        const s = await secretClient.get(name, namespace);
        return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      },
    };
    const logic = new SnapshotterSyncLogic({
      driverName,
      listers: { getClass: (name) => this.classInformer.get(name) },
      api,
      csi: csiSnapshotClient(o.csi),
      recorder,
      listSnapshotsSupported,
      extraCreateMetadata: o.extraCreateMetadata,
      snapshotNamePrefix: o.snapshotNamePrefix,
    });
    return { logic, recorder };
  }

  /** Runs until the signal aborts: asks the driver who it is, waits for the caches, then works the queue. */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.options;
    const { logic, recorder } = await this.newLogic();
    if (o.ownsInformers) o.informers.start();
    try {
      if (!(await waitForCacheSync(signal, this.contentInformer, this.classInformer))) return;
      o.logger.info({ workers: o.workers }, 'Starting CSI snapshotter');
      const stop = (): void => this.queue.shutDown();
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      const worker = async (): Promise<void> => {
        for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
          let requeue: boolean;
          try {
            const content = this.contents.get(key);
            requeue = content !== undefined && logic.isDriverMatch(content) ? await logic.syncContent(content) : false;
          } catch (err) {
            o.logger.info({ key, err }, 'Failed to sync content, will retry again');
            requeue = true;
          }
          if (requeue) this.queue.addRateLimited(key);
          else this.queue.forget(key);
          this.queue.done(key);
        }
      };
      await Promise.all(Array.from({ length: o.workers }, worker));
      o.logger.info({}, 'Shutting CSI snapshotter');
    } finally {
      recorder.close();
      if (o.ownsInformers) o.informers.shutdown();
    }
  }
}
