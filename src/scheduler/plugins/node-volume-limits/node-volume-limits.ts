// NodeVolumeLimits (CSI): a node takes no more volumes of a CSI driver than its CSINode allocatable.count.
import type { CSINode, Pod } from '../../../api/types.ts';
import { Status, type ClusterEventWithHint, type EnqueueExtensions, type FilterPlugin, type PreFilterPlugin } from '../../framework/interfaces.ts';
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

export class NodeVolumeLimitsPlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = names.NodeVolumeLimits;
  private readonly objects: ClusterObjects;

  constructor(objects: ClusterObjects) {
    this.objects = objects;
  }

  preFilter(_state: unknown, pod: Pod): Status | undefined {
    const hasClaims = (pod.spec.volumes ?? []).some((v) => v.persistentVolumeClaim || v.ephemeral);
    return hasClaims ? undefined : new Status('Skip');
  }

  filter(_state: unknown, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    if ((pod.spec.volumes ?? []).length === 0) return undefined;
    const csiNode = this.objects.getCSINode(nodeInfo.name);
    const newVolumes = new Map<string, string>();
    try {
      this.filterAttachableVolumes(pod, true, newVolumes);
    } catch (err) {
      const e = err as LookupError;
      return new Status(e.notFound ? 'UnschedulableAndUnresolvable' : 'Error', e.message);
    }
    if (newVolumes.size === 0) return undefined;
    const limits = volumeLimits(csiNode);
    if (limits.size === 0) return undefined;
    const attached = new Map<string, string>();
    for (const existing of nodeInfo.pods) this.filterAttachableVolumes(existing.pod, false, attached);
    const attachedCount = new Map<string, number>();
    for (const [volume, driver] of attached) {
      // A volume shared with a pod already on the node is not attached twice.
      newVolumes.delete(volume);
      attachedCount.set(driver, (attachedCount.get(driver) ?? 0) + 1);
    }
    const newCount = new Map<string, number>();
    for (const driver of newVolumes.values()) newCount.set(driver, (newCount.get(driver) ?? 0) + 1);
    for (const [driver, count] of newCount) {
      const limit = limits.get(driver);
      if (limit !== undefined && (attachedCount.get(driver) ?? 0) + count > limit) {
        return new Status('Unschedulable', ErrReasonMaxVolumeCountExceeded);
      }
    }
    return undefined;
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

/** Per-driver attach limits from the CSINode's allocatable.count. */
function volumeLimits(csiNode: CSINode | undefined): Map<string, number> {
  const limits = new Map<string, number>();
  for (const d of csiNode?.spec.drivers ?? []) {
    if (d.allocatable?.count !== undefined && d.allocatable.count !== null) limits.set(d.name, d.allocatable.count);
  }
  return limits;
}
