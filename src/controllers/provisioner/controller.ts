// The provisioner's wiring, as sig-storage-lib-external-provisioner's ProvisionController with external-provisioner's
// cloning-protection and capacity controllers: shared informers → a claim queue keyed by UID and a volume queue keyed
// by name, both with per-item exponential backoff (1 s … 5 min) → many workers running provisioner-logic.ts; and a
// CSIStorageCapacity publishing loop (capacity.ts). No client-side throttling.
import { hostname } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import type {
  CSIDriver, CSINode, CSIStorageCapacity, Node, PersistentVolume, PersistentVolumeClaim, StorageClass,
} from '../../api/types.ts';
import { LabelCapacityDriverName, LabelCapacityManagedBy, PVCCloneFinalizer } from '../../api/well-known.ts';
import { NAMESPACE_INDEX, objectKey } from '../../client/cache.ts';
import { isNotFound } from '../../client/errors.ts';
import { EventRecorder } from '../../client/events.ts';
import type { Informer, SharedInformerFactory } from '../../client/informer.ts';
import { waitForCacheSync } from '../../client/informer.ts';
import type { Logger } from '../../client/logger.ts';
import { defaultLogger } from '../../client/logger.ts';
import { defaultControllerRateLimiter, sidecarRateLimiter } from '../../client/rate-limiter.ts';
import { Resources } from '../../client/resources.ts';
import type { KubeClient } from '../../client/rest.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import { LatestObjects } from '../../client/latest-objects.ts';
import { sameSegment, syncStorageCapacity, termToSegment, topologySegments, type CapacityItems } from './capacity.ts';
import { ProvisioningError } from './errors.ts';
import { CsiProvisioner, NodeTopologyCache } from './provisioner-logic.ts';
import type { CapacityRefresh, CsiControllerClient, DriverCapabilities, ProvisionerApi, ProvisionerListers } from './provisioner-logic.ts';

export interface ProvisionerControllerOptions {
  client: KubeClient;
  informers: SharedInformerFactory;
  csi: CsiControllerClient;
  driverName: string;
  capabilities: DriverCapabilities;
  /** --worker-threads: simultaneous CSI calls (upstream default 100). */
  workers?: number;
  /** --retry-interval-start / --retry-interval-max. */
  retryIntervalStartMs?: number;
  retryIntervalMaxMs?: number;
  /** --enable-capacity: publish CSIStorageCapacity objects (when the CSIDriver object asks for them). Default true. */
  enableCapacity?: boolean;
  /** --capacity-poll-interval. */
  capacityPollIntervalMs?: number;
  /** Where CSIStorageCapacity objects live (upstream: the provisioner pod's namespace). */
  capacityNamespace?: string;
  logger?: Logger;
}

function compileOptions(o: ProvisionerControllerOptions) {
  // external-provisioner's identity: start time, a random number and the driver name.
  const identity = `${Date.now()}-${Math.floor(Math.random() * 10_000)}-${o.driverName}`;
  return {
    ...o,
    identity,
    // The lib's event source: the provisioner name and a per-process id.
    component: `${o.driverName}_${hostname()}_${crypto.randomUUID()}`,
    workers: o.workers ?? 100,
    retryIntervalStartMs: o.retryIntervalStartMs ?? 1000,
    retryIntervalMaxMs: o.retryIntervalMaxMs ?? 5 * 60_000,
    enableCapacity: o.enableCapacity ?? true,
    capacityPollIntervalMs: o.capacityPollIntervalMs ?? 30_000,
    capacityNamespace: o.capacityNamespace ?? 'kube-system',
    logger: o.logger ?? defaultLogger,
  };
}

const uidIndex = 'uid';

/** Calls react when an object is added or deleted, and on updates that change shape(object), not on others (status heartbeats). */
function onShapeChange<T extends { metadata: { resourceVersion?: string } }>(informer: Informer<T>, shape: (o: T) => unknown, react: () => void): void {
  informer.onAdd(react);
  informer.onUpdate((old, cur) => {
    if (old.metadata.resourceVersion !== cur.metadata.resourceVersion && !isDeepStrictEqual(shape(old), shape(cur))) react();
  });
  informer.onDelete(react);
}
// The capacity controller's managed-by label value when it runs inside external-provisioner.
const capacityManagedBy = 'external-provisioner';
// Change-triggered capacity passes are spaced at least this far apart; bursts collapse into one pass.
const capacityMinGapMs = 1000;

export class ProvisionerController {
  readonly claimQueue: RateLimitingQueue<string>;
  readonly volumeQueue: RateLimitingQueue<string>;
  readonly cloneSourceQueue = new RateLimitingQueue<string>({ name: 'cloning-protection', rateLimiter: defaultControllerRateLimiter() });
  readonly provisioner: CsiProvisioner;
  readonly #o: ReturnType<typeof compileOptions>;
  readonly #recorder: EventRecorder;
  readonly #claimInformer: Informer<PersistentVolumeClaim>;
  readonly #volumeInformer: Informer<PersistentVolume>;
  readonly #informers: Array<Informer<PersistentVolumeClaim> | Informer<PersistentVolume> | Informer<StorageClass> | Informer<Node> | Informer<CSINode> | Informer<CSIDriver>>;
  readonly #volumes: LatestObjects<PersistentVolume>;
  /** claimsInProgress: claims whose CreateVolume may still be running; kept even when the claim is deleted. */
  readonly #claimsInProgress = new Map<string, PersistentVolumeClaim>();
  readonly #capacity: CapacityLoop;

  constructor(options: ProvisionerControllerOptions) {
    const o = (this.#o = compileOptions(options));
    const limiter = () => sidecarRateLimiter<string>(o.retryIntervalStartMs, o.retryIntervalMaxMs);
    this.claimQueue = new RateLimitingQueue({ name: 'claims', rateLimiter: limiter() });
    this.volumeQueue = new RateLimitingQueue({ name: 'volumes', rateLimiter: limiter() });
    this.#recorder = new EventRecorder(o.client, { component: o.component, logger: o.logger });
    const claimInformer = (this.#claimInformer = o.informers.informerFor(Resources.pvc));
    const volumeInformer = (this.#volumeInformer = o.informers.informerFor(Resources.pv));
    const classInformer = o.informers.informerFor(Resources.storageClasses);
    const nodeInformer = o.informers.informerFor(Resources.nodes);
    const csiNodeInformer = o.informers.informerFor(Resources.csiNodes);
    const csiDriverInformer = o.informers.informerFor(Resources.csiDrivers);
    this.#informers = [claimInformer, volumeInformer, classInformer, nodeInformer, csiNodeInformer, csiDriverInformer];
    claimInformer.addIndexer(uidIndex, (claim) => (claim.metadata.uid ? [claim.metadata.uid] : []));
    // The PVs this controller created, until the informer has them: a claim synced again meanwhile is not provisioned twice.
    const volumes = (this.#volumes = new LatestObjects(volumeInformer));
    const nodeTopologies = new NodeTopologyCache(() => nodeInformer.list());
    onShapeChange(nodeInformer, (n) => n.metadata.labels, () => nodeTopologies.invalidate());

    const listers: ProvisionerListers = {
      getClass: (name) => classInformer.get(name),
      getVolume: (name) => volumes.get(name),
      getClaim: (namespace, name) => claimInformer.get(`${namespace}/${name}`),
      listClaims: (namespace) => claimInformer.byIndex(NAMESPACE_INDEX, namespace),
      getNode: (name) => nodeInformer.get(name),
      nodeTopologies: (keys) => nodeTopologies.get(keys),
      getCSINode: (name) => csiNodeInformer.get(name),
      listCSINodes: () => csiNodeInformer.list(),
    };
    const pvs = o.client.resource(Resources.pv);
    const orUndefined = async <T>(read: Promise<T>): Promise<T | undefined> => {
      try {
        return await read;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    };
    const snapshots = o.client.resource(Resources.volumeSnapshots);
    const api: ProvisionerApi = {
      createVolume: async (pv) => volumes.remember(await pvs.create(pv)),
      updateVolume: async (pv) => volumes.remember(await pvs.update(pv)),
      deleteVolume: async (name) => {
        await pvs.delete(name);
      },
      getVolume: (name) => orUndefined(pvs.get(name)),
      updateClaim: (claim) => o.client.resource(Resources.pvc).update(claim),
      getSnapshot: (namespace, name) => orUndefined(snapshots.get(name, namespace)),
      updateSnapshot: (snapshot) => snapshots.update(snapshot),
      getSnapshotContent: (name) => orUndefined(o.client.resource(Resources.volumeSnapshotContents).get(name)),
    };
    const capacities = o.client.resource(Resources.csiStorageCapacities);
    const labelSelector = `${LabelCapacityDriverName}=${o.driverName},${LabelCapacityManagedBy}=${capacityManagedBy}`;
    // The objects as the last full pass listed them and this controller wrote them since (it alone manages them): a
    // refresh works from these; a full pass lists afresh, so that objects it created are never created twice.
    let known: Map<string, CSIStorageCapacity> | undefined;
    // The work items' segments, until a Node's labels or a CSINode's drivers change.
    let segments: Array<Record<string, string>> | undefined;
    const listSegments = () => (segments ??= topologySegments(o.driverName, nodeInformer.list(), csiNodeInformer.list()));
    this.#capacity = new CapacityLoop(o.logger, async (only) => {
      if (!only || !known) {
        only = undefined;
        known = new Map((await capacities.list({ namespace: o.capacityNamespace, labelSelector })).items.map((c) => [c.metadata.name ?? '', c]));
      }
      const objects = known;
      try {
        await syncStorageCapacity({
          driverName: o.driverName,
          namespace: o.capacityNamespace,
          managedBy: capacityManagedBy,
          csi: o.csi,
          getCSIDriver: () => csiDriverInformer.get(o.driverName),
          listClasses: () => classInformer.list(),
          listSegments,
          listCapacities: () => [...objects.values()],
          createCapacity: async (c: CSIStorageCapacity) => {
            const created = await capacities.create(c);
            objects.set(created.metadata.name ?? '', created);
          },
          updateCapacity: async (c: CSIStorageCapacity) => {
            const updated = await capacities.update(c);
            objects.set(updated.metadata.name ?? '', updated);
          },
          deleteCapacity: async (name: string) => {
            await capacities.delete(name, o.capacityNamespace);
            objects.delete(name);
          },
        }, only);
      } catch (err) {
        // Someone else changed an object (a conflict), or a call failed: start over from a fresh list.
        known = undefined;
        if (only) this.#capacity.trigger();
        throw err;
      }
    });
    const capacity = this.#capacity;
    const refresh: CapacityRefresh = {
      topology: (nodeAffinity) => {
        const named = (nodeAffinity.required?.nodeSelectorTerms ?? []).map(termToSegment).filter((s) => s !== undefined);
        const isNamed = (segment: Record<string, string>) => named.some((s) => sameSegment(s, segment));
        // Most volumes name no work item's segment (a zonal volume's zone is not a node's segment): no pass at all.
        if (listSegments().some(isNamed)) capacity.refresh((_className, segment) => isNamed(segment));
      },
      storageClass: (name) => capacity.refresh((className) => className === name),
    };
    this.provisioner = new CsiProvisioner({
      options: { driverName: o.driverName, identity: o.identity, capabilities: o.capabilities },
      listers,
      api,
      csi: o.csi,
      recorder: this.#recorder,
      capacity: refresh,
    });

    // enqueueClaim / enqueueVolume: an item waiting out its backoff is not hurried by an update.
    const enqueueClaim = (claim: PersistentVolumeClaim) => {
      const uid = claim.metadata.uid;
      if (uid && this.claimQueue.numRequeues(uid) === 0) this.claimQueue.add(uid);
    };
    const enqueueVolume = (pv: PersistentVolume) => {
      const name = objectKey(pv);
      if (this.volumeQueue.numRequeues(name) === 0) this.volumeQueue.add(name);
    };
    const cloneSourceChanged = (claim: PersistentVolumeClaim) => {
      if (claim.metadata.deletionTimestamp && claim.metadata.finalizers?.includes(PVCCloneFinalizer)) this.cloneSourceQueue.add(objectKey(claim));
    };
    claimInformer.onAdd((claim) => {
      enqueueClaim(claim);
      cloneSourceChanged(claim);
    });
    claimInformer.onUpdate((old, claim) => {
      enqueueClaim(claim);
      cloneSourceChanged(claim);
      // A clone that left Pending may release its source's cloning-protection.
      const source = claim.spec.dataSource ?? claim.spec.dataSourceRef;
      if (source?.kind === 'PersistentVolumeClaim' && old.status?.phase !== claim.status?.phase) {
        const sourceClaim = claimInformer.get(`${claim.metadata.namespace}/${source.name}`);
        if (sourceClaim) cloneSourceChanged(sourceClaim);
      }
    });
    volumeInformer.onAdd(enqueueVolume);
    volumeInformer.onUpdate((_old, pv) => enqueueVolume(pv));
    volumeInformer.onDelete((pv) => this.volumeQueue.forget(objectKey(pv)));
    const capacityInputChanged = () => this.#capacity.trigger();
    // What shapes the published objects: classes, the CSIDriver, and the topology segments — a Node's labels and a
    // CSINode's drivers. Node status heartbeats change none of it (upstream's topology informer ignores them too).
    onShapeChange(classInformer, (sc) => sc, capacityInputChanged);
    onShapeChange(csiDriverInformer, (d) => d.spec, capacityInputChanged);
    const segmentsChanged = () => {
      segments = undefined;
      capacityInputChanged();
    };
    onShapeChange(nodeInformer, (n) => n.metadata.labels, segmentsChanged);
    onShapeChange(csiNodeInformer, (n) => n.spec, segmentsChanged);
  }

  /** syncClaimHandler: a claim deleted while its CreateVolume may be running is still seen through. */
  async #syncClaim(uid: string): Promise<void> {
    const claim = this.#claimInformer.byIndex(uidIndex, uid)[0] ?? this.#claimsInProgress.get(uid);
    if (!claim) return;
    try {
      await this.provisioner.syncClaim(claim);
      this.#claimsInProgress.delete(uid);
    } catch (err) {
      if (err instanceof ProvisioningError && err.state === 'InBackground') this.#claimsInProgress.set(uid, claim);
      else if (err instanceof ProvisioningError && err.state === 'Finished') this.#claimsInProgress.delete(uid);
      throw err;
    }
  }

  async #syncVolume(name: string): Promise<void> {
    const volume = this.#volumes.get(name);
    if (!volume) return;
    await this.provisioner.syncVolume(volume);
  }

  async #syncCloneSource(key: string): Promise<void> {
    const claim = this.#claimInformer.get(key);
    if (claim) await this.provisioner.syncCloneSource(claim);
  }

  /** Runs until the signal aborts (the informer factory is started by the caller). */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    try {
      if (!(await waitForCacheSync(signal, ...this.#informers))) return;
      o.logger.info({ driver: o.driverName, workers: o.workers }, 'Started provisioner controller');
      const queues = [this.claimQueue, this.volumeQueue, this.cloneSourceQueue];
      const stop = (): void => {
        for (const queue of queues) queue.shutDown();
        this.#capacity.stop();
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      if (o.enableCapacity && !signal.aborted) this.#capacity.start(o.capacityPollIntervalMs);
      await Promise.all([
        runWorkers(this.claimQueue, o.workers, (uid) => this.#syncClaim(uid), { logger: o.logger }),
        runWorkers(this.volumeQueue, o.workers, (name) => this.#syncVolume(name), { logger: o.logger }),
        runWorkers(this.cloneSourceQueue, 1, (key) => this.#syncCloneSource(key), { logger: o.logger }),
        this.#capacity.stopped(),
      ]);
      o.logger.info({ driver: o.driverName }, 'Shutting down provisioner controller');
    } finally {
      this.#recorder.close();
    }
  }
}

/**
 * Runs one capacity pass at a time: a full one every poll interval and soon after trigger() (bursts collapse into one
 * pass); one of just the work items that refresh() names at once, unless a full one is due.
 */
class CapacityLoop {
  readonly #logger: Logger;
  readonly #pass: (only?: CapacityItems) => Promise<void>;
  #running?: Promise<void>;
  /** A full pass is due. */
  #full = false;
  /** The work items to refresh: any of these. */
  #items: CapacityItems[] = [];
  #timer?: NodeJS.Timeout;
  #poll?: NodeJS.Timeout;
  #lastStart = 0;
  #active = false;
  readonly #stop = Promise.withResolvers<void>();

  constructor(logger: Logger, pass: (only?: CapacityItems) => Promise<void>) {
    this.#logger = logger;
    this.#pass = pass;
  }

  start(pollIntervalMs: number): void {
    this.#active = true;
    this.#poll = setInterval(() => this.trigger(), pollIntervalMs);
    this.trigger();
  }

  trigger(): void {
    if (!this.#active) return;
    this.#full = true;
    this.#schedule();
  }

  refresh(items: CapacityItems): void {
    if (!this.#active) return;
    this.#items.push(items);
    this.#schedule();
  }

  /** Starts the next pass when the one in flight ends: a full one no sooner than the minimum gap, a refresh at once. */
  #schedule(): void {
    if (this.#running || this.#timer) return;
    const wait = this.#full ? Math.max(0, this.#lastStart + capacityMinGapMs - Date.now()) : 0;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#runPass();
    }, wait);
  }

  #runPass(): void {
    const full = this.#full;
    const items = this.#items;
    this.#full = false;
    this.#items = [];
    if (full) this.#lastStart = Date.now();
    const only: CapacityItems | undefined = full ? undefined : (className, segment) => items.some((matches) => matches(className, segment));
    this.#running = this.#pass(only)
      .catch((err) => this.#logger.error({ err }, 'CSIStorageCapacity update failed'))
      .finally(() => {
        this.#running = undefined;
        if (this.#active && (this.#full || this.#items.length)) this.#schedule();
      });
  }

  stop(): void {
    this.#active = false;
    clearInterval(this.#poll);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stop.resolve();
  }

  /** Resolves once stop() was called and the pass in flight (if any) has finished. */
  async stopped(): Promise<void> {
    await this.#stop.promise;
    await this.#running;
  }
}
