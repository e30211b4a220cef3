// The volume binder of the VolumeBinding plugin (pkg/scheduler/framework/plugins/volumebinding/binder.go):
// classifies a pod's claims, finds PVs or provisioning for them per node, assumes the choice, writes it to the API
// and waits for the PV controller and the provisioner to finish the binding.
import type { CSIStorageCapacity, Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../../api/types.ts';
import { checkVolumeNodeAffinity, topologyTermsMatch } from '../../../api/node-affinity.ts';
import { quantityValueOf } from '../../../api/quantity.ts';
import {
  claimReference,
  claimRequestBytes,
  claimStorageClassName,
  findMatchingVolume,
  isClaimBound,
  isVolumeBoundToClaim,
  volumeCapacityBytes,
} from '../../../api/volume-matching.ts';
import { AnnBoundByController, AnnSelectedNode, NotSupportedProvisioner } from '../../../api/well-known.ts';
import { nodeHasAccess, notFoundMessage, type ClusterObjects } from '../../cluster-objects.ts';
import { cloneJSON } from '../../../api/json.ts';

// ConflictReasons, in the order FindPodVolumes reports them.
export const ErrReasonBindConflict = "node(s) didn't find available persistent volumes to bind";
export const ErrReasonNodeConflict = 'node(s) had volume node affinity conflict';
export const ErrReasonNotEnoughSpace = 'node(s) did not have enough free storage';
export const ErrReasonPVNotExist = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';

export class VolumeBindingError extends Error {
  override name = 'VolumeBindingError';
}

export interface PodVolumeClaims {
  boundClaims: PersistentVolumeClaim[];
  unboundClaimsDelayBinding: PersistentVolumeClaim[];
  unboundClaimsImmediate: PersistentVolumeClaim[];
}

export interface BindingInfo {
  pv: PersistentVolume;
  pvc: PersistentVolumeClaim;
}

export interface ProvisionedClaim {
  pvc: PersistentVolumeClaim;
  /** The CSIStorageCapacity that showed room for it, when capacity was checked. */
  nodeCapacity?: CSIStorageCapacity;
}

export interface PodVolumes {
  staticBindings: BindingInfo[];
  dynamicProvisions: ProvisionedClaim[];
}

/** The API writes PreBind makes. */
export interface VolumeBindingApi {
  updatePV(pv: PersistentVolume): Promise<PersistentVolume>;
  updatePVC(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
}

export interface VolumeBinderOptions {
  /** How long PreBind waits for the binding to complete (upstream bindTimeoutSeconds: 600). */
  bindTimeoutMs?: number;
  /** How often PreBind checks the binding (upstream: every second). */
  pollIntervalMs?: number;
  /** Beyond upstream: called for a claim whose selected-node names a node that no longer exists (k8s #100485). */
  onStaleSelectedNode?: (pvc: PersistentVolumeClaim) => void;
}

export const pvcKey = (pvc: PersistentVolumeClaim): string => `${pvc.metadata.namespace ?? ''}/${pvc.metadata.name ?? ''}`;
const pvcKeyParts = (pvc: PersistentVolumeClaim): [string, string] => [pvc.metadata.namespace ?? '', pvc.metadata.name ?? ''];

/** An informer object whose change may finish a PreBind wait. */
export type ChangedObject =
  | { kind: 'PersistentVolume'; obj: PersistentVolume }
  | { kind: 'PersistentVolumeClaim'; obj: PersistentVolumeClaim }
  | { kind: 'Pod'; obj: Pod };

const changeKey = (kind: ChangedObject['kind'], namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

/** The wait keys a change concerns; a PV's change also concerns the claim it is bound to (a provisioned PV appears). */
function changeKeys(changed: ChangedObject): string[] {
  const { metadata } = changed.obj;
  const keys = [changeKey(changed.kind, metadata.namespace ?? '', metadata.name ?? '')];
  const ref = changed.kind === 'PersistentVolume' ? changed.obj.spec.claimRef : undefined;
  if (ref) keys.push(changeKey('PersistentVolumeClaim', ref.namespace ?? '', ref.name ?? ''));
  return keys;
}

function resourceVersion(obj: { metadata: { resourceVersion?: string } }): bigint {
  const rv = obj.metadata.resourceVersion ?? '';
  return /^[0-9]+$/.test(rv) ? BigInt(rv) : 0n;
}

/** GetBindVolumeToClaim: the PV with a full claimRef to the claim and bound-by-controller set when the PV was not pre-bound. */
export function bindVolumeToClaim(pv: PersistentVolume, claim: PersistentVolumeClaim): { pv: PersistentVolume; dirty: boolean } {
  const shouldSetBoundByController = !isVolumeBoundToClaim(pv, claim);
  const clone = cloneJSON(pv);
  let dirty = false;
  const ref = pv.spec.claimRef;
  if (!ref || ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace || ref.uid !== claim.metadata.uid) {
    clone.spec.claimRef = claimReference(claim);
    dirty = true;
  }
  if (shouldSetBoundByController && !(AnnBoundByController in (clone.metadata.annotations ?? {}))) {
    clone.metadata.annotations = { ...clone.metadata.annotations, [AnnBoundByController]: 'yes' };
    dirty = true;
  }
  return { pv: clone, dirty };
}

/** capacitySufficient: maximumVolumeSize, when given, is the more precise limit. */
export function capacitySufficient(capacity: CSIStorageCapacity, sizeInBytes: bigint): boolean {
  const limit = capacity.maximumVolumeSize ?? capacity.capacity;
  return limit !== undefined && quantityValueOf(limit) >= sizeInBytes;
}

export { nodeHasAccess };

// checkBoundClaims' three outcomes.
const boundSatisfied = [true, true] as const;
const nodeConflict = [false, true] as const;
const pvNotFound = [true, false] as const;

export class VolumeBinder {
  private readonly objects: ClusterObjects;
  private readonly api: VolumeBindingApi;
  readonly bindTimeoutMs: number;
  readonly pollIntervalMs: number;
  private readonly onStaleSelectedNode?: (pvc: PersistentVolumeClaim) => void;
  /** PreBind waits by the objects whose change may finish them (see changeKeys), and all of them. */
  private readonly changeWaiters = new Map<string, Set<() => void>>();
  private readonly allWaiters = new Set<() => void>();

  constructor(objects: ClusterObjects, api: VolumeBindingApi, options: VolumeBinderOptions = {}) {
    this.objects = objects;
    this.api = api;
    this.bindTimeoutMs = options.bindTimeoutMs ?? 600_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.onStaleSelectedNode = options.onStaleSelectedNode;
  }

  /**
   * Wakes the PreBind waits that a change of this PV, PVC or pod may finish, or all of them without an object (they
   * also re-check every pollIntervalMs). Only the concerned ones: thousands of pods may be waiting.
   */
  notifyChange(obj?: ChangedObject): void {
    if (!obj) {
      for (const wake of [...this.allWaiters]) wake();
      return;
    }
    for (const key of changeKeys(obj)) for (const wake of [...(this.changeWaiters.get(key) ?? [])]) wake();
  }

  /** IsDelayBindingMode: a claim whose class is WaitForFirstConsumer; no class or a missing class is Immediate. */
  isDelayBindingMode(pvc: PersistentVolumeClaim): boolean {
    const className = claimStorageClassName(pvc);
    if (className === '') return false;
    const sc = this.objects.getStorageClass(className);
    return (sc?.volumeBindingMode ?? 'Immediate') === 'WaitForFirstConsumer';
  }

  /** GetPodVolumeClaims: sorts the pod's claims into bound, unbound delayed and unbound immediate ones. */
  getPodVolumeClaims(pod: Pod): PodVolumeClaims {
    const result: PodVolumeClaims = {
      boundClaims: [],
      unboundClaimsDelayBinding: [],
      unboundClaimsImmediate: [],
    };
    const namespace = pod.metadata.namespace ?? '';
    for (const v of pod.spec.volumes ?? []) {
      const claimName = v.persistentVolumeClaim?.claimName ?? (v.ephemeral ? `${pod.metadata.name}-${v.name}` : undefined);
      if (claimName === undefined) continue;
      const key = `${namespace}/${claimName}`;
      let pvc = this.objects.pvcCache.get(key);
      if (!pvc) throw new VolumeBindingError(`error getting PVC ${JSON.stringify(key)}: could not find v1.PersistentVolumeClaim ${JSON.stringify(key)}`);
      if (isClaimBound(pvc)) {
        result.boundClaims.push(pvc);
        continue;
      }
      if (this.isDelayBindingMode(pvc) && !pvc.spec.volumeName) {
        pvc = this.withoutStaleSelectedNode(pvc);
        result.unboundClaimsDelayBinding.push(pvc);
      } else {
        // Pre-bound claims count as immediate: the PV controller binds them.
        result.unboundClaimsImmediate.push(pvc);
      }
    }
    return result;
  }

  /** Beyond upstream: a selected-node naming a deleted node would pin the pod forever; this cycle ignores it. */
  private withoutStaleSelectedNode(pvc: PersistentVolumeClaim): PersistentVolumeClaim {
    const selected = pvc.metadata.annotations?.[AnnSelectedNode];
    if (selected === undefined || this.objects.getNode(selected)) return pvc;
    this.onStaleSelectedNode?.(pvc);
    const clone = cloneJSON(pvc);
    delete clone.metadata.annotations![AnnSelectedNode];
    return clone;
  }

  /**
   * FindPodVolumes: whether the node can host the pod's volumes. Returns the volumes to bind or provision there and
   * the conflict reasons (empty when it fits); throws on errors.
   */
  findPodVolumes(pod: Pod, claims: PodVolumeClaims, node: Node): { podVolumes: PodVolumes; reasons: string[] } {
    // Run for every node a pod with unbound claims is checked against: it allocates only what it returns.
    let boundVolumesSatisfied = true;
    let boundPVsFound = true;
    let unboundVolumesSatisfied = true;
    let sufficientStorage = true;
    let staticBindings: BindingInfo[] = [];
    let dynamicProvisions: ProvisionedClaim[] = [];

    if (claims.boundClaims.length > 0) {
      const checked = this.checkBoundClaims(claims.boundClaims, node);
      boundVolumesSatisfied = checked[0];
      boundPVsFound = checked[1];
    }
    delayed: if (claims.unboundClaimsDelayBinding.length > 0) {
      let claimsToFindMatching: PersistentVolumeClaim[] | undefined;
      let claimsToProvision: PersistentVolumeClaim[] | undefined;
      for (const claim of claims.unboundClaimsDelayBinding) {
        const selectedNode = claim.metadata.annotations?.[AnnSelectedNode];
        if (selectedNode !== undefined) {
          if (selectedNode !== node.metadata.name) {
            // Fast path: the claim is already being provisioned for another node.
            unboundVolumesSatisfied = false;
            break delayed;
          }
          (claimsToProvision ??= []).push(claim);
        } else {
          (claimsToFindMatching ??= []).push(claim);
        }
      }
      if (claimsToFindMatching) {
        const matching = this.findMatchingVolumes(claimsToFindMatching, node);
        unboundVolumesSatisfied = matching.foundMatches;
        staticBindings = matching.bindings;
        if (matching.unboundClaims.length > 0) (claimsToProvision ??= []).push(...matching.unboundClaims);
      }
      if (claimsToProvision) {
        const provision = this.checkVolumeProvisions(claimsToProvision, node);
        unboundVolumesSatisfied = provision.provisionSatisfied;
        sufficientStorage = provision.sufficientStorage;
        dynamicProvisions = provision.dynamicProvisions;
      }
    }
    const reasons: string[] = [];
    if (!boundVolumesSatisfied) reasons.push(ErrReasonNodeConflict);
    if (!unboundVolumesSatisfied) reasons.push(ErrReasonBindConflict);
    if (!sufficientStorage) reasons.push(ErrReasonNotEnoughSpace);
    if (!boundPVsFound) reasons.push(ErrReasonPVNotExist);
    return { podVolumes: { staticBindings, dynamicProvisions }, reasons };
  }

  /** checkBoundClaims: [node affinity satisfied, PVs found]; stops at the first failing claim. */
  private checkBoundClaims(claims: PersistentVolumeClaim[], node: Node): readonly [boolean, boolean] {
    for (const pvc of claims) {
      const pv = this.objects.pvCache.get(pvc.spec.volumeName!);
      if (!pv) return pvNotFound;
      if (checkVolumeNodeAffinity(pv, node.metadata.labels) !== undefined) return nodeConflict;
    }
    return boundSatisfied;
  }

  /**
   * FindPodVolumes when every claim is bound (nothing to bind or provision): just the conflict reason, if any. The
   * common case, run for every node the pod is checked against, so it allocates nothing.
   */
  boundClaimsConflict(claims: PersistentVolumeClaim[], node: Node): string | undefined {
    const checked = this.checkBoundClaims(claims, node);
    return checked === nodeConflict ? ErrReasonNodeConflict : checked === pvNotFound ? ErrReasonPVNotExist : undefined;
  }

  /** findMatchingVolumes: smallest claims first, each PV chosen at most once, among the PVs that may fit the node. */
  private findMatchingVolumes(
    claimsToBind: PersistentVolumeClaim[],
    node: Node,
  ): { foundMatches: boolean; bindings: BindingInfo[]; unboundClaims: PersistentVolumeClaim[] } {
    // claimsToBind is the caller's own list: sorted in place.
    const sorted = claimsToBind.length < 2 ? claimsToBind : claimsToBind.sort((a, b) => {
      const x = claimRequestBytes(a);
      const y = claimRequestBytes(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    const chosen = new Set<string>();
    const bindings: BindingInfo[] = [];
    const unboundClaims: PersistentVolumeClaim[] = [];
    let foundMatches = true;
    for (const pvc of sorted) {
      const candidates = this.objects.candidatePVs(pvc, node);
      // Without candidates nothing can match.
      const pv = candidates.length === 0 ? undefined : findMatchingVolume(pvc, candidates, node, chosen, true);
      if (!pv) {
        unboundClaims.push(pvc);
        foundMatches = false;
        continue;
      }
      chosen.add(pv.metadata.name ?? '');
      bindings.push({ pv, pvc });
    }
    return { foundMatches, bindings, unboundClaims };
  }

  /** checkVolumeProvisions: the class must provision, allow the node's topology and (CSI) have capacity there. */
  private checkVolumeProvisions(
    claims: PersistentVolumeClaim[],
    node: Node,
  ): { provisionSatisfied: boolean; sufficientStorage: boolean; dynamicProvisions: ProvisionedClaim[] } {
    const dynamicProvisions: ProvisionedClaim[] = [];
    for (const claim of claims) {
      const sc = this.provisioningClass(claim);
      if (!sc.provisioner || sc.provisioner === NotSupportedProvisioner) {
        return { provisionSatisfied: false, sufficientStorage: true, dynamicProvisions: [] };
      }
      if (!topologyTermsMatch(sc.allowedTopologies, node.metadata.labels)) {
        return { provisionSatisfied: false, sufficientStorage: true, dynamicProvisions: [] };
      }
      const capacity = this.hasEnoughCapacity(sc.provisioner, claim, sc, node);
      if (!capacity.sufficient) return { provisionSatisfied: true, sufficientStorage: false, dynamicProvisions: [] };
      dynamicProvisions.push({ pvc: claim, nodeCapacity: capacity.capacity });
    }
    return { provisionSatisfied: true, sufficientStorage: true, dynamicProvisions };
  }

  /** The claim's StorageClass, or upstream's errors when there is none. */
  provisioningClass(claim: PersistentVolumeClaim): StorageClass {
    const className = claimStorageClassName(claim);
    if (className === '') throw new VolumeBindingError(`no class for claim ${JSON.stringify(pvcKey(claim))}`);
    const sc = this.objects.getStorageClass(className);
    if (!sc) throw new VolumeBindingError(`failed to find storage class ${JSON.stringify(className)}`);
    return sc;
  }

  /** hasEnoughCapacity: only for CSI drivers with storageCapacity: true; any accessible pool large enough will do. */
  hasEnoughCapacity(
    provisioner: string,
    claim: PersistentVolumeClaim,
    sc: StorageClass,
    node: Node,
  ): { sufficient: boolean; capacity?: CSIStorageCapacity } {
    if (claim.spec.resources?.requests?.storage === undefined) return { sufficient: true };
    if (this.objects.getCSIDriver(provisioner)?.spec.storageCapacity !== true) return { sufficient: true };
    const size = claimRequestBytes(claim);
    const capacity = this.objects.accessibleCapacities(sc.metadata.name ?? '', node).find((c) => capacitySufficient(c, size));
    return capacity ? { sufficient: true, capacity } : { sufficient: false };
  }

  /** AssumePodVolumes: records the choice in the assume caches. Returns whether every claim was already bound. */
  assumePodVolumes(pod: Pod, nodeName: string, podVolumes: PodVolumes): boolean {
    if (this.arePodVolumesBound(pod)) return true;
    const newBindings: BindingInfo[] = [];
    const newProvisions: ProvisionedClaim[] = [];
    try {
      for (const binding of podVolumes.staticBindings) {
        const { pv, dirty } = bindVolumeToClaim(binding.pv, binding.pvc);
        if (dirty) this.objects.pvCache.assume(pv);
        newBindings.push({ pv, pvc: binding.pvc });
      }
      for (const provision of podVolumes.dynamicProvisions) {
        const clone = cloneJSON(provision.pvc);
        clone.metadata.annotations = { ...clone.metadata.annotations, [AnnSelectedNode]: nodeName };
        this.objects.pvcCache.assume(clone);
        newProvisions.push({ ...provision, pvc: clone });
      }
    } catch (err) {
      this.revertAssumedPodVolumes({ staticBindings: newBindings, dynamicProvisions: newProvisions });
      throw err;
    }
    podVolumes.staticBindings = newBindings;
    podVolumes.dynamicProvisions = newProvisions;
    return false;
  }

  private arePodVolumesBound(pod: Pod): boolean {
    const namespace = pod.metadata.namespace ?? '';
    for (const v of pod.spec.volumes ?? []) {
      const claimName = v.persistentVolumeClaim?.claimName ?? (v.ephemeral ? `${pod.metadata.name}-${v.name}` : undefined);
      if (claimName === undefined) continue;
      const pvc = this.objects.pvcCache.get(`${namespace}/${claimName}`);
      if (!pvc || !isClaimBound(pvc)) return false;
    }
    return true;
  }

  /** RevertAssumedPodVolumes: the informer's objects are the latest again (idempotent). */
  revertAssumedPodVolumes(podVolumes: PodVolumes): void {
    for (const b of podVolumes.staticBindings) this.objects.pvCache.restore(b.pv.metadata.name ?? '');
    for (const p of podVolumes.dynamicProvisions) this.objects.pvcCache.restore(pvcKey(p.pvc));
  }

  /** BindPodVolumes: PUT the PVs, then the PVCs, then wait until everything is bound. */
  async bindPodVolumes(pod: Pod, nodeName: string, podVolumes: PodVolumes, signal: AbortSignal): Promise<void> {
    await this.bindAPIUpdate(podVolumes);
    const waitKeys = [
      changeKey('Pod', pod.metadata.namespace ?? '', pod.metadata.name ?? ''),
      ...podVolumes.staticBindings.flatMap((b) => [changeKey('PersistentVolume', '', b.pv.metadata.name ?? ''), changeKey('PersistentVolumeClaim', ...pvcKeyParts(b.pvc))]),
      ...podVolumes.dynamicProvisions.map((p) => changeKey('PersistentVolumeClaim', ...pvcKeyParts(p.pvc))),
    ];
    const deadline = Date.now() + this.bindTimeoutMs;
    for (;;) {
      await this.waitForChange(Math.min(this.pollIntervalMs, Math.max(0, deadline - Date.now())), signal, waitKeys);
      if (signal.aborted) throw new VolumeBindingError('binding volumes: context canceled');
      let done: boolean;
      try {
        done = this.checkBindings(pod, nodeName, podVolumes);
      } catch (err) {
        throw new VolumeBindingError(`binding volumes: ${(err as Error).message}`, { cause: err });
      }
      if (done) return;
      if (Date.now() >= deadline) throw new VolumeBindingError('binding volumes: context deadline exceeded');
    }
  }

  private waitForChange(ms: number, signal: AbortSignal, keys: string[]): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.allWaiters.delete(finish);
        for (const key of keys) {
          const waiters = this.changeWaiters.get(key);
          waiters?.delete(finish);
          if (waiters?.size === 0) this.changeWaiters.delete(key);
        }
        this.abortWaiters.get(signal)?.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.allWaiters.add(finish);
      for (const key of keys) {
        let waiters = this.changeWaiters.get(key);
        if (!waiters) this.changeWaiters.set(key, (waiters = new Set()));
        waiters.add(finish);
      }
      if (signal.aborted) return finish();
      let onAbort = this.abortWaiters.get(signal);
      if (!onAbort) {
        const waiters = new Set<() => void>();
        this.abortWaiters.set(signal, (onAbort = waiters));
        signal.addEventListener('abort', () => [...waiters].forEach((f) => f()), { once: true });
      }
      onAbort.add(finish);
    });
  }

  /**
   * Binding cycles waiting on each abort signal: one listener per signal wakes them all. (A listener per wait made
   * every addEventListener walk the others: with a thousand pods waiting for provisioning, quadratic.)
   */
  private readonly abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

  /** bindAPIUpdate: objects not yet written are reverted on failure; written ones stay assumed. */
  private async bindAPIUpdate(podVolumes: PodVolumes): Promise<void> {
    const { staticBindings, dynamicProvisions } = podVolumes;
    let boundCount = 0;
    let provisionedCount = 0;
    try {
      for (const binding of staticBindings) {
        binding.pv = await this.api.updatePV(binding.pv);
        boundCount++;
      }
      for (const provision of dynamicProvisions) {
        provision.pvc = await this.api.updatePVC(provision.pvc);
        provisionedCount++;
      }
    } catch (err) {
      this.revertAssumedPodVolumes({
        staticBindings: staticBindings.slice(boundCount),
        dynamicProvisions: dynamicProvisions.slice(provisionedCount),
      });
      throw err;
    }
  }

  /** checkBindings: true when all done, false to keep waiting; throws when the binding cannot complete. */
  checkBindings(pod: Pod, nodeName: string, podVolumes: PodVolumes): boolean {
    const node = this.objects.getNode(nodeName);
    if (!node) throw new Error(`failed to get node ${JSON.stringify(nodeName)}: ${notFoundMessage('node', nodeName)}`);
    const podName = pod.metadata.name ?? '';
    if (!this.objects.getPod(pod.metadata.namespace ?? '', podName)) {
      throw new Error(`pod does not exist any more: ${notFoundMessage('pod', podName)}`);
    }
    for (const binding of podVolumes.staticBindings) {
      const pv = this.objects.pvCache.getAPIObj(binding.pv.metadata.name ?? '');
      if (!pv) throw new Error(`failed to check binding: could not find v1.PersistentVolume ${JSON.stringify(binding.pv.metadata.name)}`);
      const key = pvcKey(binding.pvc);
      const pvc = this.objects.pvcCache.getAPIObj(key);
      if (!pvc) throw new Error(`failed to check binding: could not find v1.PersistentVolumeClaim ${JSON.stringify(key)}`);
      // The informer has not caught up with our write yet.
      if (resourceVersion(binding.pv) > resourceVersion(pv)) return false;
      const affinityError = checkVolumeNodeAffinity(pv, node.metadata.labels);
      if (affinityError !== undefined) {
        throw new Error(`pv ${JSON.stringify(pv.metadata.name)} node affinity doesn't match node ${JSON.stringify(nodeName)}: ${affinityError}`);
      }
      if (!pv.spec.claimRef || !pv.spec.claimRef.uid) throw new Error(`ClaimRef got reset for pv ${JSON.stringify(pv.metadata.name)}`);
      if (!isClaimBound(pvc)) return false;
    }
    for (const provision of podVolumes.dynamicProvisions) {
      const key = pvcKey(provision.pvc);
      const pvc = this.objects.pvcCache.getAPIObj(key);
      if (!pvc) throw new Error(`failed to check provisioning pvc: could not find v1.PersistentVolumeClaim ${JSON.stringify(key)}`);
      if (resourceVersion(provision.pvc) > resourceVersion(pvc)) return false;
      if (!pvc.metadata.annotations) throw new Error(`selectedNode annotation reset for PVC ${JSON.stringify(pvc.metadata.name)}`);
      // The provisioner removes selected-node to hand the claim back to the scheduler when it fails.
      if (pvc.metadata.annotations[AnnSelectedNode] !== nodeName) throw new Error(`provisioning failed for PVC ${JSON.stringify(pvc.metadata.name)}`);
      if (pvc.spec.volumeName) {
        const pv = this.objects.pvCache.getAPIObj(pvc.spec.volumeName);
        // The PV may not have reached the informer yet.
        if (!pv) return false;
        const affinityError = checkVolumeNodeAffinity(pv, node.metadata.labels);
        if (affinityError !== undefined) {
          throw new Error(`pv ${JSON.stringify(pv.metadata.name)} node affinity doesn't match node ${JSON.stringify(nodeName)}: ${affinityError}`);
        }
      }
      if (!isClaimBound(pvc)) return false;
    }
    return true;
  }
}
