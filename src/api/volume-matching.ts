// PV <-> PVC matching shared by the PV binder and the scheduler's VolumeBinding plugin, as upstream keeps it in
// k8s.io/component-helpers/storage/volume (pv_helpers.go) and the PV controller's access-mode index (index.go).
import type {
  Node,
  ObjectReference,
  PersistentVolume,
  PersistentVolumeAccessMode,
  PersistentVolumeClaim,
  PersistentVolumeClaimSpec,
  PersistentVolumeSpec,
} from './types.ts';
import { labelSelectorFromObject, type LabelSelectorMatcher } from './labels.ts';
import { checkVolumeNodeAffinity } from './node-affinity.ts';
import { quantityValueOf } from './quantity.ts';
import { AnnBetaStorageClass, AnnBindCompleted } from './well-known.ts';

/** Storage requested by a claim, in bytes (0 when absent). */
export function claimRequestBytes(claim: PersistentVolumeClaim): bigint {
  const request = claim.spec.resources?.requests?.storage;
  return request ? quantityValueOf(request) : 0n;
}

/** Storage capacity of a volume, in bytes (0 when absent). */
export function volumeCapacityBytes(pv: PersistentVolume): bigint {
  const capacity = pv.spec.capacity?.storage;
  return capacity ? quantityValueOf(capacity) : 0n;
}

/** GetPersistentVolumeClaimClass: the beta annotation wins over spec.storageClassName. */
export function claimStorageClassName(claim: PersistentVolumeClaim): string {
  const annotations = claim.metadata.annotations;
  if (annotations && AnnBetaStorageClass in annotations) return annotations[AnnBetaStorageClass];
  return claim.spec.storageClassName ?? '';
}

/** PersistentVolumeClaimHasClass: an explicit class (even "") was requested. */
export function claimHasStorageClass(claim: PersistentVolumeClaim): boolean {
  return AnnBetaStorageClass in (claim.metadata.annotations ?? {}) || claim.spec.storageClassName !== undefined;
}

/** GetPersistentVolumeClass: the beta annotation wins over spec.storageClassName. */
export function pvStorageClassName(pv: PersistentVolume): string {
  const annotations = pv.metadata.annotations;
  if (annotations && AnnBetaStorageClass in annotations) return annotations[AnnBetaStorageClass];
  return pv.spec.storageClassName ?? '';
}

/** A claim is fully bound when it names its volume and the PV controller completed the binding. */
export function isClaimBound(claim: PersistentVolumeClaim): boolean {
  return !!claim.spec.volumeName && AnnBindCompleted in (claim.metadata.annotations ?? {});
}

/** IsVolumeBoundToClaim: pre-bound or bound to this claim (name and namespace; UID too when set). */
export function isVolumeBoundToClaim(pv: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  const ref = pv.spec.claimRef;
  if (!ref) return false;
  if (ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace) return false;
  return !ref.uid || ref.uid === claim.metadata.uid;
}

/** CheckVolumeModeMismatches: true when the modes differ (unset means Filesystem). */
export function checkVolumeModeMismatches(claimSpec: PersistentVolumeClaimSpec, pvSpec: PersistentVolumeSpec): boolean {
  return (claimSpec.volumeMode ?? 'Filesystem') !== (pvSpec.volumeMode ?? 'Filesystem');
}

/** CheckAccessModes: the volume offers every access mode the claim asks for. */
export function checkAccessModes(claim: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  const offered = new Set(pv.spec.accessModes ?? []);
  return (claim.spec.accessModes ?? []).every((mode) => offered.has(mode));
}

function claimSelector(claim: PersistentVolumeClaim): LabelSelectorMatcher | undefined {
  if (!claim.spec.selector) return undefined;
  try {
    return labelSelectorFromObject(claim.spec.selector);
  } catch (err) {
    throw new Error(`error creating internal label selector for claim: ${claim.metadata.namespace}/${claim.metadata.name}: ${(err as Error).message}`, { cause: err });
  }
}

export type VolumeRejectionReason =
  | 'BoundToOtherClaim' | 'TooSmall' | 'VolumeModeMismatch' | 'BeingDeleted' | 'NodeAffinityConflict'
  | 'NotAvailable' | 'SelectorMismatch' | 'StorageClassMismatch' | 'AccessModeMismatch';

export interface VolumeRejection {
  reason: VolumeRejectionReason;
  message: string;
}

export interface VolumeCandidate {
  volume: string;
  /** The volume is pre-bound to this claim (claimRef names it). */
  preBound: boolean;
  rejections: VolumeRejection[];
}

/**
 * Why each volume can or cannot serve the claim, in FindMatchingVolume's order of checks, but collecting every
 * failing check instead of stopping at the first. Access modes are always checked (the PV controller filters by them
 * through its index, the scheduler explicitly).
 */
export function explainVolumeCandidates(
  claim: PersistentVolumeClaim,
  volumes: PersistentVolume[],
  node: Node | undefined,
): VolumeCandidate[] {
  const requested = claimRequestBytes(claim);
  const requestedClass = claimStorageClassName(claim);
  const selector = claimSelector(claim);
  return volumes.map((pv) => {
    const rejections: VolumeRejection[] = [];
    const reject = (reason: VolumeRejectionReason, message: string) => rejections.push({ reason, message });
    const preBound = isVolumeBoundToClaim(pv, claim);
    const ref = pv.spec.claimRef;
    if (ref && !preBound) reject('BoundToOtherClaim', `volume is bound to claim ${ref.namespace}/${ref.name}`);
    if (volumeCapacityBytes(pv) < requested) {
      reject('TooSmall', `capacity ${pv.spec.capacity?.storage ?? '0'} is less than the requested ${claim.spec.resources?.requests?.storage}`);
    }
    if (checkVolumeModeMismatches(claim.spec, pv.spec)) {
      reject('VolumeModeMismatch', `volume mode ${pv.spec.volumeMode ?? 'Filesystem'} does not match the requested ${claim.spec.volumeMode ?? 'Filesystem'}`);
    }
    if (pv.metadata.deletionTimestamp) reject('BeingDeleted', 'volume is being deleted');
    const affinityError = node ? checkVolumeNodeAffinity(pv, node.metadata.labels ?? {}) : undefined;
    if (affinityError !== undefined) reject('NodeAffinityConflict', affinityError);
    if (!preBound) {
      if (pv.status?.phase !== 'Available') reject('NotAvailable', `volume phase is ${pv.status?.phase || 'unset'}, not Available`);
      if (selector && !selector.matches(pv.metadata.labels)) {
        reject('SelectorMismatch', "volume labels do not match the claim's selector");
      }
      if (pvStorageClassName(pv) !== requestedClass) {
        reject('StorageClassMismatch', `storage class "${pvStorageClassName(pv)}" is not the requested "${requestedClass}"`);
      }
      if (!checkAccessModes(claim, pv)) {
        reject('AccessModeMismatch', `access modes [${(pv.spec.accessModes ?? []).join(',')}] do not include all of [${(claim.spec.accessModes ?? []).join(',')}]`);
      }
    }
    return { volume: pv.metadata.name ?? '', preBound, rejections };
  });
}

/**
 * FindMatchingVolume. The scheduler passes the node (node affinity and access modes are checked against it) and the
 * volumes already chosen for the pod's other claims; the PV controller passes no node and delayBinding, in which case
 * only volumes pre-bound to the claim are returned. A pre-bound volume wins over any other; otherwise the smallest
 * Available volume that fits (first one on ties).
 */
export function findMatchingVolume(
  claim: PersistentVolumeClaim,
  volumes: PersistentVolume[],
  node: Node | undefined,
  excludedVolumes: Set<string>,
  delayBinding: boolean,
): PersistentVolume | undefined {
  const requested = claimRequestBytes(claim);
  const requestedClass = claimStorageClassName(claim);
  const selector = claimSelector(claim);
  let smallest: PersistentVolume | undefined;
  let smallestBytes = 0n;
  for (const pv of volumes) {
    if (excludedVolumes.has(pv.metadata.name ?? '')) continue;
    if (pv.spec.claimRef && !isVolumeBoundToClaim(pv, claim)) continue;
    const bytes = volumeCapacityBytes(pv);
    if (bytes < requested) continue;
    if (checkVolumeModeMismatches(claim.spec, pv.spec)) continue;
    if (pv.metadata.deletionTimestamp) continue;
    // Node affinity is the most expensive check; upstream evaluates it here, after the cheap ones.
    const nodeAffinityValid = !node || checkVolumeNodeAffinity(pv, node.metadata.labels ?? {}) === undefined;
    if (isVolumeBoundToClaim(pv, claim)) return nodeAffinityValid ? pv : undefined;
    if (!node && delayBinding) continue;
    if (pv.status?.phase !== 'Available') continue;
    if (selector && !selector.matches(pv.metadata.labels)) continue;
    if (pvStorageClassName(pv) !== requestedClass) continue;
    if (!nodeAffinityValid) continue;
    if (node && !checkAccessModes(claim, pv)) continue;
    if (!smallest || smallestBytes > bytes) {
      smallest = pv;
      smallestBytes = bytes;
    }
  }
  return smallest;
}

const accessModeOrder: PersistentVolumeAccessMode[] = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

/**
 * The PV controller's findBestMatchForClaim: volumes are grouped by their exact set of access modes; the groups that
 * offer every requested mode are searched with FindMatchingVolume, those with the fewest modes first, so a claim gets
 * the volume closest to what it asked for.
 */
export function findBestMatchForClaim(
  claim: PersistentVolumeClaim,
  volumes: PersistentVolume[],
  delayBinding: boolean,
): PersistentVolume | undefined {
  const groups = new Map<string, { modes: number; volumes: PersistentVolume[] }>();
  for (const pv of volumes) {
    const modes = accessModeOrder.filter((mode) => pv.spec.accessModes?.includes(mode));
    const key = modes.join(',');
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { modes: modes.length, volumes: [] }));
    group.volumes.push(pv);
  }
  const candidates = [...groups.values()]
    .filter((group) => checkAccessModes(claim, group.volumes[0]))
    .sort((a, b) => a.modes - b.modes);
  for (const group of candidates) {
    const match = findMatchingVolume(claim, group.volumes, undefined, new Set(), delayBinding);
    if (match) return match;
  }
  return undefined;
}

/** The object reference upstream's reference.GetReference builds for a claim. */
export function claimReference(claim: PersistentVolumeClaim): ObjectReference {
  return {
    kind: 'PersistentVolumeClaim',
    namespace: claim.metadata.namespace,
    name: claim.metadata.name,
    uid: claim.metadata.uid,
    apiVersion: 'v1',
    resourceVersion: claim.metadata.resourceVersion,
  };
}
