// The level-triggered sync logic of the PV binder, mirroring kube-controller-manager's persistentvolume controller
// (pkg/controller/volume/persistentvolume/pv_controller.go): syncClaim / syncUnboundClaim / syncBoundClaim /
// syncVolume, bind, unbind and reclaim. It reads through listers and writes through the API only; controller.ts wires
// it to informers and queues.
import { cloneJSON } from '../../api/json.ts';
import type {
  ObjectReference,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  StorageClass,
} from '../../api/types.ts';
import {
  checkAccessModes,
  checkVolumeModeMismatches,
  claimHasStorageClass,
  claimStorageClassName,
  findBestMatchForClaim,
  isVolumeBoundToClaim,
  pvStorageClassName,
  volumeCapacityBytes,
  claimRequestBytes,
  claimReference,
} from '../../api/volume-matching.ts';

export { claimReference };
import {
  AnnBetaIsDefaultStorageClass,
  AnnBetaStorageProvisioner,
  AnnBindCompleted,
  AnnBoundByController,
  AnnDynamicallyProvisioned,
  AnnIsDefaultStorageClass,
  AnnSelectedNode,
  AnnStorageProvisioner,
} from '../../api/well-known.ts';
import { parseQuantity, quantityValue } from '../../api/quantity.ts';
import { BinderError } from './errors.ts';
import { metaTime } from '../../api/time.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(object: PersistentVolume | PersistentVolumeClaim, type: EventType, reason: string, message: string): void;
}

/** Read side: the informer caches (listers) plus the few live reads upstream makes to avoid acting on stale data. */
export interface BinderListers {
  getVolume(name: string): PersistentVolume | undefined;
  /** Volumes to match the claim with: all of them, or any subset on which findBestMatchForClaim answers the same. */
  volumesForClaim(claim: PersistentVolumeClaim, delayBinding: boolean): PersistentVolume[];
  getClaim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  getClass(name: string): StorageClass | undefined;
  listClasses(): StorageClass[];
  /** Pods of the namespace that reference the claim (directly or as a generic ephemeral volume). */
  podsForClaim(namespace: string, name: string): Pod[];
}

/** Write side: each call returns the object as stored by the API server. Errors carry the API status code. */
export interface BinderApi {
  getClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined>;
  updateVolume(pv: PersistentVolume): Promise<PersistentVolume>;
  updateVolumeStatus(pv: PersistentVolume): Promise<PersistentVolume>;
  updateClaim(claim: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  updateClaimStatus(claim: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
}

export interface BinderDeps {
  listers: BinderListers;
  api: BinderApi;
  recorder: EventRecorder;
  /** Ask for a prompt syncClaim of this claim (upstream claimQueue.Add). */
  enqueueClaim(namespace: string, name: string): void;
  /** Record a written object in the local cache at once, so the next sync does not see the stale version. */
  storeVolume?(pv: PersistentVolume): void;
  storeClaim?(claim: PersistentVolumeClaim): void;
  now?: () => Date;
}

const hasAnnotation = (obj: { metadata: { annotations?: Record<string, string> } }, key: string) =>
  Object.hasOwn(obj.metadata.annotations ?? {}, key);
const claimKey = (claim: PersistentVolumeClaim) => `${claim.metadata.namespace}/${claim.metadata.name}`;
const claimRefKey = (ref: ObjectReference) => `${ref.namespace}/${ref.name}`;
const quote = (value: string | undefined) => JSON.stringify(value ?? '');
const sameJSON = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);


/** util.IsPodTerminated: the pod finished, or it is being deleted and none of its containers runs. */
export function isPodTerminated(pod: Pod): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') return true;
  if (!pod.metadata.deletionTimestamp) return false;
  const notRunning = (statuses: Array<{ state?: Record<string, unknown> }> | undefined) =>
    (statuses ?? []).every((status) => status.state?.terminated !== undefined || status.state?.waiting !== undefined);
  return notRunning(pod.status?.initContainerStatuses) && notRunning(pod.status?.containerStatuses);
}

/** util.GetDefaultClass: the newest class marked default (ties broken by name). */
export function defaultStorageClass(classes: StorageClass[]): StorageClass | undefined {
  const isDefault = (sc: StorageClass) =>
    sc.metadata.annotations?.[AnnIsDefaultStorageClass] === 'true' || sc.metadata.annotations?.[AnnBetaIsDefaultStorageClass] === 'true';
  return classes
    .filter(isDefault)
    .sort((a, b) => {
      const byTime = Date.parse(b.metadata.creationTimestamp ?? '') - Date.parse(a.metadata.creationTimestamp ?? '');
      return byTime || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
    })[0];
}

/** The PV controller: one instance per process; syncClaim/syncVolume must not run concurrently for one object. */
export class PersistentVolumeBinder {
  readonly #deps: BinderDeps;

  constructor(deps: BinderDeps) {
    this.#deps = deps;
  }

  // ------------------------------------------------------------------ claims

  async syncClaim(claim: PersistentVolumeClaim): Promise<void> {
    if (!hasAnnotation(claim, AnnBindCompleted)) await this.#syncUnboundClaim(claim);
    else await this.#syncBoundClaim(claim);
  }

  async #syncUnboundClaim(claim: PersistentVolumeClaim): Promise<void> {
    const { listers, recorder } = this.#deps;
    if (!claim.spec.volumeName) {
      // [Unit test set 1] The user did not ask for a particular volume.
      const delayBinding = this.#isDelayBindingMode(claim);
      const volume = findBestMatchForClaim(claim, listers.volumesForClaim(claim, delayBinding), delayBinding);
      if (volume) {
        await this.#bind(volume, claim);
        return;
      }
      if (await this.#assignDefaultStorageClass(claim)) return;
      if (delayBinding && !hasAnnotation(claim, AnnSelectedNode)) {
        this.#emitEventForUnboundDelayBindingClaim(claim);
      } else if (claimStorageClassName(claim) !== '') {
        // The provisioning hand-off updates the claim; the next sync continues from there.
        await this.#provisionClaim(claim);
        return;
      } else {
        recorder.event(claim, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      }
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }
    // [Unit test set 2] The user asked for a particular volume.
    const volume = listers.getVolume(claim.spec.volumeName);
    if (!volume) {
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }
    if (!volume.spec.claimRef) {
      const mismatch = checkVolumeSatisfyClaim(volume, claim);
      if (mismatch) {
        recorder.event(claim, 'Warning', 'VolumeMismatch', `Cannot bind to requested volume ${quote(volume.metadata.name)}: ${mismatch}`);
        await this.#updateClaimStatus(claim, 'Pending', undefined);
        return;
      }
      await this.#bind(volume, claim);
      return;
    }
    if (isVolumeBoundToClaim(volume, claim)) {
      await this.#bind(volume, claim);
      return;
    }
    recorder.event(claim, 'Warning', 'FailedBinding', `volume ${quote(volume.metadata.name)} already bound to a different claim.`);
    if (!hasAnnotation(claim, AnnBoundByController)) {
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }
    // Someone removed bind-completed from a claim the controller bound: refuse to guess.
    throw new BinderError(
      `invalid binding of claim ${quote(claimKey(claim))} to volume ${quote(claim.spec.volumeName)}: volume already claimed by ${quote(claimRefKey(volume.spec.claimRef))}`,
    );
  }

  async #syncBoundClaim(claim: PersistentVolumeClaim): Promise<void> {
    // [Unit test set 3]
    if (!claim.spec.volumeName) {
      await this.#updateClaimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimLost', 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!');
      return;
    }
    const volume = this.#deps.listers.getVolume(claim.spec.volumeName);
    if (!volume) {
      await this.#updateClaimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      return;
    }
    if (!volume.spec.claimRef || volume.spec.claimRef.uid === claim.metadata.uid) {
      // Either the volume came unbound or all is well; bind() (re)writes whatever is missing.
      await this.#bind(volume, claim);
      return;
    }
    await this.#updateClaimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
  }

  #isDelayBindingMode(claim: PersistentVolumeClaim): boolean {
    const className = claimStorageClassName(claim);
    if (className === '') return false;
    const storageClass = this.#deps.listers.getClass(className);
    if (!storageClass) return false;
    if (!storageClass.volumeBindingMode) throw new BinderError(`VolumeBindingMode not set for StorageClass ${quote(className)}`);
    return storageClass.volumeBindingMode === 'WaitForFirstConsumer';
  }

  #emitEventForUnboundDelayBindingClaim(claim: PersistentVolumeClaim): void {
    const pods = this.#deps.listers
      .podsForClaim(claim.metadata.namespace ?? '', claim.metadata.name ?? '')
      .filter((pod) => !isPodTerminated(pod) && !pod.spec.nodeName)
      .map((pod) => pod.metadata.name ?? '');
    if (pods.length === 0) {
      this.#deps.recorder.event(claim, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
    } else if (pods.length === 1) {
      this.#deps.recorder.event(claim, 'Normal', 'WaitForPodScheduled', `waiting for pod ${pods[0]} to be scheduled`);
    } else {
      this.#deps.recorder.event(claim, 'Normal', 'WaitForPodScheduled', `waiting for pods ${pods.join(',')} to be scheduled`);
    }
  }

  /** RetroactiveDefaultStorageClass: a claim that never asked for a class gets today's default one. */
  async #assignDefaultStorageClass(claim: PersistentVolumeClaim): Promise<boolean> {
    if (claimHasStorageClass(claim)) return false;
    const storageClass = defaultStorageClass(this.#deps.listers.listClasses());
    if (!storageClass) return false;
    const updated = cloneJSON(claim);
    updated.spec.storageClassName = storageClass.metadata.name;
    try {
      // Not inlined into storeClaim?.(...): an optional call skips evaluating its arguments.
      const stored = await this.#deps.api.updateClaim(updated);
      this.#deps.storeClaim?.(stored);
    } catch (err) {
      throw new BinderError(`can't update PersistentVolumeClaim[${quote(claimKey(claim))}]: ${(err as Error).message}`, { cause: err });
    }
    return true;
  }

  /** provisionClaim for external provisioners: annotate the claim and tell the user who is expected to act. */
  async #provisionClaim(claim: PersistentVolumeClaim): Promise<void> {
    const { listers, recorder } = this.#deps;
    const className = claimStorageClassName(claim);
    const storageClass = listers.getClass(className);
    if (!storageClass) {
      recorder.event(claim, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io ${quote(className)} not found`);
      return;
    }
    const provisioner = storageClass.provisioner;
    if (provisioner.startsWith('kubernetes.io/')) {
      // Strata has no in-tree volume plugins: every kubernetes.io/ provisioner (no-provisioner included) is unknown.
      recorder.event(claim, 'Warning', 'ProvisioningFailed', `no volume plugin matched name: ${provisioner}`);
      return;
    }
    let annotated = claim;
    if (claim.metadata.annotations?.[AnnStorageProvisioner] !== provisioner) {
      const updated = cloneJSON(claim);
      updated.metadata.annotations = { ...updated.metadata.annotations, [AnnStorageProvisioner]: provisioner, [AnnBetaStorageProvisioner]: provisioner };
      try {
        annotated = await this.#deps.api.updateClaim(updated);
      } catch (err) {
        recorder.event(claim, 'Warning', 'ProvisioningFailed', `Error saving claim: ${(err as Error).message}`);
        throw err;
      }
      this.#deps.storeClaim?.(annotated);
    }
    recorder.event(
      annotated,
      'Normal',
      'ExternalProvisioning',
      `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
    );
  }

  // ------------------------------------------------------------------ volumes

  async syncVolume(volume: PersistentVolume): Promise<void> {
    // [Unit test set 4]
    const ref = volume.spec.claimRef;
    if (!ref || !ref.uid) {
      // Unused, or pre-bound to a claim whose sync will finish the binding.
      await this.#updateVolumePhase(volume, 'Available', '');
      return;
    }
    let claim = this.#deps.listers.getClaim(ref.namespace ?? '', ref.name ?? '');
    if (!claim && volume.status?.phase !== 'Released' && volume.status?.phase !== 'Failed') {
      // The claim may be too new for the cache (external provisioner, scheduler): ask the API server before releasing.
      claim = await this.#deps.api.getClaim(ref.namespace ?? '', ref.name ?? '');
    }
    if (claim && claim.metadata.uid !== ref.uid) {
      // A claim of the same name; the cache may be behind, so check the API server.
      const live = await this.#deps.api.getClaim(ref.namespace ?? '', ref.name ?? '');
      claim = live && live.metadata.uid === ref.uid ? live : undefined;
    }
    if (!claim) {
      if (volume.status?.phase !== 'Released' && volume.status?.phase !== 'Failed') {
        volume = await this.#updateVolumePhase(volume, 'Released', '');
      }
      await this.#reclaimVolume(volume);
      return;
    }
    if (!claim.spec.volumeName) {
      if (checkVolumeModeMismatches(claim.spec, volume.spec)) {
        // syncUnboundClaim will never pick this volume; say why.
        this.#deps.recorder.event(volume, 'Warning', 'VolumeMismatch', `Cannot bind PersistentVolume to requested PersistentVolumeClaim ${quote(claim.metadata.name)} due to incompatible volumeMode.`);
        this.#deps.recorder.event(claim, 'Warning', 'VolumeMismatch', `Cannot bind PersistentVolume ${quote(volume.metadata.name)} to requested PersistentVolumeClaim due to incompatible volumeMode.`);
        return;
      }
      // The binding is half done (or a provisioner created the volume): the claim's sync completes it.
      this.#deps.enqueueClaim(claim.metadata.namespace ?? '', claim.metadata.name ?? '');
      return;
    }
    if (claim.spec.volumeName === volume.metadata.name) {
      await this.#updateVolumePhase(volume, 'Bound', '');
      return;
    }
    // The claim is bound to another volume.
    if (hasAnnotation(volume, AnnDynamicallyProvisioned) && volume.spec.persistentVolumeReclaimPolicy === 'Delete') {
      if (volume.status?.phase !== 'Released' && volume.status?.phase !== 'Failed') {
        volume = await this.#updateVolumePhase(volume, 'Released', '');
      }
      await this.#reclaimVolume(volume);
      return;
    }
    await this.#unbindVolume(volume);
  }

  /** reclaimVolume: Retain keeps the volume; Delete of a CSI or externally provisioned volume is the provisioner's. */
  async #reclaimVolume(volume: PersistentVolume): Promise<void> {
    const policy = volume.spec.persistentVolumeReclaimPolicy;
    if (policy === 'Retain') return;
    if (policy === 'Recycle') {
      await this.#updateVolumePhaseWithEvent(volume, 'Failed', 'Warning', 'VolumeFailedRecycle', 'No recycler plugin found for the volume!');
      return;
    }
    if (policy === 'Delete') {
      const deleteError = externalDeleterError(volume);
      if (deleteError) await this.#updateVolumePhaseWithEvent(volume, 'Failed', 'Warning', 'VolumeFailedDelete', deleteError);
      return;
    }
    await this.#updateVolumePhaseWithEvent(volume, 'Failed', 'Warning', 'VolumeUnknownReclaimPolicy', 'Volume has unrecognized PersistentVolumeReclaimPolicy');
  }

  // ------------------------------------------------------------------ bind / unbind

  async #bind(volume: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    volume = await this.#bindVolumeToClaim(volume, claim);
    volume = await this.#updateVolumePhase(volume, 'Bound', '');
    claim = await this.#bindClaimToVolume(claim, volume);
    await this.#updateClaimStatus(claim, 'Bound', volume);
  }

  // The writers below decide before cloning whether anything changes: most syncs of a claim are the echoes of its own
  // writes and change nothing.
  async #bindVolumeToClaim(volume: PersistentVolume, claim: PersistentVolumeClaim): Promise<PersistentVolume> {
    const ref = volume.spec.claimRef;
    const setClaimRef = !ref || ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace || ref.uid !== claim.metadata.uid;
    const markBoundByController = !isVolumeBoundToClaim(volume, claim) && !hasAnnotation(volume, AnnBoundByController);
    if (!setClaimRef && !markBoundByController) return volume;
    const updated = cloneJSON(volume);
    if (setClaimRef) updated.spec.claimRef = claimReference(claim);
    if (markBoundByController) updated.metadata.annotations = { ...updated.metadata.annotations, [AnnBoundByController]: 'yes' };
    const stored = await this.#deps.api.updateVolume(updated);
    this.#deps.storeVolume?.(stored);
    return stored;
  }

  async #bindClaimToVolume(claim: PersistentVolumeClaim, volume: PersistentVolume): Promise<PersistentVolumeClaim> {
    const setVolumeName = claim.spec.volumeName !== volume.metadata.name;
    const markBindCompleted = !hasAnnotation(claim, AnnBindCompleted);
    if (!setVolumeName && !markBindCompleted) return claim;
    const updated = cloneJSON(claim);
    if (setVolumeName) {
      updated.spec.volumeName = volume.metadata.name;
      updated.metadata.annotations = { ...updated.metadata.annotations };
      if (!hasAnnotation(updated, AnnBoundByController)) updated.metadata.annotations[AnnBoundByController] = 'yes';
    }
    if (markBindCompleted) updated.metadata.annotations = { ...updated.metadata.annotations, [AnnBindCompleted]: 'yes' };
    const stored = await this.#deps.api.updateClaim(updated);
    this.#deps.storeClaim?.(stored);
    return stored;
  }

  /** unbindVolume: roll back a binding the controller made, or reset the UID of a user's pre-binding. */
  async #unbindVolume(volume: PersistentVolume): Promise<void> {
    const updated = cloneJSON(volume);
    if (hasAnnotation(volume, AnnBoundByController)) {
      delete updated.spec.claimRef;
      delete updated.metadata.annotations![AnnBoundByController];
      if (Object.keys(updated.metadata.annotations!).length === 0) delete updated.metadata.annotations;
    } else {
      updated.spec.claimRef = { ...updated.spec.claimRef, uid: '' };
    }
    const stored = await this.#deps.api.updateVolume(updated);
    this.#deps.storeVolume?.(stored);
    await this.#updateVolumePhase(stored, 'Available', '');
  }

  // ------------------------------------------------------------------ status writes

  async #updateClaimStatus(
    claim: PersistentVolumeClaim,
    phase: 'Pending' | 'Bound' | 'Lost',
    volume: PersistentVolume | undefined,
  ): Promise<PersistentVolumeClaim> {
    const status = { ...claim.status };
    let dirty = false;
    if (claim.status?.phase !== phase) {
      status.phase = phase;
      dirty = true;
    }
    if (!volume) {
      if (status.accessModes !== undefined) { delete status.accessModes; dirty = true; }
      if (status.capacity !== undefined) { delete status.capacity; dirty = true; }
    } else {
      if (!sameJSON(status.accessModes, volume.spec.accessModes)) {
        status.accessModes = volume.spec.accessModes;
        dirty = true;
      }
      // Capacity is copied when the claim becomes Bound only: a later difference may be an intended resize.
      if (claim.status?.phase !== phase) {
        if (!volume.spec.capacity?.storage) throw new BinderError(`PersistentVolume ${quote(volume.metadata.name)} is without a storage capacity`);
        if (!status.capacity?.storage || quantityValue(parseQuantity(status.capacity.storage)) !== volumeCapacityBytes(volume)) {
          status.capacity = { ...volume.spec.capacity };
          dirty = true;
        }
      }
    }
    if (!dirty) return claim;
    const stored = await this.#deps.api.updateClaimStatus(cloneJSON({ ...claim, status }));
    this.#deps.storeClaim?.(stored);
    return stored;
  }

  async #updateClaimStatusWithEvent(
    claim: PersistentVolumeClaim,
    phase: 'Pending' | 'Bound' | 'Lost',
    volume: PersistentVolume | undefined,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    if (claim.status?.phase === phase) return;
    const stored = await this.#updateClaimStatus(claim, phase, volume);
    this.#deps.recorder.event(stored, type, reason, message);
  }

  async #updateVolumePhase(
    volume: PersistentVolume,
    phase: 'Available' | 'Bound' | 'Released' | 'Failed',
    message: string,
  ): Promise<PersistentVolume> {
    if (volume.status?.phase === phase) return volume;
    const updated = cloneJSON(volume);
    updated.status = { ...updated.status, phase, message: message || undefined, lastPhaseTransitionTime: metaTime((this.#deps.now?.() ?? new Date()).getTime()) };
    if (!updated.status.message) delete updated.status.message;
    const stored = await this.#deps.api.updateVolumeStatus(updated);
    this.#deps.storeVolume?.(stored);
    return stored;
  }

  async #updateVolumePhaseWithEvent(
    volume: PersistentVolume,
    phase: 'Available' | 'Bound' | 'Released' | 'Failed',
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    if (volume.status?.phase === phase) return;
    const stored = await this.#updateVolumePhase(volume, phase, message);
    this.#deps.recorder.event(stored, type, reason, message);
  }
}

/** checkVolumeSatisfyClaim: why a volume the claim asked for by name cannot serve it, if it cannot. */
export function checkVolumeSatisfyClaim(volume: PersistentVolume, claim: PersistentVolumeClaim): string | undefined {
  if (volume.metadata.deletionTimestamp) return `the volume is marked for deletion ${quote(volume.metadata.name)}`;
  if (volumeCapacityBytes(volume) < claimRequestBytes(claim)) return 'requested PV is too small';
  if (pvStorageClassName(volume) !== claimStorageClassName(claim)) return 'storageClassName does not match';
  if (checkVolumeModeMismatches(claim.spec, volume.spec)) return 'incompatible volumeMode';
  if (!checkAccessModes(claim, volume)) return 'incompatible accessMode';
  return undefined;
}

/**
 * findDeletablePlugin for a Strata cluster, which has no in-tree volume plugins: volumes of an external provisioner
 * (provisioned-by outside kubernetes.io/) and CSI volumes are deleted by their provisioner, so undefined; any other
 * volume has no deleter, with upstream's error.
 */
function externalDeleterError(volume: PersistentVolume): string | undefined {
  const provisionedBy = volume.metadata.annotations?.[AnnDynamicallyProvisioned];
  if (provisionedBy && !provisionedBy.startsWith('kubernetes.io/')) return undefined;
  if (provisionedBy) return `no volume plugin matched name: ${provisionedBy}`;
  if (volume.spec.csi) return undefined;
  const known = ['local', 'hostPath', 'nfs', 'iscsi', 'fc', 'rbd', 'cephfs', 'flexVolume'];
  const inner = known.some((source) => volume.spec[source] !== undefined) ? 'no deletable volume plugin matched' : 'no volume plugin matched';
  return `error getting deleter volume plugin for volume ${quote(volume.metadata.name)}: ${inner}`;
}

