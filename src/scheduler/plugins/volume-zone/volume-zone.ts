// VolumeZone: a bound PV labelled with zones or regions fits only nodes in one of them (values split by "__").
import type { PersistentVolume, Pod } from '../../../api/types.ts';
import {
  LabelFailureDomainBetaRegion,
  LabelFailureDomainBetaZone,
  LabelTopologyRegion,
  LabelTopologyZone,
} from '../../../api/well-known.ts';
import { claimStorageClassName } from '../../../api/volume-matching.ts';
import {
  CycleState,
  Status,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type PreFilterPlugin,
} from '../../framework/interfaces.ts';
import type { NodeInfo } from '../../framework/node-info.ts';
import { notFoundMessage, type ClusterObjects } from '../../cluster-objects.ts';
import * as names from '../names.ts';

export const ErrReasonConflict = 'node(s) had no available volume zone';
const preFilterStateKey = 'PreFilter' + names.VolumeZone;
const topologyLabels = [LabelFailureDomainBetaZone, LabelFailureDomainBetaRegion, LabelTopologyZone, LabelTopologyRegion];
const toGALabel: Record<string, string> = {
  [LabelFailureDomainBetaZone]: LabelTopologyZone,
  [LabelFailureDomainBetaRegion]: LabelTopologyRegion,
};

interface PVTopology {
  pvName: string;
  key: string;
  values: Set<string>;
}

/** LabelZonesToSet: "a__b" -> {a, b}; an empty part makes the label unusable. */
function labelZonesToSet(value: string): Set<string> | undefined {
  const parts = value.split('__');
  return parts.some((p) => p === '') ? undefined : new Set(parts);
}

function pvTopologies(pv: PersistentVolume): PVTopology[] {
  const result: PVTopology[] = [];
  for (const key of topologyLabels) {
    const value = pv.metadata.labels?.[key];
    if (value === undefined) continue;
    const values = labelZonesToSet(value);
    if (values) result.push({ pvName: pv.metadata.name ?? '', key, values });
  }
  return result;
}

export class VolumeZonePlugin implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = names.VolumeZone;
  private readonly objects: ClusterObjects;

  constructor(objects: ClusterObjects) {
    this.objects = objects;
  }

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    const topologies: PVTopology[] = [];
    const namespace = pod.metadata.namespace ?? '';
    for (const v of pod.spec.volumes ?? []) {
      if (!v.persistentVolumeClaim) continue;
      const claimName = v.persistentVolumeClaim.claimName;
      if (claimName === '') return new Status('UnschedulableAndUnresolvable', 'PersistentVolumeClaim had no name');
      const pvc = this.objects.getPVC(namespace, claimName);
      if (!pvc) return new Status('UnschedulableAndUnresolvable', notFoundMessage('persistentvolumeclaim', claimName));
      const pvName = pvc.spec.volumeName ?? '';
      if (pvName === '') {
        const className = claimStorageClassName(pvc);
        if (className === '') return new Status('UnschedulableAndUnresolvable', 'PersistentVolumeClaim had no pv name and storageClass name');
        const sc = this.objects.getStorageClass(className);
        if (!sc) return new Status('UnschedulableAndUnresolvable', notFoundMessage('storageclass', className));
        // Unbound WaitForFirstConsumer claims are VolumeBinding's business.
        if ((sc.volumeBindingMode ?? 'Immediate') === 'WaitForFirstConsumer') continue;
        return new Status('UnschedulableAndUnresolvable', 'PersistentVolume had no name');
      }
      const pv = this.objects.getPV(pvName);
      if (!pv) return new Status('UnschedulableAndUnresolvable', notFoundMessage('persistentvolume', pvName));
      topologies.push(...pvTopologies(pv));
    }
    if (topologies.length === 0) return new Status('Skip');
    state.write(preFilterStateKey, topologies);
    return undefined;
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | undefined {
    if ((pod.spec.volumes ?? []).length === 0) return undefined;
    const topologies = state.read<PVTopology[]>(preFilterStateKey) ?? [];
    const labels = nodeInfo.node.metadata.labels ?? {};
    // A node without any topology label (a single-zone cluster) takes any volume.
    if (!topologyLabels.some((key) => Object.hasOwn(labels, key))) return undefined;
    for (const t of topologies) {
      // A PV's beta label also matches the node's GA label.
      const value = Object.hasOwn(labels, t.key) ? labels[t.key] : labels[toGALabel[t.key] ?? ''];
      if (value === undefined || !t.values.has(value)) return new Status('UnschedulableAndUnresolvable', ErrReasonConflict);
    }
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { resource: 'StorageClass', actions: ['Add'] },
      { resource: 'PersistentVolumeClaim', actions: ['Add', 'Update'] },
      { resource: 'PersistentVolume', actions: ['Add', 'Update'] },
      { resource: 'Node', actions: ['Add', 'UpdateNodeLabel'] },
    ];
  }
}
