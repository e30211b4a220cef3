// Test framework for the PV binder in the style of upstream's persistentvolume framework_test.go: an in-memory API
// with resource versions, conflict detection, /status semantics and injected errors; object builders named after
// upstream's newVolume/newClaim.
import type { PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../api/types.ts';
import { AnnDynamicallyProvisioned } from '../../api/well-known.ts';
import type { BinderApi, BinderDeps, EventRecorder, EventType } from './binder-logic.ts';
import { claimNamesOfPod } from './protection.ts';

export const testNamespace = 'default';
// Strata volumes are provisioned by external (CSI) provisioners.
export const mockPluginName = 'csi.strata.io';
export const classEmpty = '';
export const classGold = 'gold';
export const classSilver = 'silver';
export const classWait = 'wait';
export const classExternal = 'external';
export const classExternalWait = 'external-wait';

export class ApiError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** An error injected into the next call of the given verb on the given resource, as upstream's ReactorError. */
export interface ReactorError {
  verb: 'get' | 'update' | 'updateStatus' | 'create' | 'delete' | 'list';
  resource: 'persistentvolumes' | 'persistentvolumeclaims' | 'pods';
  error: Error;
}

interface Phased {
  phase?: string;
}

export function newVolume(
  name: string,
  capacity: string,
  boundToClaimUID: string,
  boundToClaimName: string,
  phase: string,
  reclaimPolicy: 'Retain' | 'Delete' | 'Recycle',
  className: string,
  ...annotations: string[]
): PersistentVolume {
  const pv: PersistentVolume = {
    metadata: { name, resourceVersion: '1' },
    spec: {
      capacity: { storage: capacity },
      hostPath: { path: `/tmp/${name}` },
      accessModes: ['ReadWriteOnce', 'ReadOnlyMany'],
      persistentVolumeReclaimPolicy: reclaimPolicy,
      storageClassName: className,
    },
    status: { phase: phase as NonNullable<PersistentVolume['status']>['phase'] },
  };
  if (!phase) delete (pv.status as Phased).phase;
  if (boundToClaimName) {
    pv.spec.claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', uid: boundToClaimUID, namespace: testNamespace, name: boundToClaimName };
  }
  if (annotations.length) {
    pv.metadata.annotations = Object.fromEntries(annotations.map((a) => [a, a === AnnDynamicallyProvisioned ? mockPluginName : 'yes']));
  }
  return pv;
}

export function newClaim(
  name: string,
  claimUID: string,
  capacity: string,
  boundToVolume: string,
  phase: 'Pending' | 'Bound' | 'Lost',
  className: string | undefined,
  ...annotations: string[]
): PersistentVolumeClaim {
  const claim: PersistentVolumeClaim = {
    metadata: { name, namespace: testNamespace, uid: claimUID, resourceVersion: '1' },
    spec: {
      accessModes: ['ReadWriteOnce', 'ReadOnlyMany'],
      resources: { requests: { storage: capacity } },
      volumeName: boundToVolume || undefined,
      storageClassName: className,
    },
    status: { phase },
  };
  if (!boundToVolume) delete claim.spec.volumeName;
  if (className === undefined) delete claim.spec.storageClassName;
  if (annotations.length) claim.metadata.annotations = Object.fromEntries(annotations.map((a) => [a, 'yes']));
  if (phase === 'Bound') claim.status = { phase, capacity: { storage: capacity }, accessModes: claim.spec.accessModes };
  return claim;
}

export function storageClass(name: string, provisioner: string, mode: 'Immediate' | 'WaitForFirstConsumer' = 'Immediate', extra: Partial<StorageClass> = {}): StorageClass {
  return { metadata: { name }, provisioner, volumeBindingMode: mode, reclaimPolicy: 'Delete', ...extra };
}

export function withExpectedCapacity(capacity: string, claims: PersistentVolumeClaim[]): PersistentVolumeClaim[] {
  for (const claim of claims) claim.status = { ...claim.status, capacity: { storage: capacity } };
  return claims;
}

export function withLabels<T extends PersistentVolume>(labels: Record<string, string>, volumes: T[]): T[] {
  for (const pv of volumes) pv.metadata.labels = { ...labels };
  return volumes;
}

export function withLabelSelector(labels: Record<string, string>, claims: PersistentVolumeClaim[]): PersistentVolumeClaim[] {
  for (const claim of claims) claim.spec.selector = { matchLabels: { ...labels } };
  return claims;
}

export function withClaimAnnotation(key: string, value: string, claims: PersistentVolumeClaim[]): PersistentVolumeClaim[] {
  for (const claim of claims) claim.metadata.annotations = { ...claim.metadata.annotations, [key]: value };
  return claims;
}

type Stored<T> = T & { metadata: { resourceVersion?: string } };

/** The fake API server: objects by key, writes bump resourceVersion, stale writes conflict. */
export class FakeCluster implements BinderApi, EventRecorder {
  readonly volumes = new Map<string, PersistentVolume>();
  readonly claims = new Map<string, PersistentVolumeClaim>();
  /** Claims the API server has but the informer cache has not seen yet (upstream annSkipLocalStore). */
  readonly cacheMissingClaims = new Set<string>();
  readonly classes = new Map<string, StorageClass>();
  readonly pods = new Map<string, Pod>();
  readonly events: string[] = [];
  readonly errors: ReactorError[];
  readonly enqueuedClaims: string[] = [];
  writes = 0;
  #version = 1000;

  constructor(init: { volumes?: PersistentVolume[]; claims?: PersistentVolumeClaim[]; classes?: StorageClass[]; pods?: Pod[]; errors?: ReactorError[] } = {}) {
    for (const pv of init.volumes ?? []) this.volumes.set(pv.metadata.name!, structuredClone(pv));
    for (const claim of init.claims ?? []) this.claims.set(`${claim.metadata.namespace}/${claim.metadata.name}`, structuredClone(claim));
    for (const sc of init.classes ?? []) this.classes.set(sc.metadata.name!, structuredClone(sc));
    for (const pod of init.pods ?? []) this.pods.set(`${pod.metadata.namespace}/${pod.metadata.name}`, structuredClone(pod));
    this.errors = [...(init.errors ?? [])];
  }

  #inject(verb: ReactorError['verb'], resource: ReactorError['resource']): void {
    const index = this.errors.findIndex((e) => e.verb === verb && e.resource === resource);
    if (index >= 0) throw this.errors.splice(index, 1)[0].error;
  }

  #write<T extends { metadata: { name?: string; resourceVersion?: string } }>(
    store: Map<string, T>,
    key: string,
    incoming: T,
    verb: 'update' | 'updateStatus',
    resource: ReactorError['resource'],
  ): Stored<T> {
    this.#inject(verb, resource);
    const existing = store.get(key);
    if (!existing) throw new ApiError(404, `${resource} "${incoming.metadata.name}" not found`);
    if (existing.metadata.resourceVersion !== incoming.metadata.resourceVersion) {
      throw new ApiError(409, `Operation cannot be fulfilled on ${resource} "${incoming.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const next = structuredClone(verb === 'update' ? { ...incoming, status: (existing as { status?: unknown }).status } : { ...existing, status: (incoming as { status?: unknown }).status }) as T;
    if ((next as { status?: unknown }).status === undefined) delete (next as { status?: unknown }).status;
    next.metadata.resourceVersion = String(++this.#version);
    store.set(key, next);
    this.writes++;
    return structuredClone(next);
  }

  async getClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined> {
    this.#inject('get', 'persistentvolumeclaims');
    const claim = this.claims.get(`${namespace}/${name}`);
    return claim && structuredClone(claim);
  }
  async updateVolume(pv: PersistentVolume) { return this.#write(this.volumes, pv.metadata.name!, pv, 'update', 'persistentvolumes'); }
  async updateVolumeStatus(pv: PersistentVolume) { return this.#write(this.volumes, pv.metadata.name!, pv, 'updateStatus', 'persistentvolumes'); }
  async updateClaim(claim: PersistentVolumeClaim) {
    return this.#write(this.claims, `${claim.metadata.namespace}/${claim.metadata.name}`, claim, 'update', 'persistentvolumeclaims');
  }
  async updateClaimStatus(claim: PersistentVolumeClaim) {
    return this.#write(this.claims, `${claim.metadata.namespace}/${claim.metadata.name}`, claim, 'updateStatus', 'persistentvolumeclaims');
  }
  async listPods(namespace: string): Promise<Pod[]> {
    this.#inject('list', 'pods');
    return [...this.pods.values()].filter((pod) => pod.metadata.namespace === namespace).map((pod) => structuredClone(pod));
  }

  event(object: PersistentVolume | PersistentVolumeClaim, type: EventType, reason: string, message: string): void {
    void object;
    this.events.push(`${type} ${reason} ${message}`);
  }

  podsForClaim(namespace: string, name: string): Pod[] {
    return [...this.pods.values()].filter((pod) => pod.metadata.namespace === namespace && claimNamesOfPod(pod).includes(name));
  }

  deps(): BinderDeps {
    return {
      listers: {
        getVolume: (name) => structuredClone(this.volumes.get(name)),
        volumesForClaim: () => [...this.volumes.values()].map((pv) => structuredClone(pv)),
        getClaim: (namespace, name) => {
          const key = `${namespace}/${name}`;
          return this.cacheMissingClaims.has(key) ? undefined : structuredClone(this.claims.get(key));
        },
        getClass: (name) => structuredClone(this.classes.get(name)),
        listClasses: () => [...this.classes.values()].map((sc) => structuredClone(sc)),
        podsForClaim: (namespace, name) => this.podsForClaim(namespace, name),
      },
      api: this,
      recorder: this,
      enqueueClaim: (namespace, name) => this.enqueuedClaims.push(`${namespace}/${name}`),
      now: () => new Date('2024-01-02T03:04:05Z'),
    };
  }
}

/** Objects as compared by the tests: resource versions and transition times are the fake's business. */
export function normalize<T extends { metadata: { resourceVersion?: string } }>(objects: Iterable<T>): T[] {
  return [...objects]
    .map((object) => {
      const copy = structuredClone(object) as T & { spec?: { claimRef?: { resourceVersion?: string } }; status?: { lastPhaseTransitionTime?: string } };
      delete copy.metadata.resourceVersion;
      if (copy.spec?.claimRef) delete copy.spec.claimRef.resourceVersion;
      if (copy.status) delete copy.status.lastPhaseTransitionTime;
      return copy;
    })
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}
