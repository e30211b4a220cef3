// The PV binder's wiring, as kube-controller-manager's persistentvolume controller (pv_controller_base.go) and its
// pvc-protection and pv-protection controllers: shared informers → keyed queues → workers running binder-logic.ts and
// protection.ts. The binder has one worker per queue (syncClaim and syncVolume are not re-entrant), never requeues a
// failed sync (the next informer event or the periodic resync retries it, as upstream), and reads the objects it wrote
// itself until its informers catch up (upstream's storeObjectUpdate).
import type { PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../api/types.ts';
import { AnnBindCompleted, PVCProtectionFinalizer, PVProtectionFinalizer } from '../../api/well-known.ts';
import { objectKey } from '../../client/cache.ts';
import { IndexerError, isConflict, isNotFound } from '../../client/errors.ts';
import { EventRecorder } from '../../client/events.ts';
import type { Informer, SharedInformerFactory } from '../../client/informer.ts';
import { waitForCacheSync } from '../../client/informer.ts';
import type { Logger } from '../../client/logger.ts';
import { defaultLogger } from '../../client/logger.ts';
import { defaultControllerRateLimiter } from '../../client/rate-limiter.ts';
import { Resources } from '../../client/resources.ts';
import type { KubeClient } from '../../client/rest.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import { LatestObjects } from '../snapshot/controller.ts';
import { PersistentVolumeBinder, isPodTerminated } from './binder-logic.ts';
import type { BinderApi, BinderListers } from './binder-logic.ts';
import { claimNamesOfPod, syncClaimProtection, syncVolumeProtection } from './protection.ts';
import type { ProtectionDeps } from './protection.ts';

/** Upstream's common.PodPVCIndex: pods by the "namespace/claim" keys of the claims they reference. */
export const PodPvcIndex = 'pod-pvc-index';

/** AddPodPVCIndexerIfNotPresent: several controllers of one process share the pod informer and this index. */
export function addPodPvcIndexer(pods: Informer<Pod>): void {
  try {
    pods.addIndexer(PodPvcIndex, (pod) => claimNamesOfPod(pod).map((name) => `${pod.metadata.namespace}/${name}`));
  } catch (err) {
    if (!(err instanceof IndexerError)) throw err;
  }
}

const claimKeyOf = (namespace: string, name: string) => `${namespace}/${name}`;

/** A queue and how its workers run; every controller here stops the same way. */
async function work(signal: AbortSignal, queues: Array<[RateLimitingQueue<string>, (key: string) => Promise<void>]>, logger: Logger): Promise<void> {
  const stop = (): void => {
    for (const [queue] of queues) queue.shutDown();
  };
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  await Promise.all(queues.map(([queue, sync]) => runWorkers(queue, 1, sync, { logger })));
}

export interface PersistentVolumeControllerOptions {
  client: KubeClient;
  informers: SharedInformerFactory;
  /** --pvclaimbinder-sync-period: every claim and volume is synced this often (default 15 s). */
  syncPeriodMs?: number;
  logger?: Logger;
}

/** kube-controller-manager's persistentvolume-binder controller. */
export class PersistentVolumeController {
  readonly claimQueue = new RateLimitingQueue<string>({ name: 'claims' });
  readonly volumeQueue = new RateLimitingQueue<string>({ name: 'volumes' });
  readonly #syncPeriodMs: number;
  readonly #logger: Logger;
  readonly #recorder: EventRecorder;
  readonly #volumeInformer: Informer<PersistentVolume>;
  readonly #claimInformer: Informer<PersistentVolumeClaim>;
  readonly #informers: Array<Informer<PersistentVolume> | Informer<PersistentVolumeClaim> | Informer<StorageClass> | Informer<Pod>>;
  readonly #volumes: LatestObjects<PersistentVolume>;
  readonly #claims: LatestObjects<PersistentVolumeClaim>;
  readonly binder: PersistentVolumeBinder;

  constructor(options: PersistentVolumeControllerOptions) {
    const { client, informers } = options;
    this.#syncPeriodMs = options.syncPeriodMs ?? 15_000;
    this.#logger = options.logger ?? defaultLogger;
    this.#recorder = new EventRecorder(client, { component: 'persistentvolume-controller', logger: this.#logger });
    const volumeInformer = (this.#volumeInformer = informers.informerFor(Resources.pv));
    const claimInformer = (this.#claimInformer = informers.informerFor(Resources.pvc));
    const classInformer = informers.informerFor(Resources.storageClasses);
    const podInformer = informers.informerFor(Resources.pods);
    this.#informers = [volumeInformer, claimInformer, classInformer, podInformer];
    addPodPvcIndexer(podInformer);
    const volumes = (this.#volumes = new LatestObjects(volumeInformer));
    const claims = (this.#claims = new LatestObjects(claimInformer));

    const listers: BinderListers = {
      getVolume: (name) => volumes.get(name),
      listVolumes: () => volumeInformer.list().map((pv) => volumes.newest(pv)),
      getClaim: (namespace, name) => claims.get(claimKeyOf(namespace, name)),
      getClass: (name) => classInformer.get(name),
      listClasses: () => classInformer.list(),
      podsForClaim: (namespace, name) => podInformer.byIndex(PodPvcIndex, claimKeyOf(namespace, name)),
    };
    const pvs = client.resource(Resources.pv);
    const pvcs = client.resource(Resources.pvc);
    const api: BinderApi = {
      getClaim: async (namespace, name) => {
        try {
          return claims.remember(await pvcs.get(name, namespace));
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      },
      updateVolume: (pv) => pvs.update(pv),
      updateVolumeStatus: (pv) => pvs.updateStatus(pv),
      updateClaim: (claim) => pvcs.update(claim),
      updateClaimStatus: (claim) => pvcs.updateStatus(claim),
    };
    this.binder = new PersistentVolumeBinder({
      listers,
      api,
      recorder: this.#recorder,
      enqueueClaim: (namespace, name) => this.claimQueue.add(claimKeyOf(namespace, name)),
      storeVolume: (pv) => volumes.remember(pv),
      storeClaim: (claim) => claims.remember(claim),
    });

    const enqueueVolume = (pv: PersistentVolume) => this.volumeQueue.add(objectKey(pv));
    const enqueueClaim = (claim: PersistentVolumeClaim) => this.claimQueue.add(objectKey(claim));
    volumeInformer.onAdd(enqueueVolume);
    volumeInformer.onUpdate((_old, pv) => enqueueVolume(pv));
    // deleteVolume: the claim's sync sees its volume gone (Lost) without waiting for the resync.
    volumeInformer.onDelete((pv) => {
      const ref = pv.spec.claimRef;
      if (ref?.name) this.claimQueue.add(claimKeyOf(ref.namespace ?? '', ref.name));
    });
    claimInformer.onAdd(enqueueClaim);
    claimInformer.onUpdate((_old, claim) => enqueueClaim(claim));
    // deleteClaim: the volume's sync releases it without waiting for the resync.
    claimInformer.onDelete((claim) => {
      if (claim.spec.volumeName) this.volumeQueue.add(claim.spec.volumeName);
    });
    // Not in upstream's wiring (it waits for the resync): a new class may be the default for classless claims
    // (RetroactiveDefaultStorageClass) or the class a claim was waiting for, so look at unbound claims at once.
    classInformer.onAdd(() => {
      for (const claim of claimInformer.list()) if (!claim.metadata.annotations?.[AnnBindCompleted]) enqueueClaim(claim);
    });
  }

  async #syncClaim(key: string): Promise<void> {
    const claim = this.#claims.get(key);
    if (!claim) return;
    try {
      await this.binder.syncClaim(claim);
    } catch (err) {
      // Conflicts are common and resolve with the informer event that caused them.
      if (isConflict(err)) this.#logger.debug({ claim: key, err: (err as Error).message }, 'Could not sync claim');
      else this.#logger.error({ claim: key, err }, 'Could not sync claim');
    }
  }

  async #syncVolume(name: string): Promise<void> {
    const volume = this.#volumes.get(name);
    if (!volume) return;
    try {
      await this.binder.syncVolume(volume);
    } catch (err) {
      if (isConflict(err)) this.#logger.debug({ volume: name, err: (err as Error).message }, 'Could not sync volume');
      else this.#logger.error({ volume: name, err }, 'Could not sync volume');
    }
  }

  /** Runs until the signal aborts (the informer factory is started by the caller). */
  async run(signal: AbortSignal): Promise<void> {
    try {
      if (!(await waitForCacheSync(signal, ...this.#informers))) return;
      this.#logger.info({ controller: 'persistentvolume-binder' }, 'Starting controller');
      // resync: the PV/PVC informers' own resync is long; this controller wants every object every sync period.
      const resync = setInterval(() => {
        for (const key of this.#claimInformer.keys()) this.claimQueue.add(key);
        for (const key of this.#volumeInformer.keys()) this.volumeQueue.add(key);
      }, this.#syncPeriodMs);
      try {
        await work(signal, [[this.claimQueue, (key) => this.#syncClaim(key)], [this.volumeQueue, (key) => this.#syncVolume(key)]], this.#logger);
      } finally {
        clearInterval(resync);
      }
      this.#logger.info({ controller: 'persistentvolume-binder' }, 'Shutting down controller');
    } finally {
      this.#recorder.close();
    }
  }
}

export interface ProtectionControllerOptions {
  client: KubeClient;
  informers: SharedInformerFactory;
  logger?: Logger;
}

const needToAddFinalizer = (obj: { metadata: { deletionTimestamp?: string; finalizers?: string[] } }, finalizer: string) =>
  !obj.metadata.deletionTimestamp && !(obj.metadata.finalizers ?? []).includes(finalizer);
const isDeletionCandidate = (obj: { metadata: { deletionTimestamp?: string; finalizers?: string[] } }, finalizer: string) =>
  !!obj.metadata.deletionTimestamp && (obj.metadata.finalizers ?? []).includes(finalizer);

/** The pvc-protection and pv-protection controllers: one rate-limited queue and one worker each, as upstream runs them. */
export class ProtectionController {
  readonly claimQueue = new RateLimitingQueue<string>({ name: 'pvcprotection', rateLimiter: defaultControllerRateLimiter() });
  readonly volumeQueue = new RateLimitingQueue<string>({ name: 'pvprotection', rateLimiter: defaultControllerRateLimiter() });
  readonly #logger: Logger;
  readonly #claimInformer: Informer<PersistentVolumeClaim>;
  readonly #volumeInformer: Informer<PersistentVolume>;
  readonly #podInformer: Informer<Pod>;
  readonly #deps: ProtectionDeps;

  constructor(options: ProtectionControllerOptions) {
    const { client, informers } = options;
    this.#logger = options.logger ?? defaultLogger;
    const claimInformer = (this.#claimInformer = informers.informerFor(Resources.pvc));
    const volumeInformer = (this.#volumeInformer = informers.informerFor(Resources.pv));
    const podInformer = (this.#podInformer = informers.informerFor(Resources.pods));
    addPodPvcIndexer(podInformer);
    const pods = client.resource(Resources.pods);
    const pvcs = client.resource(Resources.pvc);
    const pvs = client.resource(Resources.pv);
    this.#deps = {
      podsForClaim: (namespace, name) => podInformer.byIndex(PodPvcIndex, claimKeyOf(namespace, name)),
      listPods: async (namespace) => (await pods.list({ namespace })).items,
      updateClaim: (claim) => pvcs.update(claim),
      updateVolume: (pv) => pvs.update(pv),
    };

    const claimChanged = (claim: PersistentVolumeClaim) => {
      if (needToAddFinalizer(claim, PVCProtectionFinalizer) || isDeletionCandidate(claim, PVCProtectionFinalizer)) this.claimQueue.add(objectKey(claim));
    };
    claimInformer.onAdd(claimChanged);
    claimInformer.onUpdate((_old, claim) => claimChanged(claim));
    const volumeChanged = (pv: PersistentVolume) => {
      if (needToAddFinalizer(pv, PVProtectionFinalizer) || isDeletionCandidate(pv, PVProtectionFinalizer)) this.volumeQueue.add(objectKey(pv));
    };
    volumeInformer.onAdd(volumeChanged);
    volumeInformer.onUpdate((_old, pv) => volumeChanged(pv));
    podInformer.onAdd((pod) => this.#podChanged(undefined, pod, false));
    podInformer.onUpdate((old, pod) => this.#podChanged(old, pod, false));
    podInformer.onDelete((pod) => this.#podChanged(undefined, pod, true));
  }

  /** podAddedDeletedUpdated: only a pod that stopped using its claims can unblock their deletion. */
  #podChanged(old: Pod | undefined, pod: Pod, deleted: boolean): void {
    this.#enqueueClaimsOf(pod, deleted);
    // An update may hide the deletion of a pod and the creation of another of the same name.
    if (old && old.metadata.uid !== pod.metadata.uid) this.#enqueueClaimsOf(old, true);
  }

  #enqueueClaimsOf(pod: Pod, deleted: boolean): void {
    if (!deleted && !isPodTerminated(pod) && pod.spec.nodeName) return;
    for (const name of claimNamesOfPod(pod)) this.claimQueue.add(claimKeyOf(pod.metadata.namespace ?? '', name));
  }

  async #syncClaim(key: string): Promise<void> {
    const claim = this.#claimInformer.get(key);
    if (claim) await syncClaimProtection(claim, this.#deps);
  }

  async #syncVolume(name: string): Promise<void> {
    const pv = this.#volumeInformer.get(name);
    if (pv) await syncVolumeProtection(pv, this.#deps);
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!(await waitForCacheSync(signal, this.#claimInformer, this.#volumeInformer, this.#podInformer))) return;
    this.#logger.info({ controller: 'pvc-protection, pv-protection' }, 'Starting controller');
    await work(signal, [[this.claimQueue, (key) => this.#syncClaim(key)], [this.volumeQueue, (key) => this.#syncVolume(key)]], this.#logger);
    this.#logger.info({ controller: 'pvc-protection, pv-protection' }, 'Shutting down controller');
  }
}
