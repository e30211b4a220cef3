// Admission, as kube-apiserver's default plugins that matter for storage and scheduling:
// NamespaceLifecycle, DefaultStorageClass, StorageObjectInUseProtection, DefaultTolerationSeconds.
import type { KubeObject, PersistentVolumeClaim, StorageClass } from '../api/types.ts';
import { defaultTolerationSeconds } from '../api/validation/index.ts';
import { ApiError } from './errors.ts';
import type { ResourceDef } from './resources.ts';
import { findResource, objectKey } from './resources.ts';
import type { WatchCache } from './watch-cache.ts';

export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';
export const IS_DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class';
const BETA_IS_DEFAULT_CLASS = 'storageclass.beta.kubernetes.io/is-default-class';
const BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';

/** Namespaces that always exist and may not be deleted. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

const namespaces = findResource('', 'v1', 'namespaces')!;
const storageClasses = findResource('storage.k8s.io', 'v1', 'storageclasses')!;

export class Admission {
  private readonly cache: WatchCache;
  constructor(cache: WatchCache) {
    this.cache = cache;
  }

  /** NamespaceLifecycle: creation needs a namespace that exists and is not terminating. */
  checkNamespace(r: ResourceDef, namespace: string | undefined, name: string, verb: 'create' | 'update'): void {
    if (!r.namespaced || !namespace) return;
    const ns = this.cache.get(namespaces, objectKey(namespaces, undefined, namespace));
    if (!ns) {
      throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    }
    if (verb === 'create' && ns.obj.metadata.deletionTimestamp) {
      throw new ApiError(403, 'Forbidden', `${r.plural} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
        kind: r.plural,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  checkDelete(r: ResourceDef, name: string): void {
    if (r.kind === 'Namespace' && SYSTEM_NAMESPACES.includes(name)) {
      throw new ApiError(403, 'Forbidden', `namespaces "${name}" is forbidden: this namespace may not be deleted`, { name, kind: 'namespaces' });
    }
  }

  /** Mutating admission on create. */
  mutateCreate(r: ResourceDef, obj: KubeObject): void {
    switch (r.kind) {
      case 'PersistentVolumeClaim':
        this.defaultStorageClass(obj as PersistentVolumeClaim);
        addFinalizer(obj, PVC_PROTECTION_FINALIZER);
        break;
      case 'PersistentVolume':
        addFinalizer(obj, PV_PROTECTION_FINALIZER);
        break;
      case 'Pod':
        defaultTolerationSeconds(obj);
        break;
    }
  }

  /** The default StorageClass: annotated is-default-class "true"; with several, the newest (then by name) wins. */
  defaultClass(): StorageClass | undefined {
    let best: StorageClass | undefined;
    for (const c of this.cache.list(storageClasses)) {
      const sc = c.obj as StorageClass;
      const a = sc.metadata.annotations ?? {};
      if (a[IS_DEFAULT_CLASS] !== 'true' && a[BETA_IS_DEFAULT_CLASS] !== 'true') continue;
      if (!best) { best = sc; continue; }
      const t = sc.metadata.creationTimestamp ?? '';
      const bt = best.metadata.creationTimestamp ?? '';
      if (t > bt || (t === bt && (sc.metadata.name ?? '') < (best.metadata.name ?? ''))) best = sc;
    }
    return best;
  }

  private defaultStorageClass(pvc: PersistentVolumeClaim): void {
    if (pvc.spec?.storageClassName !== undefined && pvc.spec.storageClassName !== null) return;
    if (pvc.metadata.annotations?.[BETA_STORAGE_CLASS] !== undefined) return;
    const def = this.defaultClass();
    if (def?.metadata.name) {
      pvc.spec ??= {};
      pvc.spec.storageClassName = def.metadata.name;
    }
  }
}

function addFinalizer(obj: KubeObject, f: string): void {
  const list = (obj.metadata.finalizers ??= []);
  if (!list.includes(f)) list.push(f);
}
