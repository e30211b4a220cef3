// Test framework for the snapshot controllers in the style of external-snapshotter's framework_test.go: an in-memory
// API server for the objects the controllers touch (resourceVersions, JSON merge patch, resourceVersion
// preconditions, the /status subresource, finalizer-aware deletion), injected errors in the manner of upstream's
// reactorError, recorded events, and object builders named after upstream's newSnapshot / newContent / newClaim.
import type {
  KubeObject,
  PersistentVolume,
  PersistentVolumeClaim,
  Status,
  VolumeSnapshot,
  VolumeSnapshotClass,
  VolumeSnapshotContent,
} from '../../api/types.ts';
import { ApiError } from '../../client/errors.ts';
import type { EventRecorder, EventType, SnapshotApi, SnapshotListers } from './snapshot-logic.ts';
import { SnapshotAPIGroup, SnapshotAPIVersion, SnapshotKind, snapshotKey } from './utils.ts';

export const testNamespace = 'default';
export const mockDriverName = 'csi-mock-plugin';
export const classGold = 'gold';
export const classSilver = 'silver';
export const classEmpty = '';
export const classNonExisting = 'non-existing';
export const defaultSize = 1000;
/** 2020-01-01T00:00:00Z in nanoseconds since the epoch, as content status carries it. */
export const timeNowStamp = 1577836800 * 1e9;
export const timeNowMeta = '2020-01-01T00:00:00Z';

export type Resource = 'volumesnapshots' | 'volumesnapshotcontents' | 'persistentvolumeclaims' | 'persistentvolumes' | 'secrets';
export type Verb = 'get' | 'create' | 'patch' | 'patchStatus' | 'delete';

/** An error the next matching call fails with (upstream's reactorError). */
export interface ReactorError {
  verb: Verb;
  resource: Resource;
  error: Error;
}

export function apiError(code: number, reason: string, message: string): ApiError {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  return new ApiError(status);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const resourceNames: Record<Resource, string> = {
  volumesnapshots: `volumesnapshots.${SnapshotAPIGroup}`,
  volumesnapshotcontents: `volumesnapshotcontents.${SnapshotAPIGroup}`,
  persistentvolumeclaims: 'persistentvolumeclaims',
  persistentvolumes: 'persistentvolumes',
  secrets: 'secrets',
};

/** The objects of one test, served as an API server and as (always fresh) listers. */
export class FakeCluster {
  readonly store: Record<Resource, Map<string, KubeObject>> = {
    volumesnapshots: new Map(),
    volumesnapshotcontents: new Map(),
    persistentvolumeclaims: new Map(),
    persistentvolumes: new Map(),
    secrets: new Map(),
  };
  classes: VolumeSnapshotClass[] = [];
  readonly events: string[] = [];
  /** Every write, "verb resource name". */
  readonly actions: string[] = [];
  readonly enqueued: string[] = [];
  private errors: ReactorError[];
  private rv = 1000;

  constructor(init: {
    snapshots?: VolumeSnapshot[];
    contents?: VolumeSnapshotContent[];
    claims?: PersistentVolumeClaim[];
    volumes?: PersistentVolume[];
    classes?: VolumeSnapshotClass[];
    secrets?: KubeObject[];
    errors?: ReactorError[];
  }) {
    for (const s of init.snapshots ?? []) this.put('volumesnapshots', s);
    for (const c of init.contents ?? []) this.put('volumesnapshotcontents', c);
    for (const c of init.claims ?? []) this.put('persistentvolumeclaims', c);
    for (const v of init.volumes ?? []) this.put('persistentvolumes', v);
    for (const s of init.secrets ?? []) this.put('secrets', s);
    this.classes = init.classes ?? [];
    this.errors = [...(init.errors ?? [])];
  }

  private put(resource: Resource, obj: KubeObject): void {
    this.store[resource].set(keyOf(obj), clone(obj));
  }

  list<T extends KubeObject>(resource: Resource): T[] {
    return [...this.store[resource].values()].map((o) => clone(o) as T).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }

  get<T extends KubeObject>(resource: Resource, key: string): T | undefined {
    const o = this.store[resource].get(key);
    return o ? (clone(o) as T) : undefined;
  }

  private injected(verb: Verb, resource: Resource): void {
    const i = this.errors.findIndex((e) => e.verb === verb && e.resource === resource);
    if (i >= 0) throw this.errors.splice(i, 1)[0]!.error;
  }

  private notFound(resource: Resource, name: string): ApiError {
    return apiError(404, 'NotFound', `${resourceNames[resource]} ${JSON.stringify(name)} not found`);
  }

  async apiGet<T extends KubeObject>(resource: Resource, key: string): Promise<T> {
    this.injected('get', resource);
    const obj = this.get<T>(resource, key);
    if (!obj) throw this.notFound(resource, key.split('/').pop()!);
    return obj;
  }

  async apiCreate<T extends KubeObject>(resource: Resource, obj: T): Promise<T> {
    this.actions.push(`create ${resource} ${keyOf(obj)}`);
    this.injected('create', resource);
    if (this.store[resource].has(keyOf(obj))) {
      throw apiError(409, 'AlreadyExists', `${resourceNames[resource]} ${JSON.stringify(obj.metadata.name)} already exists`);
    }
    const stored = clone(obj);
    delete (stored as { status?: unknown }).status;
    stored.metadata.resourceVersion = String(++this.rv);
    this.store[resource].set(keyOf(stored), stored);
    return clone(stored);
  }

  /** JSON merge patch of the object (status ignored) or, with status, of its status only. */
  async apiPatch<T extends KubeObject>(resource: Resource, key: string, patch: Record<string, unknown>, status = false): Promise<T> {
    this.actions.push(`${status ? 'patchStatus' : 'patch'} ${resource} ${key}`);
    this.injected(status ? 'patchStatus' : 'patch', resource);
    const current = this.store[resource].get(key);
    if (!current) throw this.notFound(resource, key.split('/').pop()!);
    const wantedRv = (patch.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (wantedRv !== undefined && wantedRv !== current.metadata.resourceVersion) {
      throw apiError(409, 'Conflict', `Operation cannot be fulfilled on ${resourceNames[resource]} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const { status: _ignored, ...spec } = patch;
    const applied = mergePatch(current, status ? { status: patch.status } : spec) as T & { status?: unknown };
    if (!status) {
      const currentStatus = (current as { status?: unknown }).status;
      if (currentStatus === undefined) delete applied.status;
      else applied.status = clone(currentStatus);
    }
    applied.metadata.resourceVersion = String(++this.rv);
    if (applied.metadata.deletionTimestamp && !applied.metadata.finalizers?.length) {
      this.store[resource].delete(key);
    } else {
      this.store[resource].set(key, applied);
    }
    return clone(applied);
  }

  async apiDelete(resource: Resource, key: string): Promise<void> {
    this.actions.push(`delete ${resource} ${key}`);
    this.injected('delete', resource);
    const current = this.store[resource].get(key);
    if (!current) throw this.notFound(resource, key);
    if (current.metadata.finalizers?.length) {
      current.metadata.deletionTimestamp ??= timeNowMeta;
      current.metadata.resourceVersion = String(++this.rv);
    } else {
      this.store[resource].delete(key);
    }
  }

  recorder(): EventRecorder {
    return {
      event: (_obj: KubeObject, type: EventType, reason: string, message: string) => {
        this.events.push(`${type} ${reason} ${message}`);
      },
    };
  }

  snapshotApi(): SnapshotApi {
    return {
      getSnapshot: (ns, name) => this.apiGet('volumesnapshots', `${ns}/${name}`),
      patchSnapshot: (ns, name, p) => this.apiPatch('volumesnapshots', `${ns}/${name}`, p as Record<string, unknown>),
      patchSnapshotStatus: (ns, name, p) => this.apiPatch('volumesnapshots', `${ns}/${name}`, p as Record<string, unknown>, true),
      getContent: (name) => this.apiGet('volumesnapshotcontents', name),
      createContent: (c) => this.apiCreate('volumesnapshotcontents', c),
      patchContent: (name, p) => this.apiPatch('volumesnapshotcontents', name, p as Record<string, unknown>),
      deleteContent: (name) => this.apiDelete('volumesnapshotcontents', name),
      getClaim: (ns, name) => this.apiGet('persistentvolumeclaims', `${ns}/${name}`),
      patchClaim: (ns, name, p) => this.apiPatch('persistentvolumeclaims', `${ns}/${name}`, p as Record<string, unknown>),
      getVolume: (name) => this.apiGet('persistentvolumes', name),
    };
  }

  snapshotListers(): SnapshotListers {
    return {
      getSnapshot: (ns, name) => this.get('volumesnapshots', `${ns}/${name}`),
      snapshotsOfClaim: (ns, claim) =>
        this.list<VolumeSnapshot>('volumesnapshots').filter((s) => s.metadata.namespace === ns && s.spec.source.persistentVolumeClaimName === claim),
      getContent: (name) => this.get('volumesnapshotcontents', name),
      getClass: (name) => clone(this.classes.find((c) => c.metadata.name === name)),
      listClasses: () => clone(this.classes),
      getClaim: (ns, name) => this.get('persistentvolumeclaims', `${ns}/${name}`),
      claimsRestoringFrom: (ns, name) =>
        this.list<PersistentVolumeClaim>('persistentvolumeclaims').filter(
          (c) => c.metadata.namespace === ns && (c.spec.dataSource?.name === name || c.spec.dataSourceRef?.name === name),
        ),
      getVolume: (name) => this.get('persistentvolumes', name),
    };
  }
}

function keyOf(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : (obj.metadata.name ?? '');
}

// ---------------------------------------------------------------- builders

export function newSnapshotClass(name: string, deletionPolicy: 'Delete' | 'Retain', opts: { driver?: string; isDefault?: boolean; parameters?: Record<string, string> } = {}): VolumeSnapshotClass {
  const cls: VolumeSnapshotClass = {
    apiVersion: SnapshotAPIVersion,
    kind: 'VolumeSnapshotClass',
    metadata: { name, resourceVersion: '1' },
    driver: opts.driver ?? mockDriverName,
    deletionPolicy,
  };
  if (opts.parameters) cls.parameters = opts.parameters;
  if (opts.isDefault) cls.metadata.annotations = { 'snapshot.storage.kubernetes.io/is-default-class': 'true' };
  return cls;
}

export interface SnapshotOptions {
  /** Source PVC (dynamic) … */
  claimName?: string;
  /** … or source content (pre-provisioned). */
  contentName?: string;
  className?: string;
  boundContentName?: string;
  readyToUse?: boolean;
  creationTime?: string;
  restoreSize?: string;
  error?: string;
  finalizers?: string[];
  deletionTimestamp?: string;
  withoutStatus?: boolean;
}

/** newSnapshot(name, uid, …): a VolumeSnapshot in the test namespace. */
export function newSnapshot(name: string, uid: string, o: SnapshotOptions = {}): VolumeSnapshot {
  const s: VolumeSnapshot = {
    apiVersion: SnapshotAPIVersion,
    kind: SnapshotKind,
    metadata: { name, namespace: testNamespace, uid, resourceVersion: '1' },
    spec: { source: {} },
  };
  if (o.claimName !== undefined) s.spec.source.persistentVolumeClaimName = o.claimName;
  if (o.contentName !== undefined) s.spec.source.volumeSnapshotContentName = o.contentName;
  if (o.className !== undefined) s.spec.volumeSnapshotClassName = o.className;
  if (o.finalizers) s.metadata.finalizers = [...o.finalizers];
  if (o.deletionTimestamp) s.metadata.deletionTimestamp = o.deletionTimestamp;
  if (!o.withoutStatus) {
    const status: NonNullable<VolumeSnapshot['status']> = {};
    if (o.boundContentName !== undefined) status.boundVolumeSnapshotContentName = o.boundContentName;
    if (o.readyToUse !== undefined) status.readyToUse = o.readyToUse;
    if (o.creationTime !== undefined) status.creationTime = o.creationTime;
    if (o.restoreSize !== undefined) status.restoreSize = o.restoreSize;
    if (o.error !== undefined) status.error = { time: timeNowMeta, message: o.error };
    s.status = status;
  }
  return s;
}

export interface ContentOptions {
  snapshotName?: string;
  snapshotUid?: string;
  /** Dynamic source … */
  volumeHandle?: string;
  /** … or pre-provisioned source. */
  snapshotHandle?: string;
  className?: string;
  deletionPolicy?: 'Delete' | 'Retain';
  driver?: string;
  finalizers?: string[];
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  status?: VolumeSnapshotContent['status'];
  sourceVolumeMode?: 'Filesystem' | 'Block';
}

/** newContent(name, …): a VolumeSnapshotContent bound (by ref) to a snapshot in the test namespace. */
export function newContent(name: string, o: ContentOptions = {}): VolumeSnapshotContent {
  const c: VolumeSnapshotContent = {
    apiVersion: SnapshotAPIVersion,
    kind: 'VolumeSnapshotContent',
    metadata: { name, resourceVersion: '1' },
    spec: {
      volumeSnapshotRef: { kind: SnapshotKind, apiVersion: SnapshotAPIVersion, namespace: testNamespace, name: o.snapshotName ?? '' },
      deletionPolicy: o.deletionPolicy ?? 'Delete',
      driver: o.driver ?? mockDriverName,
      source: {},
    },
  };
  if (o.snapshotUid !== undefined) c.spec.volumeSnapshotRef.uid = o.snapshotUid;
  if (o.volumeHandle !== undefined) c.spec.source.volumeHandle = o.volumeHandle;
  if (o.snapshotHandle !== undefined) c.spec.source.snapshotHandle = o.snapshotHandle;
  if (o.className !== undefined) c.spec.volumeSnapshotClassName = o.className;
  if (o.sourceVolumeMode) c.spec.sourceVolumeMode = o.sourceVolumeMode;
  if (o.finalizers) c.metadata.finalizers = [...o.finalizers];
  if (o.annotations) c.metadata.annotations = { ...o.annotations };
  if (o.deletionTimestamp) c.metadata.deletionTimestamp = o.deletionTimestamp;
  if (o.status) c.status = clone(o.status);
  return c;
}

export function newClaim(name: string, uid: string, volumeName: string, phase: 'Pending' | 'Bound', o: { finalizers?: string[]; dataSourceSnapshot?: string } = {}): PersistentVolumeClaim {
  const c: PersistentVolumeClaim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: testNamespace, uid, resourceVersion: '1' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeName },
    status: { phase },
  };
  if (o.finalizers) c.metadata.finalizers = [...o.finalizers];
  if (o.dataSourceSnapshot) {
    c.spec.dataSource = { apiGroup: SnapshotAPIGroup, kind: SnapshotKind, name: o.dataSourceSnapshot };
    c.spec.dataSourceRef = { apiGroup: SnapshotAPIGroup, kind: SnapshotKind, name: o.dataSourceSnapshot };
  }
  return c;
}

export function newVolume(name: string, uid: string, volumeHandle: string, claimUid: string, claimName: string, o: { driver?: string; csi?: boolean } = {}): PersistentVolume {
  const pv: PersistentVolume = {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, uid, resourceVersion: '1' },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: testNamespace, name: claimName, uid: claimUid },
      persistentVolumeReclaimPolicy: 'Delete',
    },
    status: { phase: 'Bound' },
  };
  if (o.csi !== false) pv.spec.csi = { driver: o.driver ?? mockDriverName, volumeHandle };
  else pv.spec.hostPath = { path: `/tmp/${name}` };
  return pv;
}

/** An object as compared in expectations: resourceVersions, error times and event-irrelevant fields dropped. */
export function normalize<T extends KubeObject>(obj: T): T {
  const o = clone(obj);
  delete o.metadata.resourceVersion;
  const status = (o as { status?: { error?: { time?: string } } }).status;
  if (status?.error) delete status.error.time;
  const ref = (o as { spec?: { volumeSnapshotRef?: { resourceVersion?: string } } }).spec?.volumeSnapshotRef;
  if (ref) delete ref.resourceVersion;
  if (o.metadata.finalizers?.length === 0) delete o.metadata.finalizers;
  // The API server drops empty maps (omitempty), as a merge patch removing the last annotation leaves one.
  if (o.metadata.annotations && Object.keys(o.metadata.annotations).length === 0) delete o.metadata.annotations;
  return o;
}

export { snapshotKey };
