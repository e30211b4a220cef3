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
import { labelSelectorFromObject, type LabelSelectorMatcher } from '../api/labels.ts';
import { claimStorageClassName, pvStorageClassName } from '../api/volume-matching.ts';
import { LabelHostname } from '../api/well-known.ts';
import { AssumeCache, objectKey } from './assume-cache.ts';

export type ObjectKind =
  | 'Pod' | 'Node' | 'PersistentVolume' | 'PersistentVolumeClaim' | 'StorageClass' | 'CSINode' | 'CSIDriver'
  | 'CSIStorageCapacity';

/**
 * The hostname label values a PV's required node affinity confines it to (every term requires one of them), or
 * undefined when it may fit nodes of any hostname. Local PVs are confined this way: indexing them by hostname spares
 * VolumeBinding from checking every PV of the class against every node.
 */
export function volumeHostnames(pv: PersistentVolume): string[] | undefined {
  const terms = pv.spec.nodeAffinity?.required?.nodeSelectorTerms;
  if (!terms) return undefined;
  const hostnames: string[] = [];
  for (const term of terms) {
    const expr = term.matchExpressions?.find((e) => e.key === LabelHostname && e.operator === 'In');
    if (!expr) return undefined;
    hostnames.push(...(expr.values ?? []));
  }
  return hostnames;
}

// Index values of the PV cache's "node" index: class/hostname for confined PVs, the class alone for the others
// (a class name never contains "/").
const confinedKey = (className: string, hostname: string): string => `${className}/${hostname}`;
const nodeIndexValues = (pv: PersistentVolume): string[] => {
  const className = pvStorageClassName(pv);
  return volumeHostnames(pv)?.map((h) => confinedKey(className, h)) ?? [className];
};

// Parsed nodeTopology selectors by their JSON: every capacity update is a new object with the same topology, and
// working out which capacities a node reaches parses each one once per node.
const topologySelectors = new Map<string, LabelSelectorMatcher | undefined>();
const maxTopologySelectors = 4096;

// And by the selector object itself, which one capacity object keeps for as long as it lives: working out which
// capacities each of 500 nodes reaches would otherwise encode every capacity's topology once per node.
const selectorOfObject = new WeakMap<object, LabelSelectorMatcher | undefined>();

function topologySelector(nodeTopology: NonNullable<CSIStorageCapacity['nodeTopology']>): LabelSelectorMatcher | undefined {
  if (selectorOfObject.has(nodeTopology)) return selectorOfObject.get(nodeTopology);
  const selector = parsedTopologySelector(nodeTopology);
  selectorOfObject.set(nodeTopology, selector);
  return selector;
}

function parsedTopologySelector(nodeTopology: NonNullable<CSIStorageCapacity['nodeTopology']>): LabelSelectorMatcher | undefined {
  const key = JSON.stringify(nodeTopology);
  if (topologySelectors.has(key)) return topologySelectors.get(key);
  let selector: LabelSelectorMatcher | undefined;
  try {
    selector = labelSelectorFromObject(nodeTopology);
  } catch {
    // An invalid selector selects no node.
  }
  if (topologySelectors.size >= maxTopologySelectors) topologySelectors.clear();
  topologySelectors.set(key, selector);
  return selector;
}

/** nodeHasAccess: the capacity's nodeTopology selects the node; no topology means unavailable. */
export function nodeHasAccess(node: Node, capacity: CSIStorageCapacity): boolean {
  if (!capacity.nodeTopology) return false;
  return topologySelector(capacity.nodeTopology)?.matches(node.metadata.labels) ?? false;
}

export class ClusterObjects {
  readonly pvCache = new AssumeCache<PersistentVolume>('v1.PersistentVolume', {
    class: (pv) => [pvStorageClassName(pv)],
    // Only PVs without a claimRef: a PV reserved for a claim can match no other, and with dynamic provisioning
    // nearly every PV is bound, so VolumeBinding must not go through them for every node.
    node: (pv) => (pv.spec.claimRef ? [] : nodeIndexValues(pv)),
    claimRef: (pv) => (pv.spec.claimRef ? [`${pv.spec.claimRef.namespace ?? ''}/${pv.spec.claimRef.name ?? ''}`] : []),
  });
  readonly pvcCache = new AssumeCache<PersistentVolumeClaim>('v1.PersistentVolumeClaim');
  private readonly maps = {
    Pod: new Map<string, Pod>(),
    Node: new Map<string, Node>(),
    StorageClass: new Map<string, StorageClass>(),
    CSINode: new Map<string, CSINode>(),
    CSIDriver: new Map<string, CSIDriver>(),
    CSIStorageCapacity: new Map<string, CSIStorageCapacity>(),
  };

  /**
   * Class -> node -> the keys of the class's CSIStorageCapacities whose nodeTopology selects the node. Built lazily,
   * dropped when capacities come, go or change class or topology, or when nodes come, go or change labels; the
   * provisioner updates capacities after every volume, so VolumeBinding must not match every one against every node.
   */
  private readonly capacityAccess = new Map<string, Map<string, string[]>>();

  private invalidatesCapacityAccess(kind: ObjectKind, type: 'Add' | 'Update' | 'Delete', obj: KubeObject): boolean {
    if (kind !== 'CSIStorageCapacity' && kind !== 'Node') return false;
    if (type !== 'Update') return true;
    const previous = this.maps[kind].get(objectKey(obj));
    if (!previous) return true;
    if (kind === 'Node') return JSON.stringify(previous.metadata.labels) !== JSON.stringify(obj.metadata.labels);
    const [a, b] = [previous as CSIStorageCapacity, obj as CSIStorageCapacity];
    return a.storageClassName !== b.storageClassName || JSON.stringify(a.nodeTopology) !== JSON.stringify(b.nodeTopology);
  }

  /** Applies an informer add/update (obj is the new object) or delete. */
  apply(kind: ObjectKind, type: 'Add' | 'Update' | 'Delete', obj: KubeObject): void {
    if (this.invalidatesCapacityAccess(kind, type, obj)) this.capacityAccess.clear();
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
  /** The PVs (latest, possibly assumed) of a class. */
  listPVs(className: string): PersistentVolume[] {
    return this.pvCache.byIndex('class', className);
  }
  /**
   * The PVs (latest, possibly assumed) of the claim's class that may be bound to it on the node: those confined to
   * the node's hostname, then those not confined by hostname; of each, first the PVs whose claimRef names the claim,
   * then the PVs without a claimRef (the only others FindMatchingVolume could pick, and it stops at the first
   * pre-bound one it meets).
   */
  candidatePVs(claim: PersistentVolumeClaim, node: Node): PersistentVolume[] {
    const className = claimStorageClassName(claim);
    const hostname = node.metadata.labels?.[LabelHostname];
    const preBound = this.pvCache.byIndex('claimRef', `${claim.metadata.namespace ?? ''}/${claim.metadata.name ?? ''}`);
    const candidates: PersistentVolume[] = [];
    const add = (key: string): void => {
      for (const pv of preBound) if (nodeIndexValues(pv).includes(key)) candidates.push(pv);
      for (const pv of this.pvCache.byIndex('node', key)) candidates.push(pv);
    };
    if (hostname !== undefined) add(confinedKey(className, hostname));
    add(className);
    return candidates;
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
  /** The class's CSIStorageCapacities (latest versions) whose nodeTopology selects the node. */
  accessibleCapacities(className: string, node: Node): CSIStorageCapacity[] {
    let byNode = this.capacityAccess.get(className);
    if (!byNode) this.capacityAccess.set(className, (byNode = new Map()));
    const nodeName = node.metadata.name ?? '';
    let keys = byNode.get(nodeName);
    if (!keys) {
      keys = [];
      for (const [key, c] of this.maps.CSIStorageCapacity) if (c.storageClassName === className && nodeHasAccess(node, c)) keys.push(key);
      byNode.set(nodeName, keys);
    }
    return keys.map((key) => this.maps.CSIStorageCapacity.get(key)!);
  }
}

/** The lister NotFound message: `persistentvolumeclaim "x" not found`. */
export const notFoundMessage = (resource: string, name: string): string => `${resource} ${JSON.stringify(name)} not found`;
