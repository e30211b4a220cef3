// The kinds Strata's components read and write, as REST collections: `client.resource(Resources.pvc)`.
import type {
  CSIDriver, CSINode, CSIStorageCapacity, CoreEvent, KubeObject, Node, PersistentVolume, PersistentVolumeClaim, Pod,
  StorageClass, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent,
} from '../api/types.ts';
import type { ResourceType } from './rest.ts';

export interface Namespace extends KubeObject {
  spec?: { finalizers?: string[] };
  status?: { phase?: 'Active' | 'Terminating' };
}

/** coordination.k8s.io/v1 Lease; times are MicroTime (RFC 3339 with microseconds). */
export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number | null;
  };
}

export interface VolumeAttachment extends KubeObject {
  spec: {
    attacher: string;
    nodeName: string;
    source: { persistentVolumeName?: string; inlineVolumeSpec?: unknown };
  };
  status?: {
    attached: boolean;
    attachmentMetadata?: Record<string, string>;
    attachError?: { time?: string; message?: string };
    detachError?: { time?: string; message?: string };
  };
}

function core<T extends KubeObject>(kind: string, plural: string, namespaced: boolean): ResourceType<T> & { kind: string } {
  return { group: '', version: 'v1', kind, plural, namespaced };
}
function grouped<T extends KubeObject>(group: string, kind: string, plural: string, namespaced: boolean): ResourceType<T> & { kind: string } {
  return { group, version: 'v1', kind, plural, namespaced };
}

export const Resources = {
  pods: core<Pod>('Pod', 'pods', true),
  nodes: core<Node>('Node', 'nodes', false),
  pv: core<PersistentVolume>('PersistentVolume', 'persistentvolumes', false),
  pvc: core<PersistentVolumeClaim>('PersistentVolumeClaim', 'persistentvolumeclaims', true),
  events: core<CoreEvent>('Event', 'events', true),
  namespaces: core<Namespace>('Namespace', 'namespaces', false),
  storageClasses: grouped<StorageClass>('storage.k8s.io', 'StorageClass', 'storageclasses', false),
  csiNodes: grouped<CSINode>('storage.k8s.io', 'CSINode', 'csinodes', false),
  csiDrivers: grouped<CSIDriver>('storage.k8s.io', 'CSIDriver', 'csidrivers', false),
  csiStorageCapacities: grouped<CSIStorageCapacity>('storage.k8s.io', 'CSIStorageCapacity', 'csistoragecapacities', true),
  volumeAttachments: grouped<VolumeAttachment>('storage.k8s.io', 'VolumeAttachment', 'volumeattachments', false),
  leases: grouped<Lease>('coordination.k8s.io', 'Lease', 'leases', true),
  volumeSnapshots: grouped<VolumeSnapshot>('snapshot.storage.k8s.io', 'VolumeSnapshot', 'volumesnapshots', true),
  volumeSnapshotContents: grouped<VolumeSnapshotContent>('snapshot.storage.k8s.io', 'VolumeSnapshotContent', 'volumesnapshotcontents', false),
  volumeSnapshotClasses: grouped<VolumeSnapshotClass>('snapshot.storage.k8s.io', 'VolumeSnapshotClass', 'volumesnapshotclasses', false),
} as const;
