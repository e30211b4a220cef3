// Table tests of the provisioner: initial objects -> one syncClaim/syncVolume -> expected CSI calls (a fake CSI
// connection with ordered expected calls, as external-snapshotter's sidecar tests), objects and events.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CSINode, Node, PersistentVolume, PersistentVolumeClaim, StorageClass, VolumeSnapshot, VolumeSnapshotContent } from '../../api/types.ts';
import {
  AnnDynamicallyProvisioned,
  AnnSelectedNode,
  AnnStorageProvisioner,
  PVDeletionProtectionFinalizer,
  SnapshotSourceProtectionFinalizer,
} from '../../api/well-known.ts';
import { ProvisioningError } from './errors.ts';
import {
  CsiProvisioner,
  NodeTopologyCache,
  aggregateNodeTopologies,
  generateAccessibilityRequirements,
  pvcNameHashAndIndexOffset,
  type CreateVolumeRequest,
  type CsiControllerClient,
  type CsiVolume,
  type ProvisionerApi,
  type ProvisionerListers,
} from './provisioner-logic.ts';

const driver = 'csi.strata.io';
const zoneKey = 'topology.kubernetes.io/zone';

type CsiCall =
  | { method: 'createVolume'; request: Partial<CreateVolumeRequest>; response?: CsiVolume; error?: Error }
  | { method: 'deleteVolume'; request: { volumeId: string }; error?: Error };

class FakeCsi implements CsiControllerClient {
  readonly expected: CsiCall[];
  readonly requests: CreateVolumeRequest[] = [];
  constructor(expected: CsiCall[]) {
    this.expected = [...expected];
  }
  #next(method: string, request: unknown): CsiCall {
    const call = this.expected.shift();
    assert.ok(call, `unexpected CSI call ${method} ${JSON.stringify(request, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    assert.equal(call.method, method);
    return call;
  }
  async createVolume(req: CreateVolumeRequest) {
    const call = this.#next('createVolume', req);
    this.requests.push(req);
    for (const [key, value] of Object.entries(call.request)) assert.deepEqual(req[key as keyof CreateVolumeRequest], value, `CreateVolume ${key}`);
    if (call.error) throw call.error;
    return { volume: (call as { response: CsiVolume }).response };
  }
  async deleteVolume(req: { volumeId: string }) {
    const call = this.#next('deleteVolume', req);
    assert.deepEqual(req, call.request);
    if (call.error) throw call.error;
  }
  async getCapacity(): Promise<never> {
    throw new Error('unexpected GetCapacity');
  }
}

const grpcError = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details });

class FakeApi implements ProvisionerApi {
  readonly volumes = new Map<string, PersistentVolume>();
  readonly claims = new Map<string, PersistentVolumeClaim>();
  readonly snapshots = new Map<string, VolumeSnapshot>();
  readonly contents = new Map<string, VolumeSnapshotContent>();
  readonly events: string[] = [];
  async createVolume(pv: PersistentVolume) {
    if (this.volumes.has(pv.metadata.name!)) throw Object.assign(new Error('already exists'), { code: 409 });
    this.volumes.set(pv.metadata.name!, structuredClone(pv));
    return pv;
  }
  async updateVolume(pv: PersistentVolume) {
    this.volumes.set(pv.metadata.name!, structuredClone(pv));
    return pv;
  }
  async deleteVolume(name: string) {
    const pv = this.volumes.get(name)!;
    if (pv.metadata.finalizers?.length) pv.metadata.deletionTimestamp = '2024-01-01T00:00:00Z';
    else this.volumes.delete(name);
  }
  async getVolume(name: string) {
    return structuredClone(this.volumes.get(name));
  }
  async updateClaim(claim: PersistentVolumeClaim) {
    this.claims.set(`${claim.metadata.namespace}/${claim.metadata.name}`, structuredClone(claim));
    return claim;
  }
  async getSnapshot(namespace: string, name: string) {
    return structuredClone(this.snapshots.get(`${namespace}/${name}`));
  }
  async updateSnapshot(snapshot: VolumeSnapshot) {
    this.snapshots.set(`${snapshot.metadata.namespace}/${snapshot.metadata.name}`, structuredClone(snapshot));
    return snapshot;
  }
  async getSnapshotContent(name: string) {
    return structuredClone(this.contents.get(name));
  }
}

interface World {
  classes?: StorageClass[];
  nodes?: Node[];
  csiNodes?: CSINode[];
  claims?: PersistentVolumeClaim[];
  volumes?: PersistentVolume[];
  snapshots?: VolumeSnapshot[];
  contents?: VolumeSnapshotContent[];
  csi?: CsiCall[];
  topology?: boolean;
}

function setup(world: World) {
  const api = new FakeApi();
  for (const c of world.claims ?? []) api.claims.set(`${c.metadata.namespace}/${c.metadata.name}`, structuredClone(c));
  for (const v of world.volumes ?? []) api.volumes.set(v.metadata.name!, structuredClone(v));
  for (const s of world.snapshots ?? []) api.snapshots.set(`${s.metadata.namespace}/${s.metadata.name}`, structuredClone(s));
  for (const c of world.contents ?? []) api.contents.set(c.metadata.name!, structuredClone(c));
  const listers: ProvisionerListers = {
    getClass: (name) => world.classes?.find((c) => c.metadata.name === name),
    getVolume: (name) => api.volumes.get(name),
    getClaim: (ns, name) => api.claims.get(`${ns}/${name}`),
    listClaims: (ns) => [...api.claims.values()].filter((c) => c.metadata.namespace === ns),
    getNode: (name) => world.nodes?.find((n) => n.metadata.name === name),
    nodeTopologies: (keys) => aggregateNodeTopologies(world.nodes ?? [], keys),
    getCSINode: (name) => world.csiNodes?.find((n) => n.metadata.name === name),
    listCSINodes: () => world.csiNodes ?? [],
  };
  const csi = new FakeCsi(world.csi ?? []);
  // What the capacity controller was asked to refresh.
  const refreshes: string[] = [];
  const provisioner = new CsiProvisioner({
    options: { driverName: driver, identity: 'id-1', capabilities: { topology: world.topology ?? true, snapshot: true, clone: true, singleNodeMultiWriter: false } },
    listers,
    api,
    csi,
    recorder: { event: (_o, type, reason, message) => api.events.push(`${type} ${reason} ${message}`) },
    capacity: {
      topology: (affinity) => refreshes.push(`topology ${JSON.stringify(affinity.required?.nodeSelectorTerms)}`),
      storageClass: (name) => refreshes.push(`class ${name}`),
    },
  });
  return { api, csi, provisioner, refreshes };
}

const sc = (name: string, mode: 'Immediate' | 'WaitForFirstConsumer', extra: Partial<StorageClass> = {}): StorageClass => ({
  metadata: { name }, provisioner: driver, reclaimPolicy: 'Delete', volumeBindingMode: mode, ...extra,
});
const node = (name: string, zone: string): Node => ({ metadata: { name, labels: { [zoneKey]: zone, 'kubernetes.io/hostname': name } } });
const csiNode = (name: string): CSINode => ({ metadata: { name }, spec: { drivers: [{ name: driver, nodeID: name, topologyKeys: [zoneKey] }] } });
const claim = (name: string, className: string, extra: { annotations?: Record<string, string>; size?: string; dataSource?: PersistentVolumeClaim['spec']['dataSource']; dataSourceRef?: PersistentVolumeClaim['spec']['dataSourceRef'] } = {}): PersistentVolumeClaim => ({
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: '7', annotations: { [AnnStorageProvisioner]: driver, ...extra.annotations } },
  spec: {
    accessModes: ['ReadWriteOnce'], resources: { requests: { storage: extra.size ?? '1Gi' } }, storageClassName: className,
    ...(extra.dataSource ? { dataSource: extra.dataSource } : {}), ...(extra.dataSourceRef ? { dataSourceRef: extra.dataSourceRef } : {}),
  },
  status: { phase: 'Pending' },
});
const zones = ['zone-a', 'zone-b', 'zone-c'];
const nodes = zones.map((z, i) => node(`node-${i}`, z));
const csiNodes = nodes.map((n) => csiNode(n.metadata.name!));
const GiB = 1n << 30n;
const topo = (zone: string) => ({ segments: { [zoneKey]: zone } });

describe('provisioning', () => {
  it('Immediate class: CreateVolume with the aggregated topology, PV with nodeAffinity, claimRef, finalizer, annotation', async () => {
    const pvc = claim('data', 'fast');
    const { api, csi, provisioner } = setup({
      classes: [sc('fast', 'Immediate', { parameters: { type: 'zonal', 'csi.storage.k8s.io/fstype': 'ext4' }, mountOptions: ['noatime'] })],
      nodes, csiNodes, claims: [pvc],
      csi: [{
        method: 'createVolume',
        request: { name: 'pvc-uid-data', capacityRange: { requiredBytes: GiB }, parameters: { type: 'zonal' } },
        response: { volumeId: 'vol-1', capacityBytes: 2n * GiB, volumeContext: { pool: 'zone-b' }, accessibleTopology: [topo('zone-b')] },
      }],
    });
    assert.equal(await provisioner.syncClaim(pvc), 'provisioned');
    assert.equal(csi.expected.length, 0);
    const req = csi.requests[0];
    assert.deepEqual(req.volumeCapabilities, [{ mount: { fsType: 'ext4', mountFlags: ['noatime'] }, accessMode: { mode: 'SINGLE_NODE_WRITER' } }]);
    assert.deepEqual(req.accessibilityRequirements!.requisite, zones.map(topo));
    // preferred is the requisite rotated by the claim name's hash
    const { hash } = pvcNameHashAndIndexOffset('data');
    const i = hash % 3;
    assert.deepEqual(req.accessibilityRequirements!.preferred, [...zones.slice(i), ...zones.slice(0, i)].map(topo));
    const pv = api.volumes.get('pvc-uid-data')!;
    assert.deepEqual(pv, {
      apiVersion: 'v1', kind: 'PersistentVolume',
      metadata: {
        name: 'pvc-uid-data',
        annotations: {
          'volume.kubernetes.io/provisioner-deletion-secret-name': '', 'volume.kubernetes.io/provisioner-deletion-secret-namespace': '',
          [AnnDynamicallyProvisioned]: driver,
        },
        finalizers: [PVDeletionProtectionFinalizer],
      },
      spec: {
        accessModes: ['ReadWriteOnce'], capacity: { storage: '2Gi' },
        csi: { driver, volumeHandle: 'vol-1', volumeAttributes: { 'storage.kubernetes.io/csiProvisionerIdentity': 'id-1', pool: 'zone-b' }, fsType: 'ext4' },
        mountOptions: ['noatime'], persistentVolumeReclaimPolicy: 'Delete',
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: zoneKey, operator: 'In', values: ['zone-b'] }] }] } },
        claimRef: { kind: 'PersistentVolumeClaim', namespace: 'ns', name: 'data', uid: 'uid-data', apiVersion: 'v1', resourceVersion: '7' },
        storageClassName: 'fast',
      },
    });
    assert.deepEqual(api.events, ['Normal Provisioning External provisioner is provisioning volume for claim "ns/data"', 'Normal ProvisioningSucceeded Successfully provisioned volume pvc-uid-data']);
  });

  it('WaitForFirstConsumer without a selected node is not provisioned', async () => {
    const pvc = claim('wait', 'slow');
    const { csi, provisioner } = setup({ classes: [sc('slow', 'WaitForFirstConsumer')], nodes, csiNodes, claims: [pvc] });
    assert.equal(await provisioner.syncClaim(pvc), 'skipped');
    assert.equal(csi.requests.length, 0);
  });

  it('claims of another provisioner are skipped', async () => {
    const pvc = claim('other', 'fast', { annotations: { [AnnStorageProvisioner]: 'other.csi.io' } });
    const { provisioner } = setup({ classes: [sc('fast', 'Immediate')], claims: [pvc] });
    assert.equal(await provisioner.syncClaim(pvc), 'skipped');
  });

  it('WaitForFirstConsumer with a selected node: preferred starts with the node topology, allowedTopologies is requisite', async () => {
    const pvc = claim('wait', 'slow', { annotations: { [AnnSelectedNode]: 'node-2' } });
    const { csi, provisioner } = setup({
      classes: [sc('slow', 'WaitForFirstConsumer', { allowedTopologies: [{ matchLabelExpressions: [{ key: zoneKey, values: ['zone-c', 'zone-a'] }] }] })],
      nodes, csiNodes, claims: [pvc],
      csi: [{ method: 'createVolume', request: { accessibilityRequirements: { requisite: [topo('zone-a'), topo('zone-c')], preferred: [topo('zone-c'), topo('zone-a')] } }, response: { volumeId: 'v', capacityBytes: GiB, accessibleTopology: [topo('zone-c')] } }],
    });
    assert.equal(await provisioner.syncClaim(pvc), 'provisioned');
    assert.equal(csi.expected.length, 0);
  });

  it('ResourceExhausted with a selected node clears volume.kubernetes.io/selected-node', async () => {
    const pvc = claim('big', 'slow', { annotations: { [AnnSelectedNode]: 'node-0' }, size: '100Ti' });
    const { api, provisioner } = setup({
      classes: [sc('slow', 'WaitForFirstConsumer')], nodes, csiNodes, claims: [pvc],
      csi: [{ method: 'createVolume', request: {}, error: grpcError(8, 'pool zone-a has 10Gi free, 100Ti requested') }],
    });
    assert.equal(await provisioner.syncClaim(pvc), 'stopped');
    assert.equal(api.claims.get('ns/big')!.metadata.annotations![AnnSelectedNode], undefined);
    assert.deepEqual(api.events.at(-1), 'Warning ProvisioningFailed failed to provision volume with StorageClass "slow": rpc error: code = ResourceExhausted desc = pool zone-a has 10Gi free, 100Ti requested');
    assert.equal(api.volumes.size, 0);
  });

  it('ResourceExhausted without a selected node is a final error and leaves nothing behind', async () => {
    const pvc = claim('big', 'fast', { size: '100Ti' });
    const { api, provisioner } = setup({
      classes: [sc('fast', 'Immediate')], nodes, csiNodes, claims: [pvc],
      csi: [{ method: 'createVolume', request: {}, error: grpcError(8, 'no pool has room') }],
    });
    await assert.rejects(provisioner.syncClaim(pvc), (err: ProvisioningError) => err.state === 'Finished');
    assert.equal(api.volumes.size, 0);
  });

  for (const [code, name] of [[4, 'DeadlineExceeded'], [14, 'Unavailable'], [10, 'Aborted'], [1, 'Canceled']] as const) {
    it(`${name} is in progress (retry with the same name)`, async () => {
      const pvc = claim('slowly', 'fast');
      const { provisioner } = setup({ classes: [sc('fast', 'Immediate')], nodes, csiNodes, claims: [pvc], csi: [{ method: 'createVolume', request: {}, error: grpcError(code, 'later') }] });
      await assert.rejects(provisioner.syncClaim(pvc), (err: ProvisioningError) => err.state === 'InBackground');
    });
  }

  it('a volume smaller than requested is deleted again', async () => {
    const pvc = claim('small', 'fast');
    const { csi, provisioner } = setup({
      classes: [sc('fast', 'Immediate')], topology: false, claims: [pvc],
      csi: [
        { method: 'createVolume', request: { accessibilityRequirements: undefined }, response: { volumeId: 'v-small', capacityBytes: 1024n } },
        { method: 'deleteVolume', request: { volumeId: 'v-small' } },
      ],
    });
    await assert.rejects(provisioner.syncClaim(pvc), /created volume capacity 1024 less than requested capacity 1073741824/);
    assert.equal(csi.expected.length, 0);
  });

  it('a PV that already exists stops provisioning', async () => {
    const pvc = claim('done', 'fast');
    const { provisioner } = setup({ classes: [sc('fast', 'Immediate')], claims: [pvc], volumes: [{ metadata: { name: 'pvc-uid-done' }, spec: {} }] });
    assert.equal(await provisioner.syncClaim(pvc), 'stopped');
  });

  it('a cross-namespace dataSourceRef is refused with an event', async () => {
    const pvc = claim('x', 'fast', { dataSourceRef: { kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io', name: 's', namespace: 'other' } });
    const { api, provisioner } = setup({ classes: [sc('fast', 'Immediate')], claims: [pvc] });
    await assert.rejects(provisioner.syncClaim(pvc), ProvisioningError);
    assert.equal(api.events.at(-1), 'Warning ProvisioningFailed failed to provision volume with StorageClass "fast": dataSourceRef namespace specified but the CrossNamespaceVolumeDataSource feature is disabled');
  });
});

describe('capacity refresh (upstream provisionWrapper)', () => {
  const zoneTerm = (zone: string) => `topology [{"matchExpressions":[{"key":"${zoneKey}","operator":"In","values":["${zone}"]}]}]`;

  it('a provisioned volume refreshes the segments of its node affinity; without one, its class', async () => {
    const pvc = claim('data', 'fast');
    const zonal = setup({
      classes: [sc('fast', 'Immediate')], nodes, csiNodes, claims: [pvc],
      csi: [{ method: 'createVolume', request: {}, response: { volumeId: 'v', capacityBytes: GiB, accessibleTopology: [topo('zone-b')] } }],
    });
    assert.equal(await zonal.provisioner.syncClaim(pvc), 'provisioned');
    assert.deepEqual(zonal.refreshes, [zoneTerm('zone-b')]);

    const anywhere = setup({
      classes: [sc('fast', 'Immediate')], claims: [pvc], topology: false,
      csi: [{ method: 'createVolume', request: {}, response: { volumeId: 'v', capacityBytes: GiB } }],
    });
    assert.equal(await anywhere.provisioner.syncClaim(pvc), 'provisioned');
    assert.deepEqual(anywhere.refreshes, ['class fast']);
  });

  it('a failed CreateVolume refreshes the class; a failure before any change (NoChange) refreshes nothing', async () => {
    const big = claim('big', 'slow', { annotations: { [AnnSelectedNode]: 'node-0' }, size: '100Ti' });
    const exhausted = setup({
      classes: [sc('slow', 'WaitForFirstConsumer')], nodes, csiNodes, claims: [big],
      csi: [{ method: 'createVolume', request: {}, error: grpcError(8, 'no room') }],
    });
    assert.equal(await exhausted.provisioner.syncClaim(big), 'stopped');
    assert.deepEqual(exhausted.refreshes, ['class slow']);

    const elsewhere = claim('elsewhere', 'slow', { annotations: { [AnnSelectedNode]: 'node-0' } });
    const notAllowed = setup({
      classes: [sc('slow', 'WaitForFirstConsumer', { allowedTopologies: [{ matchLabelExpressions: [{ key: zoneKey, values: ['zone-c'] }] }] })],
      nodes, csiNodes, claims: [elsewhere],
    });
    await assert.rejects(notAllowed.provisioner.syncClaim(elsewhere), (err: ProvisioningError) => err.state === 'NoChange');
    assert.deepEqual(notAllowed.refreshes, []);
  });

  it('a deleted volume refreshes the segments of its node affinity', async () => {
    const affinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: zoneKey, operator: 'In' as const, values: ['zone-a'] }] }] } };
    const { api, provisioner, refreshes } = setup({
      volumes: [{
        metadata: { name: 'pvc-1', annotations: { [AnnDynamicallyProvisioned]: driver }, finalizers: [PVDeletionProtectionFinalizer] },
        spec: { csi: { driver, volumeHandle: 'vol-1' }, persistentVolumeReclaimPolicy: 'Delete', nodeAffinity: affinity, claimRef: { name: 'c', namespace: 'ns', uid: 'u' } },
        status: { phase: 'Released' },
      }],
      csi: [{ method: 'deleteVolume', request: { volumeId: 'vol-1' } }],
    });
    await provisioner.syncVolume(structuredClone(api.volumes.get('pvc-1')!));
    assert.deepEqual(refreshes, [zoneTerm('zone-a')]);
  });
});

describe('restore from a VolumeSnapshot (getSnapshotSource checks in order)', () => {
  const snapshot = (status: VolumeSnapshot['status'], extra: Partial<VolumeSnapshot['metadata']> = {}): VolumeSnapshot => ({
    metadata: { name: 'snap', namespace: 'ns', uid: 'snap-uid', ...extra }, spec: { source: { persistentVolumeClaimName: 'data' } }, status,
  });
  const content = (driverName = driver, handle: string | null = 'snap-handle'): VolumeSnapshotContent => ({
    metadata: { name: 'snapcontent-1' },
    spec: { volumeSnapshotRef: { name: 'snap', namespace: 'ns', uid: 'snap-uid' }, deletionPolicy: 'Delete', driver: driverName, source: { volumeHandle: 'vol-1' } },
    status: handle ? { snapshotHandle: handle, readyToUse: true } : { readyToUse: true },
  });
  const restore = (size = '1Gi') => claim('restore', 'fast', { size, dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' } });
  const ready = { boundVolumeSnapshotContentName: 'snapcontent-1', readyToUse: true, restoreSize: '1Gi' };
  const prefix = 'Warning ProvisioningFailed failed to provision volume with StorageClass "fast": error getting handle for DataSource Type VolumeSnapshot by Name snap: ';
  const cases: Array<{ name: string; snapshots: VolumeSnapshot[]; contents: VolumeSnapshotContent[]; size?: string; message: string }> = [
    { name: 'snapshot missing', snapshots: [], contents: [], message: 'error getting snapshot snap from api server: volumesnapshots.snapshot.storage.k8s.io "snap" not found' },
    { name: 'snapshot being deleted', snapshots: [snapshot(ready, { deletionTimestamp: '2024-01-01T00:00:00Z' })], contents: [content()], message: 'snapshot snap is being deleted' },
    { name: 'snapshot not bound', snapshots: [snapshot({ readyToUse: false })], contents: [], message: 'snapshot snap not bound' },
    { name: 'content of another driver', snapshots: [snapshot(ready)], contents: [content('other.csi.io')], message: 'snapshot snap not bound' },
    { name: 'not ready', snapshots: [snapshot({ ...ready, readyToUse: false })], contents: [content()], message: 'snapshot snap is not Ready' },
    { name: 'no handle', snapshots: [snapshot(ready)], contents: [content(driver, null)], message: 'snapshot handle snap is not available' },
    { name: 'smaller than restoreSize', snapshots: [snapshot({ ...ready, restoreSize: '2Gi' })], contents: [content()], size: '1Gi', message: 'requested volume size 1073741824 is less than the size 2147483648 for the source snapshot snap' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const pvc = restore(c.size);
      const { api, csi, provisioner } = setup({ classes: [sc('fast', 'Immediate')], topology: false, claims: [pvc], snapshots: c.snapshots, contents: c.contents });
      await assert.rejects(provisioner.syncClaim(pvc), ProvisioningError);
      assert.equal(api.events.at(-1), prefix + c.message);
      assert.equal(csi.requests.length, 0);
      // Nothing is protected while the checks fail.
      for (const s of api.snapshots.values()) assert.ok(!s.metadata.finalizers?.includes(SnapshotSourceProtectionFinalizer));
    });
  }

  it('ready snapshot: CreateVolume with the snapshot handle; source-protection finalizer removed afterwards', async () => {
    const pvc = restore();
    const { api, csi, provisioner } = setup({
      classes: [sc('fast', 'Immediate')], topology: false, claims: [pvc], snapshots: [snapshot(ready)], contents: [content()],
      csi: [{ method: 'createVolume', request: { volumeContentSource: { snapshot: { snapshotId: 'snap-handle' } } }, response: { volumeId: 'v2', capacityBytes: GiB, contentSource: { snapshot: { snapshotId: 'snap-handle' } } } }],
    });
    const origUpdate = api.updateSnapshot.bind(api);
    const finalizerHistory: string[][] = [];
    api.updateSnapshot = async (s) => { finalizerHistory.push(s.metadata.finalizers ?? []); return origUpdate(s); };
    assert.equal(await provisioner.syncClaim(pvc), 'provisioned');
    assert.equal(csi.expected.length, 0);
    assert.deepEqual(finalizerHistory, [[SnapshotSourceProtectionFinalizer], []]);
  });
});

describe('deletion of released volumes', () => {
  const pv = (phase: 'Bound' | 'Released', policy: 'Delete' | 'Retain', finalizers?: string[]): PersistentVolume => ({
    metadata: { name: 'pvc-1', annotations: { [AnnDynamicallyProvisioned]: driver }, ...(finalizers ? { finalizers } : {}) },
    spec: { csi: { driver, volumeHandle: 'vol-1' }, persistentVolumeReclaimPolicy: policy, claimRef: { name: 'c', namespace: 'ns', uid: 'u' } },
    status: { phase },
  });

  it('Released + Delete: DeleteVolume, delete the PV, drop our finalizer', async () => {
    const { api, csi, provisioner } = setup({ volumes: [pv('Released', 'Delete', ['kubernetes.io/pv-protection', PVDeletionProtectionFinalizer])], csi: [{ method: 'deleteVolume', request: { volumeId: 'vol-1' } }] });
    await provisioner.syncVolume(structuredClone(api.volumes.get('pvc-1')!));
    assert.equal(csi.expected.length, 0);
    const stored = api.volumes.get('pvc-1')!;
    assert.ok(stored.metadata.deletionTimestamp);
    assert.deepEqual(stored.metadata.finalizers, ['kubernetes.io/pv-protection']);
  });

  it('DeleteVolume failure: VolumeFailedDelete event and retry', async () => {
    const { api, provisioner } = setup({ volumes: [pv('Released', 'Delete', [PVDeletionProtectionFinalizer])], csi: [{ method: 'deleteVolume', request: { volumeId: 'vol-1' }, error: grpcError(9, 'volume is published') }] });
    await assert.rejects(provisioner.syncVolume(structuredClone(api.volumes.get('pvc-1')!)));
    assert.deepEqual(api.events, ['Warning VolumeFailedDelete rpc error: code = FailedPrecondition desc = volume is published']);
    assert.equal(api.volumes.get('pvc-1')!.metadata.deletionTimestamp, undefined);
  });

  it('Released + Retain keeps the backend volume and drops our finalizer', async () => {
    const { api, provisioner } = setup({ volumes: [pv('Released', 'Retain', [PVDeletionProtectionFinalizer])] });
    await provisioner.syncVolume(structuredClone(api.volumes.get('pvc-1')!));
    assert.equal(api.volumes.get('pvc-1')!.metadata.finalizers, undefined);
  });

  it('Bound + Delete gets our finalizer', async () => {
    const { api, provisioner } = setup({ volumes: [pv('Bound', 'Delete')] });
    await provisioner.syncVolume(structuredClone(api.volumes.get('pvc-1')!));
    assert.deepEqual(api.volumes.get('pvc-1')!.metadata.finalizers, [PVDeletionProtectionFinalizer]);
  });
});

describe('generateAccessibilityRequirements', () => {
  const listers = (n: Node[], c: CSINode[]): ProvisionerListers => ({
    getClass: () => undefined, getVolume: () => undefined, getClaim: () => undefined, listClaims: () => [],
    getNode: (name) => n.find((x) => x.metadata.name === name), nodeTopologies: (keys) => aggregateNodeTopologies(n, keys),
    getCSINode: (name) => c.find((x) => x.metadata.name === name), listCSINodes: () => c,
  });

  it('strict topology: requisite = preferred = the selected node', () => {
    const r = generateAccessibilityRequirements(listers(nodes, csiNodes), driver, 'p', undefined, 'node-1', true, true);
    assert.deepEqual(r, { requisite: [topo('zone-b')], preferred: [topo('zone-b')] });
  });

  it('selected node without CSINode asks for rescheduling', () => {
    assert.throws(() => generateAccessibilityRequirements(listers(nodes, []), driver, 'p', undefined, 'node-1', false, true),
      (err: ProvisioningError) => err.state === 'Reschedule' && /failed to get selected CSINode node-1/.test(err.message));
  });

  it('StatefulSet claims spread round-robin over the requisite', () => {
    const first = generateAccessibilityRequirements(listers(nodes, csiNodes), driver, 'data-web-0', undefined, '', false, true)!;
    const second = generateAccessibilityRequirements(listers(nodes, csiNodes), driver, 'data-web-1', undefined, '', false, true)!;
    assert.notDeepEqual(first.preferred[0], second.preferred[0]);
    assert.equal(pvcNameHashAndIndexOffset('data-web-1').hash, pvcNameHashAndIndexOffset('logs-web-1').hash);
  });

  it('selected node, no strict topology: requisite is every node, preferred starts at the selected node', () => {
    const r = generateAccessibilityRequirements(listers(nodes, csiNodes), driver, 'p', undefined, 'node-1', false, true)!;
    assert.deepEqual(r.requisite, [topo('zone-a'), topo('zone-b'), topo('zone-c')]);
    assert.deepEqual(r.preferred, [topo('zone-b'), topo('zone-c'), topo('zone-a')]);
  });

  it('NodeTopologyCache aggregates the nodes once per set of keys, until invalidated; requests get their own lists', () => {
    let lists = 0;
    let current = nodes;
    const cache = new NodeTopologyCache(() => (lists++, current));
    const cached = { ...listers(nodes, csiNodes), nodeTopologies: (keys: string[]) => cache.get(keys) };
    const first = generateAccessibilityRequirements(cached, driver, 'p', undefined, 'node-1', false, true)!;
    first.requisite.reverse();
    first.preferred.pop();
    const second = generateAccessibilityRequirements(cached, driver, 'p', undefined, 'node-0', false, true)!;
    assert.equal(lists, 1);
    const all = [topo('zone-a'), topo('zone-b'), topo('zone-c')];
    assert.deepEqual(second, { requisite: all, preferred: all });
    current = nodes.slice(0, 1);
    assert.equal(generateAccessibilityRequirements(cached, driver, 'p', undefined, 'node-0', false, true)!.requisite.length, 3, 'still cached');
    cache.invalidate();
    assert.deepEqual(generateAccessibilityRequirements(cached, driver, 'p', undefined, 'node-0', false, true), { requisite: [topo('zone-a')], preferred: [topo('zone-a')] });
    assert.equal(lists, 2);
  });

  it('no topology keys registered anywhere: no requirements', () => {
    assert.equal(generateAccessibilityRequirements(listers(nodes, []), driver, 'p', undefined, '', false, true), undefined);
  });
});
