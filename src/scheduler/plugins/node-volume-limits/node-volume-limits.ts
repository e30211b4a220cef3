// NodeVolumeLimits (CSI): a node takes no more volumes of a CSI driver than its CSINode allocatable.count.
import type { CSINode, Pod } from '../../../api/types.ts';
import { Status, type ClusterEventWithHint, type CycleState, type EnqueueExtensions, type FilterPlugin, type PreFilterPlugin } from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import { notFoundMessage, type ClusterObjects } from '../../cluster-objects.ts';
import * as names from '../names.ts';

export const ErrReasonMaxVolumeCountExceeded = 'node(s) exceed max volume count';

class LookupError extends Error {
  override name = 'LookupError';
  readonly notFound: boolean;
  constructor(message: string, notFound: boolean) {
    super(message);
    this.notFound = notFound;
  }
}

/** The pod's own attachable volumes, computed once per cycle: "driver/handle" -> driver, or the lookup's failure. */
interface PreFilterState {
  newVolumes: Map<string, string>;
  /** Per driver, how many of newVolumes it has. */
  newCounts: Map<string, number>;
  failure?: Status;
}

const preFilterStateKey = 'PreFilter' + names.NodeVolumeLimits;

export class NodeVolumeLimitsPlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = names.NodeVolumeLimits;
  private readonly objects: ClusterObjects;
  /** Per CSINode object: its per-driver limits (informer objects are replaced, never mutated). */
  private readonly limitsByCSINode = new WeakMap<CSINode, Map<string, number>>();

  constructor(objects: ClusterObjects) {
    this.objects = objects;
  }

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    const hasClaims = (pod.spec.volumes ?? []).some((v) => v.persistentVolumeClaim || v.ephemeral);
    if (!hasClaims) return new Status('Skip');
    state.write(preFilterStateKey, this.podVolumes(pod));
    return undefined;
  }

  private podVolumes(pod: Pod): PreFilterState {
    const newVolumes = new Map<string, string>();
    const newCounts = new Map<string, number>();
    try {
      this.filterAttachableVolumes(pod, true, newVolumes);
    } catch (err) {
      const e = err as LookupError;
      return { newVolumes, newCounts, failure: new Status(e.notFound ? 'UnschedulableAndUnresolvable' : 'Error', e.message) };
    }
    for (const driver of newVolumes.values()) newCounts.set(driver, (newCounts.get(driver) ?? 0) + 1);
    return { newVolumes, newCounts };
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    if ((pod.spec.volumes ?? []).length === 0) return undefined;
    const { newVolumes, newCounts, failure } = state.read<PreFilterState>(preFilterStateKey) ?? this.podVolumes(pod);
    // A fresh status per node: the framework names its plugin on it.
    if (failure) return new Status(failure.code, ...failure.reasons);
    if (newVolumes.size === 0) return undefined;
    const limits = this.volumeLimits(nodeInfo.name);
    if (limits.size === 0) return undefined;
    // Every claim of the node's pods is at most one attached volume: when even that many leave room, nothing to count.
    if (!this.mayExceed(newCounts, limits, nodeInfo.pvcRefCounts.size)) return undefined;
    const pending = new Map(newVolumes);
    const attached = new Map<string, string>();
    for (const existing of nodeInfo.pods) this.filterAttachableVolumes(existing.pod, false, attached);
    const attachedCount = new Map<string, number>();
    for (const [volume, driver] of attached) {
      // A volume shared with a pod already on the node is not attached twice.
      pending.delete(volume);
      attachedCount.set(driver, (attachedCount.get(driver) ?? 0) + 1);
    }
    const newCount = new Map<string, number>();
    for (const driver of pending.values()) newCount.set(driver, (newCount.get(driver) ?? 0) + 1);
    for (const [driver, count] of newCount) {
      const limit = limits.get(driver);
      if (limit !== undefined && (attachedCount.get(driver) ?? 0) + count > limit) {
        return new Status('Unschedulable', ErrReasonMaxVolumeCountExceeded);
      }
    }
    return undefined;
  }

  private mayExceed(newCounts: Map<string, number>, limits: Map<string, number>, attachedAtMost: number): boolean {
    for (const driver of newCounts.keys()) {
      const limit = limits.get(driver);
      if (limit !== undefined && attachedAtMost + newCounts.get(driver)! > limit) return true;
    }
    return false;
  }

  /** Per-driver attach limits from the node's CSINode allocatable.count. */
  private volumeLimits(nodeName: string): Map<string, number> {
    const csiNode = this.objects.getCSINode(nodeName);
    if (!csiNode) return noLimits;
    let limits = this.limitsByCSINode.get(csiNode);
    if (!limits) {
      limits = new Map();
      for (const d of csiNode.spec.drivers ?? []) {
        if (d.allocatable?.count !== undefined && d.allocatable.count !== null) limits.set(d.name, d.allocatable.count);
      }
      this.limitsByCSINode.set(csiNode, limits);
    }
    return limits;
  }

  /** Adds "driver/handle" -> driver for each CSI volume of the pod; unbound claims count by their class's provisioner. */
  private filterAttachableVolumes(pod: Pod, newPod: boolean, result: Map<string, string>): void {
    const namespace = pod.metadata.namespace ?? '';
    for (const v of pod.spec.volumes ?? []) {
      const claimName = v.persistentVolumeClaim?.claimName ?? (v.ephemeral ? `${pod.metadata.name}-${v.name}` : undefined);
      if (claimName === undefined) continue;
      const pvc = this.objects.getPVC(namespace, claimName);
      if (!pvc) {
        if (newPod) throw new LookupError(`looking up PVC ${namespace}/${claimName}: ${notFoundMessage('persistentvolumeclaim', claimName)}`, true);
        continue;
      }
      const pv = pvc.spec.volumeName ? this.objects.getPV(pvc.spec.volumeName) : undefined;
      if (pv?.spec.csi) {
        result.set(`${pv.spec.csi.driver}/${pv.spec.csi.volumeHandle}`, pv.spec.csi.driver);
        continue;
      }
      if (pv) continue; // not a CSI volume
      const className = pvc.spec.storageClassName ?? '';
      const driver = className ? this.objects.getStorageClass(className)?.provisioner : undefined;
      // The claim is not provisioned yet: its future volume counts under a placeholder handle.
      if (driver) result.set(`${driver}/${namespace}/${claimName}`, driver);
    }
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { resource: 'CSINode', actions: ['Add', 'Update'] },
      { resource: 'AssignedPod', actions: ['Delete'] },
      { resource: 'PersistentVolumeClaim', actions: ['Add'] },
      { resource: 'Node', actions: ['Add'] },
    ];
  }
}

const noLimits = new Map<string, number>();
