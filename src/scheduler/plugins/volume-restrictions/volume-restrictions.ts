// VolumeRestrictions: a ReadWriteOncePod claim already used by a pod keeps every other pod away.
// (The in-tree disk conflicts of GCE PD, EBS, RBD and iSCSI volumes are not supported by Strata.)
import type { PersistentVolumeClaim, Pod } from '../../../api/types.ts';
import {
  CycleState,
  Status,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type PreFilterPlugin,
} from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import type { ClusterObjects } from '../../cluster-objects.ts';
import { notFoundMessage } from '../../cluster-objects.ts';
import * as names from '../names.ts';

export const ErrReasonReadWriteOncePodConflict = 'node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode';
const preFilterStateKey = 'PreFilter' + names.VolumeRestrictions;

export class VolumeRestrictionsPlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = names.VolumeRestrictions;
  private readonly objects: ClusterObjects;

  constructor(objects: ClusterObjects) {
    this.objects = objects;
  }

  preFilter(state: CycleState, pod: Pod, nodes: NodeInfo[]): Status | undefined {
    const namespace = pod.metadata.namespace ?? '';
    const rwopClaims: PersistentVolumeClaim[] = [];
    for (const v of pod.spec.volumes ?? []) {
      if (!v.persistentVolumeClaim) continue;
      const pvc = this.objects.getPVC(namespace, v.persistentVolumeClaim.claimName);
      if (!pvc) return new Status('UnschedulableAndUnresolvable', notFoundMessage('persistentvolumeclaim', v.persistentVolumeClaim.claimName));
      if (pvc.spec.accessModes?.includes('ReadWriteOncePod')) rwopClaims.push(pvc);
    }
    // Pods using any of the claims, anywhere in the cluster.
    let conflictingPVCRefCount = 0;
    for (const pvc of rwopClaims) {
      const key = `${namespace}/${pvc.metadata.name}`;
      if (nodes.some((n) => n.pvcRefCounts.has(key))) conflictingPVCRefCount++;
    }
    if (conflictingPVCRefCount === 0) return new Status('Skip');
    state.write(preFilterStateKey, conflictingPVCRefCount);
    return undefined;
  }

  filter(state: CycleState): Status | undefined {
    const conflicts = state.read<number>(preFilterStateKey) ?? 0;
    return conflicts > 0 ? new Status('Unschedulable', ErrReasonReadWriteOncePodConflict) : undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { resource: 'AssignedPod', actions: ['Delete'] },
      { resource: 'PersistentVolumeClaim', actions: ['Add', 'Update'] },
      { resource: 'Node', actions: ['Add'] },
    ];
  }
}
