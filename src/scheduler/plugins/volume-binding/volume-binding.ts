// The VolumeBinding plugin (volumebinding/volume_binding.go): PreFilter classifies the pod's claims, Filter asks the
// binder per node, Score rates the capacity fit, Reserve assumes, PreBind writes and waits, Unreserve reverts.
import type { CSIStorageCapacity, PersistentVolumeClaim, Pod, StorageClass } from '../../../api/types.ts';
import { quantityValueOf } from '../../../api/quantity.ts';
import { claimRequestBytes, pvStorageClassName, volumeCapacityBytes } from '../../../api/volume-matching.ts';
import {
  CycleState,
  Status,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type PreBindPlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ReservePlugin,
  type ScorePlugin,
} from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import { notFoundMessage, type ClusterObjects } from '../../cluster-objects.ts';
import type { FunctionShapePoint } from '../helper.ts';
import * as names from '../names.ts';
import { VolumeBinder, type PodVolumeClaims, type PodVolumes, type VolumeBinderOptions, type VolumeBindingApi } from './binder.ts';
import { explainVolumeBinding } from './explain.ts';
import { buildScorerFunction, volumeCapacityPriorityShape, type StorageResource, type VolumeCapacityScorer } from './scorer.ts';

const stateKey = names.VolumeBinding;
export const ErrReasonUnboundImmediate = 'pod has unbound immediate PersistentVolumeClaims';

interface StateData {
  podVolumeClaims: PodVolumeClaims;
  podVolumesByNode: Map<string, PodVolumes>;
  hasStaticBindings: boolean;
  allBound: boolean;
  /** The statuses of the nodes that conflict with bound claims, one per reason: shared by all such nodes. */
  boundConflicts: Map<string, Status>;
}

export interface VolumeBindingOptions extends VolumeBinderOptions {
  /**
   * The capacity scoring shape (scores 0..10). Default: VolumeCapacityPriority's (0,0),(100,10); null disables
   * scoring, as upstream does with its feature gates off.
   */
  shape?: FunctionShapePoint[] | null;
  /** StorageCapacityScoring: without static bindings, score provisioning by the CSIStorageCapacity found. */
  storageCapacityScoring?: boolean;
}

const getState = (cs: CycleState): StateData | undefined => cs.read<StateData>(stateKey);

export class VolumeBindingPlugin
  implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, ReservePlugin, PreBindPlugin, EnqueueExtensions
{
  readonly name = names.VolumeBinding;
  readonly binder: VolumeBinder;
  private readonly objects: ClusterObjects;
  private readonly scorer?: VolumeCapacityScorer;
  private readonly storageCapacityScoring: boolean;

  constructor(objects: ClusterObjects, api: VolumeBindingApi, options: VolumeBindingOptions = {}) {
    this.objects = objects;
    this.binder = new VolumeBinder(objects, api, options);
    const shape = options.shape === undefined ? volumeCapacityPriorityShape : options.shape;
    if (shape) this.scorer = buildScorerFunction(shape);
    this.storageCapacityScoring = options.storageCapacityScoring ?? false;
  }

  /** podHasPVCs: every claim must exist, not be lost or deleting, and (ephemeral) belong to the pod. */
  private podHasPVCs(pod: Pod): { hasPVC: boolean; error?: string } {
    let hasPVC = false;
    const namespace = pod.metadata.namespace ?? '';
    for (const v of pod.spec.volumes ?? []) {
      const isEphemeral = !v.persistentVolumeClaim && !!v.ephemeral;
      const claimName = v.persistentVolumeClaim?.claimName ?? (isEphemeral ? `${pod.metadata.name}-${v.name}` : undefined);
      if (claimName === undefined) continue;
      hasPVC = true;
      const pvc = this.objects.getPVC(namespace, claimName);
      if (!pvc) {
        const error = isEphemeral
          ? `waiting for ephemeral volume controller to create the persistentvolumeclaim ${JSON.stringify(claimName)}`
          : notFoundMessage('persistentvolumeclaim', claimName);
        return { hasPVC, error };
      }
      if (pvc.status?.phase === 'Lost') {
        return { hasPVC, error: `persistentvolumeclaim ${JSON.stringify(pvc.metadata.name)} bound to non-existent persistentvolume ${JSON.stringify(pvc.spec.volumeName ?? '')}` };
      }
      if (pvc.metadata.deletionTimestamp) return { hasPVC, error: `persistentvolumeclaim ${JSON.stringify(pvc.metadata.name)} is being deleted` };
      if (isEphemeral && !isControlledBy(pvc, pod)) {
        return { hasPVC, error: `PVC ${pvc.metadata.namespace}/${pvc.metadata.name} was not created for pod ${namespace}/${pod.metadata.name} (pod is not owner)` };
      }
    }
    return { hasPVC };
  }

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    const { hasPVC, error } = this.podHasPVCs(pod);
    if (error !== undefined) return new Status('UnschedulableAndUnresolvable', error);
    if (!hasPVC) {
      state.write(stateKey, undefined);
      return new Status('Skip');
    }
    let podVolumeClaims: PodVolumeClaims;
    try {
      podVolumeClaims = this.binder.getPodVolumeClaims(pod);
    } catch (err) {
      return Status.error(err);
    }
    if (podVolumeClaims.unboundClaimsImmediate.length > 0) {
      // The PV controller binds these; the claim's update re-queues the pod.
      return new Status('UnschedulableAndUnresolvable', ErrReasonUnboundImmediate);
    }
    state.write(stateKey, { podVolumeClaims, podVolumesByNode: new Map(), hasStaticBindings: false, allBound: false, boundConflicts: new Map() } satisfies StateData);
    return undefined;
  }

  filter(cs: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    const state = getState(cs);
    if (!state) return undefined;
    if (state.podVolumeClaims.unboundClaimsDelayBinding.length === 0) {
      // All bound: no volumes to remember per node (Reserve then finds them all bound), and one status per reason.
      const reason = this.binder.boundClaimsConflict(state.podVolumeClaims.boundClaims, nodeInfo.node);
      if (reason === undefined) return undefined;
      let status = state.boundConflicts.get(reason);
      if (!status) state.boundConflicts.set(reason, (status = new Status('UnschedulableAndUnresolvable', reason)));
      return status;
    }
    let found: ReturnType<VolumeBinder['findPodVolumes']>;
    try {
      found = this.binder.findPodVolumes(pod, state.podVolumeClaims, nodeInfo.node);
    } catch (err) {
      return Status.error(err);
    }
    if (found.reasons.length > 0) return new Status('UnschedulableAndUnresolvable', ...found.reasons);
    state.podVolumesByNode.set(nodeInfo.name, found.podVolumes);
    state.hasStaticBindings ||= found.podVolumes.staticBindings.length > 0;
    return undefined;
  }

  explainFilter(cs: CycleState, pod: Pod, nodeInfo: NodeInfo): unknown {
    const state = getState(cs);
    return state ? explainVolumeBinding(this.binder, this.objects, state.podVolumeClaims, nodeInfo.node) : undefined;
  }

  preScore(cs: CycleState): Status | undefined {
    if (!this.scorer) return new Status('Skip');
    const state = getState(cs);
    if (state && (state.hasStaticBindings || this.storageCapacityScoring)) return undefined;
    return new Status('Skip');
  }

  score(cs: CycleState, _pod: Pod, nodeInfo: NodeInfo): number {
    const podVolumes = getState(cs)?.podVolumesByNode.get(nodeInfo.name);
    if (!this.scorer || !podVolumes) return 0;
    const classResources = new Map<string, StorageResource>();
    if (podVolumes.staticBindings.length > 0 || !this.storageCapacityScoring) {
      for (const { pv, pvc } of podVolumes.staticBindings) {
        const className = pvStorageClassName(pv);
        const r = classResources.get(className) ?? { requested: 0n, capacity: 0n };
        r.requested += claimRequestBytes(pvc);
        r.capacity += volumeCapacityBytes(pv);
        classResources.set(className, r);
      }
    } else {
      for (const { pvc, nodeCapacity } of podVolumes.dynamicProvisions) {
        if (!nodeCapacity?.capacity) continue;
        const className = pvc.spec.storageClassName ?? '';
        const r = classResources.get(className) ?? { requested: 0n, capacity: 0n };
        // One pool serves all the class's claims: its capacity is not summed.
        r.capacity = quantityValueOf(nodeCapacity.capacity);
        r.requested += claimRequestBytes(pvc);
        classResources.set(className, r);
      }
    }
    return this.scorer(classResources);
  }

  reserve(cs: CycleState, pod: Pod, nodeName: string): Status | undefined {
    const state = getState(cs);
    if (!state) return undefined;
    const podVolumes = state.podVolumesByNode.get(nodeName);
    if (!podVolumes) {
      state.allBound = true;
      return undefined;
    }
    try {
      state.allBound = this.binder.assumePodVolumes(pod, nodeName, podVolumes);
    } catch (err) {
      return Status.error(err);
    }
    return undefined;
  }

  unreserve(cs: CycleState, _pod: Pod, nodeName: string): void {
    const podVolumes = getState(cs)?.podVolumesByNode.get(nodeName);
    if (podVolumes) this.binder.revertAssumedPodVolumes(podVolumes);
  }

  async preBind(cs: CycleState, pod: Pod, nodeName: string, signal: AbortSignal): Promise<Status | undefined> {
    const state = getState(cs);
    if (!state || state.allBound) return undefined;
    const podVolumes = state.podVolumesByNode.get(nodeName);
    if (!podVolumes) return Status.error(`no pod volumes found for node ${JSON.stringify(nodeName)}`);
    try {
      await this.binder.bindPodVolumes(pod, nodeName, podVolumes, signal);
    } catch (err) {
      return Status.error(err);
    }
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      // A class may be created late, or its allowedTopologies fixed.
      {
        resource: 'StorageClass',
        actions: ['Add', 'Update'],
        hint: (_pod, oldObj, newObj) => {
          if (!oldObj) return 'Queue';
          const [o, n] = [oldObj as StorageClass, newObj as StorageClass];
          return JSON.stringify(o.allowedTopologies ?? []) !== JSON.stringify(n.allowedTopologies ?? []) ? 'Queue' : 'QueueSkip';
        },
      },
      {
        resource: 'PersistentVolumeClaim',
        actions: ['Add', 'Update'],
        hint: (pod, _old, newObj) => (podUsesClaim(pod, newObj as PersistentVolumeClaim) ? 'Queue' : 'QueueSkip'),
      },
      { resource: 'PersistentVolume', actions: ['Add', 'Update'] },
      { resource: 'Node', actions: ['Add', 'UpdateNodeLabel', 'UpdateNodeTaint'] },
      { resource: 'CSINode', actions: ['Add', 'Update'] },
      { resource: 'CSIDriver', actions: ['Add', 'Update'] },
      {
        resource: 'CSIStorageCapacity',
        actions: ['Add', 'Update'],
        hint: (_pod, oldObj, newObj) => (oldObj && !capacityGrew(oldObj as CSIStorageCapacity, newObj as CSIStorageCapacity) ? 'QueueSkip' : 'Queue'),
      },
    ];
  }
}

function isControlledBy(pvc: PersistentVolumeClaim, pod: Pod): boolean {
  return (pvc.metadata.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === pod.metadata.uid);
}

function podUsesClaim(pod: Pod, pvc: PersistentVolumeClaim): boolean {
  if (pvc.metadata.namespace !== pod.metadata.namespace) return false;
  return (pod.spec.volumes ?? []).some(
    (v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name || (v.ephemeral && `${pod.metadata.name}-${v.name}` === pvc.metadata.name),
  );
}

/** A capacity update helps when a limit rose or the pool now serves other nodes or another class. */
function capacityGrew(oldCap: CSIStorageCapacity, newCap: CSIStorageCapacity): boolean {
  const bytes = (q: string | undefined) => (q === undefined ? -1n : quantityValueOf(q));
  return (
    bytes(newCap.capacity) > bytes(oldCap.capacity) ||
    bytes(newCap.maximumVolumeSize) > bytes(oldCap.maximumVolumeSize) ||
    newCap.storageClassName !== oldCap.storageClassName ||
    JSON.stringify(newCap.nodeTopology) !== JSON.stringify(oldCap.nodeTopology)
  );
}
