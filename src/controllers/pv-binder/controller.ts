// The PV binder's wiring, as kube-controller-manager's persistentvolume controller (pv_controller_base.go) and its
// pvc-protection and pv-protection controllers: shared informers → keyed queues → workers running binder-logic.ts and
// protection.ts. The binder never requeues a failed sync (the next informer event or the periodic resync retries it, as
// upstream) and reads the objects it wrote itself until its informers catch up (upstream's storeObjectUpdate).
//
// Upstream runs one worker per queue because two claims synced at once could both pick the same volume. Here a claim's
// choice of volume and the write that claims it happen in one turn of the event loop, and the volume is shown as
// claimed from that moment until the write is answered; so several claim workers are safe, and the API server's
// resourceVersion check remains the backstop. One claim worker stays the default here; the controller manager runs more.
import type { PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../api/types.ts';
import { claimRequestBytes, claimStorageClassName, findBestMatchForClaim, pvStorageClassName, volumeCapacityBytes } from '../../api/volume-matching.ts';
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
async function work(signal: AbortSignal, queues: Array<[RateLimitingQueue<string>, number, (key: string) => Promise<void>]>, logger: Logger): Promise<void> {
  const stop = (): void => {
    for (const [queue] of queues) queue.shutDown();
  };
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  await Promise.all(queues.map(([queue, workers, sync]) => runWorkers(queue, workers, sync, { logger })));
}

export interface PersistentVolumeControllerOptions {
  client: KubeClient;
  informers: SharedInformerFactory;
  /** --pvclaimbinder-sync-period: every claim and volume is synced this often (default 15 s). */
  syncPeriodMs?: number;
  /** Workers of the claim queue (default 1, as upstream; see the top of this file for why more are safe). */
  claimWorkers?: number;
  logger?: Logger;
}

const resourceVersion = (obj: { metadata: { resourceVersion?: string } }) => {
  try {
    return BigInt(obj.metadata.resourceVersion ?? '');
  } catch {
    return -1n;
  }
};

/** Unclaimed volumes of one class and one set of access modes, by capacity (ascending), each capacity in arrival order. */
class CapacityBuckets {
  readonly #capacities: bigint[] = [];
  readonly #names = new Map<bigint, Set<string>>();

  add(bytes: bigint, name: string): void {
    let names = this.#names.get(bytes);
    if (!names) {
      this.#names.set(bytes, (names = new Set()));
      this.#capacities.splice(this.#firstAtLeast(bytes), 0, bytes);
    }
    names.add(name);
  }

  /** False when the last volume is gone. */
  remove(bytes: bigint, name: string): boolean {
    const names = this.#names.get(bytes)!;
    names.delete(name);
    if (names.size === 0) {
      this.#names.delete(bytes);
      this.#capacities.splice(this.#firstAtLeast(bytes), 1);
    }
    return this.#capacities.length > 0;
  }

  /** The names of volumes of at least `bytes`, smallest first. */
  *atLeast(bytes: bigint): Generator<string> {
    for (let i = this.#firstAtLeast(bytes); i < this.#capacities.length; i++) yield* this.#names.get(this.#capacities[i]!)!;
  }

  #firstAtLeast(bytes: bigint): number {
    let low = 0;
    let high = this.#capacities.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.#capacities[mid]! < bytes) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** Where a volume is indexed: under the claim its claimRef names, or as unclaimed of a class, access modes and size. */
type VolumeIndexEntry = { claim: string } | { className: string; modes: string; bytes: bigint };

/**
 * The binder's own caches of volumes and claims (upstream's ctrl.volumes and ctrl.claims): fed by the informers and by
 * the controller's writes, each keeping the newest resourceVersion (storeObjectUpdate).
 *
 * It also indexes volumes for matching, so a claim's sync does not walk every volume of the cluster (upstream walks
 * its access-mode index): findBestMatchForClaim can only return a volume whose claimRef names the claim, or an
 * unclaimed volume of the claim's class that fits; of the latter, only the smallest fit of each set of access modes
 * can win. volumesForClaim returns just those, so findBestMatchForClaim gives the same answer on them as on all.
 */
export class BinderCache {
  readonly #volumes = new Map<string, PersistentVolume>();
  readonly #claims = new Map<string, PersistentVolumeClaim>();
  /** Volume writes in flight, shown as already made (see the top of this file). */
  readonly #writing = new Map<string, PersistentVolume>();
  readonly #indexed = new Map<string, VolumeIndexEntry>();
  /** Volume names by the "namespace/name" their claimRef names. */
  readonly #byClaim = new Map<string, Set<string>>();
  /** Unclaimed volumes by class, then by their sorted access modes. */
  readonly #unclaimed = new Map<string, Map<string, CapacityBuckets>>();

  getVolume(name: string): PersistentVolume | undefined {
    return this.#writing.get(name) ?? this.#volumes.get(name);
  }

  /** A subset of the volumes on which findBestMatchForClaim answers as on all of them (see the class comment). */
  volumesForClaim(claim: PersistentVolumeClaim, delayBinding: boolean): PersistentVolume[] {
    const candidates = [...(this.#byClaim.get(objectKey(claim)) ?? [])].map((name) => this.getVolume(name)!);
    // With delayed binding the PV controller only completes bindings the scheduler (or a user) started.
    if (delayBinding) return candidates;
    const requested = claimRequestBytes(claim);
    for (const buckets of this.#unclaimed.get(claimStorageClassName(claim))?.values() ?? []) {
      for (const name of buckets.atLeast(requested)) {
        const volume = this.getVolume(name)!;
        if (findBestMatchForClaim(claim, [volume], false)) {
          candidates.push(volume);
          break;
        }
      }
    }
    return candidates;
  }

  getClaim(key: string): PersistentVolumeClaim | undefined {
    return this.#claims.get(key);
  }

  /** Stores the volume unless an older version; true when stored. */
  storeVolume(pv: PersistentVolume): boolean {
    const name = pv.metadata.name ?? '';
    const old = this.#volumes.get(name);
    if (old && resourceVersion(old) > resourceVersion(pv)) return false;
    this.#volumes.set(name, pv);
    this.#reindex(name);
    return true;
  }

  deleteVolume(name: string): void {
    this.#volumes.delete(name);
    this.#reindex(name);
  }

  storeClaim(claim: PersistentVolumeClaim): boolean {
    const key = objectKey(claim);
    const old = this.#claims.get(key);
    if (old && resourceVersion(old) > resourceVersion(claim)) return false;
    this.#claims.set(key, claim);
    return true;
  }

  deleteClaim(key: string): void {
    this.#claims.delete(key);
  }

  /** Runs a volume write with the volume shown as written until the API server answers. */
  async writeVolume(pv: PersistentVolume, write: (pv: PersistentVolume) => Promise<PersistentVolume>): Promise<PersistentVolume> {
    const name = pv.metadata.name ?? '';
    this.#writing.set(name, pv);
    this.#reindex(name);
    try {
      const stored = await write(pv);
      this.storeVolume(stored);
      return stored;
    } finally {
      if (this.#writing.get(name) === pv) {
        this.#writing.delete(name);
        this.#reindex(name);
      }
    }
  }

  /** Moves the volume to where its current version (in flight or stored) belongs in the matching index. */
  #reindex(name: string): void {
    const old = this.#indexed.get(name);
    if (old && 'claim' in old) {
      const names = this.#byClaim.get(old.claim)!;
      names.delete(name);
      if (names.size === 0) this.#byClaim.delete(old.claim);
    } else if (old) {
      const groups = this.#unclaimed.get(old.className)!;
      if (!groups.get(old.modes)!.remove(old.bytes, name)) {
        groups.delete(old.modes);
        if (groups.size === 0) this.#unclaimed.delete(old.className);
      }
    }
    this.#indexed.delete(name);
    const pv = this.getVolume(name);
    if (!pv) return;
    const ref = pv.spec.claimRef;
    if (ref) {
      const claim = claimKeyOf(ref.namespace ?? '', ref.name ?? '');
      let names = this.#byClaim.get(claim);
      if (!names) this.#byClaim.set(claim, (names = new Set()));
      names.add(name);
      this.#indexed.set(name, { claim });
      return;
    }
    const entry = { className: pvStorageClassName(pv), modes: [...new Set(pv.spec.accessModes)].sort().join(','), bytes: volumeCapacityBytes(pv) };
    let groups = this.#unclaimed.get(entry.className);
    if (!groups) this.#unclaimed.set(entry.className, (groups = new Map()));
    let buckets = groups.get(entry.modes);
    if (!buckets) groups.set(entry.modes, (buckets = new CapacityBuckets()));
    buckets.add(entry.bytes, name);
    this.#indexed.set(name, entry);
  }
}

/** kube-controller-manager's persistentvolume-binder controller. */
export class PersistentVolumeController {
  readonly claimQueue = new RateLimitingQueue<string>({ name: 'claims' });
  readonly volumeQueue = new RateLimitingQueue<string>({ name: 'volumes' });
  readonly cache = new BinderCache();
  readonly #syncPeriodMs: number;
  readonly #claimWorkers: number;
  readonly #logger: Logger;
  readonly #recorder: EventRecorder;
  readonly #volumeInformer: Informer<PersistentVolume>;
  readonly #claimInformer: Informer<PersistentVolumeClaim>;
  readonly #informers: Array<Informer<PersistentVolume> | Informer<PersistentVolumeClaim> | Informer<StorageClass> | Informer<Pod>>;
  readonly binder: PersistentVolumeBinder;

  constructor(options: PersistentVolumeControllerOptions) {
    const { client, informers } = options;
    this.#syncPeriodMs = options.syncPeriodMs ?? 15_000;
    this.#claimWorkers = options.claimWorkers ?? 1;
    this.#logger = options.logger ?? defaultLogger;
    this.#recorder = new EventRecorder(client, { component: 'persistentvolume-controller', logger: this.#logger });
    const volumeInformer = (this.#volumeInformer = informers.informerFor(Resources.pv));
    const claimInformer = (this.#claimInformer = informers.informerFor(Resources.pvc));
    const classInformer = informers.informerFor(Resources.storageClasses);
    const podInformer = informers.informerFor(Resources.pods);
    this.#informers = [volumeInformer, claimInformer, classInformer, podInformer];
    addPodPvcIndexer(podInformer);
    const cache = this.cache;

    const listers: BinderListers = {
      getVolume: (name) => cache.getVolume(name),
      volumesForClaim: (claim, delayBinding) => cache.volumesForClaim(claim, delayBinding),
      getClaim: (namespace, name) => cache.getClaim(claimKeyOf(namespace, name)),
      getClass: (name) => classInformer.get(name),
      listClasses: () => classInformer.list(),
      podsForClaim: (namespace, name) => podInformer.byIndex(PodPvcIndex, claimKeyOf(namespace, name)),
    };
    const pvs = client.resource(Resources.pv);
    const pvcs = client.resource(Resources.pvc);
    const api: BinderApi = {
      getClaim: async (namespace, name) => {
        try {
          const claim = await pvcs.get(name, namespace);
          cache.storeClaim(claim);
          return claim;
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      },
      updateVolume: (pv) => cache.writeVolume(pv, (v) => pvs.update(v)),
      updateVolumeStatus: (pv) => pvs.updateStatus(pv),
      updateClaim: (claim) => pvcs.update(claim),
      updateClaimStatus: (claim) => pvcs.updateStatus(claim),
    };
    this.binder = new PersistentVolumeBinder({
      listers,
      api,
      recorder: this.#recorder,
      enqueueClaim: (namespace, name) => this.claimQueue.add(claimKeyOf(namespace, name)),
      storeVolume: (pv) => cache.storeVolume(pv),
      storeClaim: (claim) => cache.storeClaim(claim),
    });

    // updateVolume/updateClaim: an informer version older than what the controller wrote itself is not synced.
    const enqueueVolume = (pv: PersistentVolume) => {
      if (cache.storeVolume(pv)) this.volumeQueue.add(objectKey(pv));
    };
    const enqueueClaim = (claim: PersistentVolumeClaim) => {
      if (cache.storeClaim(claim)) this.claimQueue.add(objectKey(claim));
    };
    volumeInformer.onAdd(enqueueVolume);
    volumeInformer.onUpdate((_old, pv) => enqueueVolume(pv));
    // deleteVolume: the claim's sync sees its volume gone (Lost) without waiting for the resync.
    volumeInformer.onDelete((pv) => {
      cache.deleteVolume(objectKey(pv));
      const ref = pv.spec.claimRef;
      if (ref?.name) this.claimQueue.add(claimKeyOf(ref.namespace ?? '', ref.name));
    });
    claimInformer.onAdd(enqueueClaim);
    claimInformer.onUpdate((_old, claim) => enqueueClaim(claim));
    // deleteClaim: the volume's sync releases it without waiting for the resync.
    claimInformer.onDelete((claim) => {
      cache.deleteClaim(objectKey(claim));
      if (claim.spec.volumeName) this.volumeQueue.add(claim.spec.volumeName);
    });
    // Not in upstream's wiring (it waits for the resync): a new class may be the default for classless claims
    // (RetroactiveDefaultStorageClass) or the class a claim was waiting for, so look at unbound claims at once.
    classInformer.onAdd(() => {
      for (const claim of claimInformer.list()) if (!claim.metadata.annotations?.[AnnBindCompleted]) this.claimQueue.add(objectKey(claim));
    });
  }

  async #syncClaim(key: string): Promise<void> {
    const claim = this.cache.getClaim(key);
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
    const volume = this.cache.getVolume(name);
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
        await work(signal, [[this.claimQueue, this.#claimWorkers, (key) => this.#syncClaim(key)], [this.volumeQueue, 1, (key) => this.#syncVolume(key)]], this.#logger);
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
    await work(signal, [[this.claimQueue, 1, (key) => this.#syncClaim(key)], [this.volumeQueue, 1, (key) => this.#syncVolume(key)]], this.#logger);
    this.#logger.info({ controller: 'pvc-protection, pv-protection' }, 'Shutting down controller');
  }
}
