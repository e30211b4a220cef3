// The scheduler's view of the cluster objects it reads, fed by informer events. PVs and PVCs live in assume caches;
// the other plugins read the informer's version of them (the listers of upstream's plugins).
import type {
  CSIDriver,
  CSINode,
  CSIStorageCapacity,
  KubeObject,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  StorageClass,
} from '../api/types.ts';
import { pvStorageClassName } from '../api/volume-matching.ts';
import { AssumeCache, objectKey } from './assume-cache.ts';

export type ObjectKind =
  | 'Pod' | 'Node' | 'PersistentVolume' | 'PersistentVolumeClaim' | 'StorageClass' | 'CSINode' | 'CSIDriver'
  | 'CSIStorageCapacity';

export class ClusterObjects {
  readonly pvCache = new AssumeCache<PersistentVolume>('v1.PersistentVolume', pvStorageClassName);
  readonly pvcCache = new AssumeCache<PersistentVolumeClaim>('v1.PersistentVolumeClaim');
  private readonly maps = {
    Pod: new Map<string, Pod>(),
    Node: new Map<string, Node>(),
    StorageClass: new Map<string, StorageClass>(),
    CSINode: new Map<string, CSINode>(),
    CSIDriver: new Map<string, CSIDriver>(),
    CSIStorageCapacity: new Map<string, CSIStorageCapacity>(),
  };

  /** Applies an informer add/update (obj is the new object) or delete. */
  apply(kind: ObjectKind, type: 'Add' | 'Update' | 'Delete', obj: KubeObject): void {
    if (kind === 'PersistentVolume' || kind === 'PersistentVolumeClaim') {
      const cache = (kind === 'PersistentVolume' ? this.pvCache : this.pvcCache) as unknown as AssumeCache<KubeObject>;
      if (type === 'Delete') cache.delete(obj);
      else cache.add(obj);
      return;
    }
    const map = this.maps[kind] as Map<string, KubeObject>;
    if (type === 'Delete') map.delete(objectKey(obj));
    else map.set(objectKey(obj), obj);
  }

  getPod(namespace: string, name: string): Pod | undefined {
    return this.maps.Pod.get(`${namespace}/${name}`);
  }
  getNode(name: string): Node | undefined {
    return this.maps.Node.get(name);
  }
  listNodes(): Node[] {
    return [...this.maps.Node.values()];
  }
  /** The informer's PVC (PVC lister). */
  getPVC(namespace: string, name: string): PersistentVolumeClaim | undefined {
    return this.pvcCache.getAPIObj(`${namespace}/${name}`);
  }
  /** The informer's PV (PV lister). */
  getPV(name: string): PersistentVolume | undefined {
    return this.pvCache.getAPIObj(name);
  }
  getStorageClass(name: string): StorageClass | undefined {
    return this.maps.StorageClass.get(name);
  }
  getCSINode(name: string): CSINode | undefined {
    return this.maps.CSINode.get(name);
  }
  getCSIDriver(name: string): CSIDriver | undefined {
    return this.maps.CSIDriver.get(name);
  }
  listCSIStorageCapacities(): CSIStorageCapacity[] {
    return [...this.maps.CSIStorageCapacity.values()];
  }
}

/** The lister NotFound message: `persistentvolumeclaim "x" not found`. */
export const notFoundMessage = (resource: string, name: string): string => `${resource} ${JSON.stringify(name)} not found`;
