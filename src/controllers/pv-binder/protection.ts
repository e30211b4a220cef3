// Storage object in use protection, as kube-controller-manager's pvc-protection and pv-protection controllers: the
// finalizers kubernetes.io/pvc-protection and kubernetes.io/pv-protection are kept while an object is deleted and
// still in use, and removed once it is not.
import { cloneJSON } from '../../api/json.ts';
import type { PersistentVolume, PersistentVolumeClaim, Pod } from '../../api/types.ts';
import { PVCProtectionFinalizer, PVProtectionFinalizer } from '../../api/well-known.ts';

export interface ProtectionDeps {
  /** Pods of the namespace that reference the claim, from the informer cache. */
  podsForClaim(namespace: string, name: string): Pod[];
  /** A live list of the namespace's pods: the cache may not have seen a pod that was just created. */
  listPods(namespace: string): Promise<Pod[]>;
  updateClaim(claim: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  updateVolume(pv: PersistentVolume): Promise<PersistentVolume>;
}

/** Names of the claims a pod references: persistentVolumeClaim volumes and generic ephemeral ones (<pod>-<volume>). */
export function claimNamesOfPod(pod: Pod): string[] {
  const names: string[] = [];
  for (const volume of pod.spec.volumes ?? []) {
    if (volume.persistentVolumeClaim) names.push(volume.persistentVolumeClaim.claimName);
    else if (volume.ephemeral) names.push(`${pod.metadata.name}-${volume.name}`);
  }
  return names;
}

/** A pod kubelet is done with (deleted with grace period 0) or that was force-deleted. */
function podIsShutDown(pod: Pod): boolean {
  return !!pod.metadata.deletionTimestamp && pod.metadata.deletionGracePeriodSeconds === 0;
}

/**
 * podUsesPVC: only scheduled pods count, since kubelet refuses to start a pod whose claim is being deleted; an
 * ephemeral claim counts only while its owning pod is not shut down.
 */
export function podUsesClaim(pod: Pod, claim: PersistentVolumeClaim): boolean {
  if (!pod.spec.nodeName) return false;
  return (pod.spec.volumes ?? []).some((volume) => {
    if (volume.persistentVolumeClaim) return volume.persistentVolumeClaim.claimName === claim.metadata.name;
    if (!volume.ephemeral || podIsShutDown(pod)) return false;
    return `${pod.metadata.name}-${volume.name}` === claim.metadata.name &&
      (claim.metadata.ownerReferences ?? []).some((owner) => owner.controller && owner.uid === pod.metadata.uid);
  });
}

async function claimIsInUse(claim: PersistentVolumeClaim, deps: ProtectionDeps): Promise<boolean> {
  const namespace = claim.metadata.namespace ?? '';
  if (deps.podsForClaim(namespace, claim.metadata.name ?? '').some((pod) => podUsesClaim(pod, claim))) return true;
  return (await deps.listPods(namespace)).some((pod) => podUsesClaim(pod, claim));
}

const withoutFinalizer = (finalizers: string[] | undefined, finalizer: string) => {
  const rest = (finalizers ?? []).filter((f) => f !== finalizer);
  return rest.length ? rest : undefined;
};

/** pvc-protection: add the finalizer to live claims; remove it from deleted claims no pod uses. */
export async function syncClaimProtection(claim: PersistentVolumeClaim, deps: ProtectionDeps): Promise<PersistentVolumeClaim> {
  const protectedClaim = claim.metadata.finalizers?.includes(PVCProtectionFinalizer) ?? false;
  if (!claim.metadata.deletionTimestamp) {
    if (protectedClaim) return claim;
    const updated = cloneJSON(claim);
    updated.metadata.finalizers = [...(updated.metadata.finalizers ?? []), PVCProtectionFinalizer];
    return deps.updateClaim(updated);
  }
  if (!protectedClaim || (await claimIsInUse(claim, deps))) return claim;
  const updated = cloneJSON(claim);
  updated.metadata.finalizers = withoutFinalizer(updated.metadata.finalizers, PVCProtectionFinalizer);
  if (!updated.metadata.finalizers) delete updated.metadata.finalizers;
  return deps.updateClaim(updated);
}

/** pv-protection: add the finalizer to live volumes; remove it from deleted volumes that are not Bound. */
export async function syncVolumeProtection(pv: PersistentVolume, deps: ProtectionDeps): Promise<PersistentVolume> {
  const protectedVolume = pv.metadata.finalizers?.includes(PVProtectionFinalizer) ?? false;
  if (!pv.metadata.deletionTimestamp) {
    if (protectedVolume) return pv;
    const updated = cloneJSON(pv);
    updated.metadata.finalizers = [...(updated.metadata.finalizers ?? []), PVProtectionFinalizer];
    return deps.updateVolume(updated);
  }
  // The PV controller keeps status.phase; Bound means a claim still uses the volume.
  if (!protectedVolume || pv.status?.phase === 'Bound') return pv;
  const updated = cloneJSON(pv);
  updated.metadata.finalizers = withoutFinalizer(updated.metadata.finalizers, PVProtectionFinalizer);
  if (!updated.metadata.finalizers) delete updated.metadata.finalizers;
  return deps.updateVolume(updated);
}
