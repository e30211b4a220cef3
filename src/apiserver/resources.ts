// The one declarative table of every resource the embedded API server serves. Routing, discovery, OpenAPI,
// storage keys, strategies and printing all derive from it, so adding a kind is one entry here.

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';

export interface ResourceDef {
  group: string; // '' for core
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs: Verb[];
  /** Subresources beyond the object itself. 'status' splits writes; 'binding' is pods/binding; 'log' proxies to the node. */
  subresources: Array<'status' | 'binding' | 'log'>;
  /** Custom resources (the snapshot CRDs) answer 415 to strategic merge patch, as upstream. */
  custom?: boolean;
}

const ALL_VERBS: Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function def(d: Omit<ResourceDef, 'listKind' | 'singular' | 'verbs' | 'subresources'> & Partial<ResourceDef>): ResourceDef {
  return {
    listKind: `${d.kind}List`,
    singular: d.kind.toLowerCase(),
    verbs: ALL_VERBS,
    subresources: [],
    ...d,
  };
}

export const RESOURCES: readonly ResourceDef[] = [
  def({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, shortNames: ['ns'], subresources: ['status'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }),
  def({ group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false, shortNames: ['no'], subresources: ['status'] }),
  def({ group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, shortNames: ['po'], categories: ['all'], subresources: ['status', 'binding', 'log'] }),
  def({ group: '', version: 'v1', kind: 'PersistentVolume', plural: 'persistentvolumes', namespaced: false, shortNames: ['pv'], subresources: ['status'] }),
  def({ group: '', version: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespaced: true, shortNames: ['pvc'], subresources: ['status'] }),
  def({ group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true, shortNames: ['ev'] }),
  def({ group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true }),
  def({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, shortNames: ['cm'] }),
  def({ group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true, shortNames: ['sa'] }),
  def({ group: 'storage.k8s.io', version: 'v1', kind: 'StorageClass', plural: 'storageclasses', namespaced: false, shortNames: ['sc'] }),
  def({ group: 'storage.k8s.io', version: 'v1', kind: 'CSINode', plural: 'csinodes', namespaced: false }),
  def({ group: 'storage.k8s.io', version: 'v1', kind: 'CSIDriver', plural: 'csidrivers', namespaced: false }),
  def({ group: 'storage.k8s.io', version: 'v1', kind: 'CSIStorageCapacity', plural: 'csistoragecapacities', namespaced: true }),
  def({ group: 'storage.k8s.io', version: 'v1', kind: 'VolumeAttachment', plural: 'volumeattachments', namespaced: false, subresources: ['status'] }),
  def({ group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true }),
  def({ group: 'snapshot.storage.k8s.io', version: 'v1', kind: 'VolumeSnapshot', plural: 'volumesnapshots', namespaced: true, shortNames: ['vs'], subresources: ['status'], custom: true }),
  def({ group: 'snapshot.storage.k8s.io', version: 'v1', kind: 'VolumeSnapshotContent', plural: 'volumesnapshotcontents', namespaced: false, shortNames: ['vsc', 'vscs'], subresources: ['status'], custom: true }),
  def({ group: 'snapshot.storage.k8s.io', version: 'v1', kind: 'VolumeSnapshotClass', plural: 'volumesnapshotclasses', namespaced: false, shortNames: ['vsclass', 'vsclasses'], custom: true }),
];

export function apiVersionOf(r: ResourceDef): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** `${apiVersion}/${kind}` — the key validation, patching and printing use. */
export function gvkOf(r: ResourceDef): string {
  return `${apiVersionOf(r)}/${r.kind}`;
}

/** Upstream's qualified kind for messages: "PersistentVolumeClaim", "StorageClass.storage.k8s.io". */
export function qualifiedKind(r: ResourceDef): string {
  return r.group ? `${r.kind}.${r.group}` : r.kind;
}

/** Upstream's qualified resource for messages: `persistentvolumeclaims`, `storageclasses.storage.k8s.io`. */
export function qualifiedResource(r: ResourceDef): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

const byPath = new Map<string, ResourceDef>();
const byKind = new Map<string, ResourceDef>();
for (const r of RESOURCES) {
  byPath.set(`${r.group}/${r.version}/${r.plural}`, r);
  byKind.set(gvkOf(r), r);
}

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return byPath.get(`${group}/${version}/${plural}`);
}

export function findResourceByKind(apiVersion: string, kind: string): ResourceDef | undefined {
  return byKind.get(`${apiVersion}/${kind}`);
}

export interface GroupVersion {
  group: string;
  version: string;
  resources: ResourceDef[];
}

export function groupVersions(): GroupVersion[] {
  const out = new Map<string, GroupVersion>();
  for (const r of RESOURCES) {
    const k = `${r.group}/${r.version}`;
    let gv = out.get(k);
    if (!gv) out.set(k, (gv = { group: r.group, version: r.version, resources: [] }));
    gv.resources.push(r);
  }
  return [...out.values()];
}

/** Storage key prefix of a resource (`/registry/core/pods/`), and of one namespace within it. */
export function keyPrefix(r: ResourceDef, namespace?: string): string {
  const base = `/registry/${r.group || 'core'}/${r.plural}/`;
  return r.namespaced && namespace ? `${base}${namespace}/` : base;
}

export function objectKey(r: ResourceDef, namespace: string | undefined, name: string): string {
  return r.namespaced ? `${keyPrefix(r)}${namespace}/${name}` : `${keyPrefix(r)}${name}`;
}
