// Table tests of the csi-snapshotter sidecar in the shape of external-snapshotter's pkg/sidecar-controller tests
// (content_create_test.go, snapshot_delete_test.go, snapshot_controller_test.go): initial contents -> syncContent ->
// expected contents and events, with an ordered list of expected CSI calls and their answers, and injected API errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { KubeObject, VolumeSnapshotClass, VolumeSnapshotContent } from '../../api/types.ts';
import { CsiError } from '../../csi/errors.ts';
import { FakeCluster, type ReactorError, mockDriverName, newContent, newSnapshotClass, normalize, timeNowMeta, timeNowStamp } from '../snapshot/testing.ts';
import {
  AnnDeletionSecretRefName,
  AnnDeletionSecretRefNamespace,
  AnnVolumeSnapshotBeingCreated as BeingCreated,
  AnnVolumeSnapshotBeingDeleted as BeingDeleted,
  VolumeSnapshotContentFinalizer as ContentF,
  shouldEnqueueContentChange,
} from '../snapshot/utils.ts';
import type { CsiSnapshot, CsiSnapshotClient, SnapshotterApi } from './snapshotter-logic.ts';
import { SnapshotterSyncLogic, isCsiFinalError } from './snapshotter-logic.ts';

type CsiCall =
  | { method: 'createSnapshot'; request: Parameters<CsiSnapshotClient['createSnapshot']>[0]; response?: CsiSnapshot; error?: Error }
  | { method: 'deleteSnapshot'; request: Parameters<CsiSnapshotClient['deleteSnapshot']>[0]; error?: Error }
  | { method: 'listSnapshots'; request: Parameters<CsiSnapshotClient['listSnapshots']>[0]; response?: CsiSnapshot[]; error?: Error };

/** fakeCSIConnection: answers exactly the expected calls, in order. */
class FakeCsi implements CsiSnapshotClient {
  private readonly calls: CsiCall[];
  constructor(calls: CsiCall[]) {
    this.calls = [...calls];
  }
  private next(method: CsiCall['method'], request: unknown): CsiCall {
    const call = this.calls.shift();
    assert.ok(call, `unexpected CSI call ${method} ${JSON.stringify(request)}`);
    assert.equal(method, call.method, 'CSI call');
    assert.deepEqual(request, call.request, `${method} request`);
    if (call.error) throw call.error;
    return call;
  }
  async createSnapshot(req: Parameters<CsiSnapshotClient['createSnapshot']>[0]): Promise<CsiSnapshot> {
    return (this.next('createSnapshot', req) as { response: CsiSnapshot }).response;
  }
  async deleteSnapshot(req: Parameters<CsiSnapshotClient['deleteSnapshot']>[0]): Promise<void> {
    this.next('deleteSnapshot', req);
  }
  async listSnapshots(req: Parameters<CsiSnapshotClient['listSnapshots']>[0]): Promise<CsiSnapshot[]> {
    return (this.next('listSnapshots', req) as { response: CsiSnapshot[] }).response;
  }
  assertDone(): void {
    assert.deepEqual(this.calls.map((c) => c.method), [], 'expected CSI calls not made');
  }
}

/** A driver with state: CreateSnapshot idempotent by name, as the CSI spec requires. */
class BackendDriver implements CsiSnapshotClient {
  readonly snapshots = new Map<string, CsiSnapshot>();
  createCalls = 0;
  /** Errors the next CreateSnapshot calls fail with after cutting the snapshot (a lost answer). */
  failAfterCut: Error[] = [];
  async createSnapshot(req: { name: string; sourceVolumeId: string }): Promise<CsiSnapshot> {
    this.createCalls++;
    let snap = this.snapshots.get(req.name);
    if (!snap) {
      snap = { snapshotId: `id-${req.name}`, sourceVolumeId: req.sourceVolumeId, creationTimeNs: timeNowStamp, sizeBytes: 1 << 30, readyToUse: true };
      this.snapshots.set(req.name, snap);
    }
    const err = this.failAfterCut.shift();
    if (err) throw err;
    return { ...snap };
  }
  async deleteSnapshot(req: { snapshotId: string }): Promise<void> {
    for (const [k, v] of this.snapshots) if (v.snapshotId === req.snapshotId) this.snapshots.delete(k);
  }
  async listSnapshots(req: { snapshotId: string }): Promise<CsiSnapshot[]> {
    return [...this.snapshots.values()].filter((s) => s.snapshotId === req.snapshotId);
  }
}

const classWithSecret = 'secret-class';
const snapshotClasses: VolumeSnapshotClass[] = [
  newSnapshotClass('gold', 'Delete', { parameters: { param1: 'value1' } }),
  newSnapshotClass(classWithSecret, 'Delete', {
    parameters: {
      'csi.storage.k8s.io/snapshotter-secret-name': 'secret',
      'csi.storage.k8s.io/snapshotter-secret-namespace': 'default',
      'csi.storage.k8s.io/snapshotter-list-secret-name': 'secret',
      'csi.storage.k8s.io/snapshotter-list-secret-namespace': 'default',
      param1: 'value1',
    },
  }),
  newSnapshotClass('other', 'Delete', { driver: 'other.csi.example.com' }),
];
const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'secret', namespace: 'default' }, data: { foo: Buffer.from('bar').toString('base64') } };
const secretAnnotations = { [AnnDeletionSecretRefName]: 'secret', [AnnDeletionSecretRefNamespace]: 'default' };

function content(n: string, o: Parameters<typeof newContent>[1] = {}): VolumeSnapshotContent {
  return newContent(`content${n}`, { snapshotName: `snap${n}`, snapshotUid: `snapuid${n}`, volumeHandle: `volume-handle-${n}`, className: 'gold', finalizers: [ContentF], ...o });
}
function csiSnapshot(id: string, ready = true, size = defaultSizeBytes): CsiSnapshot {
  return { snapshotId: id, sourceVolumeId: '', creationTimeNs: timeNowStamp, sizeBytes: size, readyToUse: ready };
}
const defaultSizeBytes = 1000;
const readyStatus = (id: string) => ({ snapshotHandle: id, readyToUse: true, creationTime: timeNowStamp, restoreSize: defaultSizeBytes });
const createReq = (n: string, parameters: Record<string, string> = { param1: 'value1' }) => ({
  name: `snapshot-snapuid${n}`, sourceVolumeId: `volume-handle-${n}`, parameters,
});

interface SidecarTest {
  name: string;
  initialContents: VolumeSnapshotContent[];
  /** undefined: not compared. */
  expectedContents?: VolumeSnapshotContent[];
  expectedCalls?: CsiCall[];
  expectedEvents?: string[];
  errors?: ReactorError[];
  expectedError?: string | RegExp;
  expectedRequeue?: boolean;
  listSnapshotsSupported?: boolean;
  extraCreateMetadata?: boolean;
}

function sidecarApi(cluster: FakeCluster): SnapshotterApi {
  return {
    getContent: (name) => cluster.apiGet('volumesnapshotcontents', name),
    patchContent: (name, p) => cluster.apiPatch('volumesnapshotcontents', name, p as Record<string, unknown>),
    patchContentStatus: (name, p) => cluster.apiPatch('volumesnapshotcontents', name, p as Record<string, unknown>, true),
    getSecretData: async (ns, name) => {
      const s = await cluster.apiGet<KubeObject & { data?: Record<string, string> }>('secrets', `${ns}/${name}`);
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    },
  };
}

function newSidecar(cluster: FakeCluster, csi: CsiSnapshotClient, o: { listSnapshotsSupported?: boolean; extraCreateMetadata?: boolean } = {}): SnapshotterSyncLogic {
  return new SnapshotterSyncLogic({
    driverName: mockDriverName,
    listers: { getClass: (name) => cluster.classes.find((c) => c.metadata.name === name) },
    api: sidecarApi(cluster),
    csi,
    recorder: cluster.recorder(),
    listSnapshotsSupported: o.listSnapshotsSupported ?? true,
    extraCreateMetadata: o.extraCreateMetadata,
  });
}

async function runSidecarTest(t: SidecarTest): Promise<void> {
  const cluster = new FakeCluster({ contents: t.initialContents, classes: snapshotClasses, secrets: [secret], errors: t.errors });
  const csi = new FakeCsi(t.expectedCalls ?? []);
  const ctrl = newSidecar(cluster, csi, t);
  const sync = ctrl.syncContent(t.initialContents[0]!);
  if (t.expectedError === undefined) {
    const requeue = await sync;
    if (t.expectedRequeue !== undefined) assert.equal(requeue, t.expectedRequeue, 'requeue');
  } else {
    await assert.rejects(sync, (err: Error) => (typeof t.expectedError === 'string' ? err.message === t.expectedError : t.expectedError!.test(err.message)));
  }
  csi.assertDone();
  if (t.expectedContents) {
    assert.deepEqual(cluster.list<VolumeSnapshotContent>('volumesnapshotcontents').map(normalize), t.expectedContents.map(normalize), 'contents');
  }
  assert.deepEqual(cluster.events, t.expectedEvents ?? [], 'events');
}

function runSidecarTests(tests: SidecarTest[]): void {
  for (const t of tests) {
    it(t.name, async () => {
      await runSidecarTest(t);
    });
  }
}

describe('TestSyncContent (content_create_test.go)', () => {
  runSidecarTests([
    {
      name: '1-1: Basic content update ready to use',
      initialContents: [content('1-1')],
      expectedContents: [content('1-1', { status: readyStatus('sid1-1') })],
      expectedCalls: [{ method: 'createSnapshot', request: createReq('1-1'), response: csiSnapshot('sid1-1') }],
      expectedRequeue: false,
    },
    {
      name: '1-2: Basic content update ready to use bad snapshot class',
      initialContents: [content('1-2', { className: 'bad-class' })],
      expectedContents: [
        content('1-2', {
          className: 'bad-class',
          status: { readyToUse: false, error: { message: 'Failed to create snapshot: failed to get input parameters to create snapshot for content content1-2: "volumesnapshotclass.snapshot.storage.k8s.io \\"bad-class\\" not found"' } },
        }),
      ],
      expectedEvents: [
        'Warning SnapshotCreationFailed Failed to create snapshot: failed to get input parameters to create snapshot for content content1-2: "volumesnapshotclass.snapshot.storage.k8s.io \\"bad-class\\" not found"',
      ],
      expectedError: /bad-class/,
    },
    {
      name: '1-3: Basic sync content create snapshot: secrets resolved, csi.storage.k8s.io/ parameters stripped',
      initialContents: [content('1-3', { className: classWithSecret, annotations: secretAnnotations })],
      expectedContents: [content('1-3', { className: classWithSecret, annotations: secretAnnotations, status: readyStatus('sid1-3') })],
      expectedCalls: [{ method: 'createSnapshot', request: { ...createReq('1-3'), secrets: { foo: 'bar' } }, response: csiSnapshot('sid1-3') }],
      expectedRequeue: false,
    },
    {
      name: '1-4: Basic sync content create snapshot with non-existent secret',
      initialContents: [content('1-4', { className: classWithSecret, annotations: { [AnnDeletionSecretRefName]: 'missing', [AnnDeletionSecretRefNamespace]: 'default' } })],
      expectedEvents: [
        'Warning SnapshotCreationFailed Failed to create snapshot: failed to get input parameters to create snapshot for content content1-4: "cannot get credentials for snapshot content \\"content1-4\\""',
      ],
      expectedError: /cannot get credentials/,
    },
    {
      name: '1-5: content without a snapshot class',
      initialContents: [newContent('content1-5', { snapshotName: 'snap1-5', snapshotUid: 'snapuid1-5', volumeHandle: 'volume-handle-1-5', finalizers: [ContentF] })],
      expectedEvents: [
        'Warning SnapshotCreationFailed Failed to create snapshot: failed to get input parameters to create snapshot for content content1-5: "failed to take snapshot content1-5 without a snapshot class"',
      ],
      expectedError: /without a snapshot class/,
    },
    {
      name: '1-7: Just created un-ready snapshot should be requeued',
      initialContents: [content('1-7')],
      expectedContents: [content('1-7', { status: { snapshotHandle: 'sid1-7', readyToUse: false, creationTime: timeNowStamp, restoreSize: defaultSizeBytes } })],
      expectedCalls: [{ method: 'createSnapshot', request: createReq('1-7'), response: csiSnapshot('sid1-7', false) }],
      expectedRequeue: true,
    },
    {
      name: '1-8: Un-ready snapshot that remains un-ready should be requeued (CreateSnapshot called again, nothing written)',
      initialContents: [content('1-8', { status: { snapshotHandle: 'sid1-8', readyToUse: false, creationTime: timeNowStamp, restoreSize: defaultSizeBytes } })],
      expectedContents: [content('1-8', { status: { snapshotHandle: 'sid1-8', readyToUse: false, creationTime: timeNowStamp, restoreSize: defaultSizeBytes } })],
      expectedCalls: [{ method: 'createSnapshot', request: createReq('1-8'), response: csiSnapshot('sid1-8', false) }],
      expectedRequeue: true,
    },
    {
      name: '1-9: Un-ready snapshot that becomes ready should not be requeued',
      initialContents: [content('1-9', { status: { snapshotHandle: 'sid1-9', readyToUse: false, creationTime: timeNowStamp, error: { time: timeNowMeta, message: 'old' } } })],
      expectedContents: [content('1-9', { status: readyStatus('sid1-9') })],
      expectedCalls: [{ method: 'createSnapshot', request: createReq('1-9'), response: csiSnapshot('sid1-9') }],
      expectedRequeue: false,
    },
    {
      name: '1-10: final CreateSnapshot error: being-created annotation removed, SnapshotCreationFailed',
      initialContents: [content('1-10')],
      expectedContents: [
        content('1-10', {
          status: { readyToUse: false, error: { message: 'Failed to create snapshot: failed to take snapshot of the volume volume-handle-1-10: "rpc error: code = InvalidArgument desc = mock failure"' } },
        }),
      ],
      expectedCalls: [{ method: 'createSnapshot', request: createReq('1-10'), error: new CsiError(GrpcStatus.INVALID_ARGUMENT, 'mock failure') }],
      expectedEvents: [
        'Warning SnapshotCreationFailed Failed to create snapshot: failed to take snapshot of the volume volume-handle-1-10: "rpc error: code = InvalidArgument desc = mock failure"',
      ],
      expectedError: 'failed to take snapshot of the volume volume-handle-1-10: "rpc error: code = InvalidArgument desc = mock failure"',
    },
    ...(
      [
        [GrpcStatus.CANCELLED, 'Canceled'],
        [GrpcStatus.DEADLINE_EXCEEDED, 'DeadlineExceeded'],
        [GrpcStatus.UNAVAILABLE, 'Unavailable'],
        [GrpcStatus.RESOURCE_EXHAUSTED, 'ResourceExhausted'],
        [GrpcStatus.ABORTED, 'Aborted'],
      ] as const
    ).map(([code, name]): SidecarTest => {
      const message = `Failed to create snapshot: failed to take snapshot of the volume volume-handle-1-11: "rpc error: code = ${name} desc = in progress"`;
      return {
        name: `1-11: non-final CreateSnapshot error ${name}: being-created annotation kept, retried`,
        initialContents: [content('1-11')],
        expectedContents: [content('1-11', { annotations: { [BeingCreated]: 'yes' }, status: { readyToUse: false, error: { message } } })],
        expectedCalls: [{ method: 'createSnapshot', request: createReq('1-11'), error: new CsiError(code, 'in progress') }],
        expectedEvents: [`Warning SnapshotCreationFailed ${message}`],
        expectedError: /in progress/,
      };
    }),
    {
      name: '1-12: pre-provisioned content verified with ListSnapshots',
      initialContents: [newContent('content1-12', { snapshotName: 'snap1-12', snapshotHandle: 'sid1-12', finalizers: [ContentF] })],
      expectedContents: [newContent('content1-12', { snapshotName: 'snap1-12', snapshotHandle: 'sid1-12', finalizers: [ContentF], status: readyStatus('sid1-12') })],
      expectedCalls: [{ method: 'listSnapshots', request: { snapshotId: 'sid1-12' }, response: [csiSnapshot('sid1-12')] }],
      expectedRequeue: false,
    },
    {
      name: '1-13: pre-provisioned snapshot missing on the storage system',
      initialContents: [newContent('content1-13', { snapshotName: 'snap1-13', snapshotHandle: 'sid1-13', finalizers: [ContentF] })],
      expectedContents: [
        newContent('content1-13', {
          snapshotName: 'snap1-13', snapshotHandle: 'sid1-13', finalizers: [ContentF],
          status: { readyToUse: false, error: { message: 'Failed to check and update snapshot content: failed to list snapshot for content content1-13: "can not find snapshot for snapshotID sid1-13"' } },
        }),
      ],
      expectedCalls: [{ method: 'listSnapshots', request: { snapshotId: 'sid1-13' }, response: [] }],
      expectedEvents: [
        'Warning SnapshotContentCheckandUpdateFailed Failed to check and update snapshot content: failed to list snapshot for content content1-13: "can not find snapshot for snapshotID sid1-13"',
      ],
      expectedError: /can not find snapshot for snapshotID sid1-13/,
    },
    {
      name: '1-15: pre-provisioned content with list secrets from its class',
      initialContents: [newContent('content1-15', { snapshotName: 'snap1-15', snapshotHandle: 'sid1-15', className: classWithSecret, finalizers: [ContentF] })],
      expectedCalls: [{ method: 'listSnapshots', request: { snapshotId: 'sid1-15', secrets: { foo: 'bar' } }, response: [csiSnapshot('sid1-15')] }],
      expectedRequeue: false,
    },
    {
      name: '1-16: extra-create-metadata passes the snapshot and content names',
      initialContents: [content('1-16')],
      expectedCalls: [
        {
          method: 'createSnapshot',
          request: createReq('1-16', {
            param1: 'value1',
            'csi.storage.k8s.io/volumesnapshot/name': 'snap1-16',
            'csi.storage.k8s.io/volumesnapshot/namespace': 'default',
            'csi.storage.k8s.io/volumesnapshotcontent/name': 'content1-16',
          }),
          response: csiSnapshot('sid1-16'),
        },
      ],
      extraCreateMetadata: true,
      expectedRequeue: false,
    },
    {
      name: '1-17: ready content: leftover being-created annotation removed, no CSI call',
      initialContents: [content('1-17', { annotations: { [BeingCreated]: 'yes' }, status: readyStatus('sid1-17') })],
      expectedContents: [content('1-17', { status: readyStatus('sid1-17') })],
      expectedRequeue: false,
    },
    {
      name: '1-18: status write fails after CreateSnapshot: annotation kept so deletion waits',
      initialContents: [content('1-18')],
      expectedContents: [content('1-18', { annotations: { [BeingCreated]: 'yes' } })],
      expectedCalls: [{ method: 'createSnapshot', request: createReq('1-18'), response: csiSnapshot('sid1-18') }],
      errors: [
        { verb: 'patchStatus', resource: 'volumesnapshotcontents', error: new Error('mock update error') },
        { verb: 'patchStatus', resource: 'volumesnapshotcontents', error: new Error('mock update error') },
      ],
      expectedEvents: [
        'Warning SnapshotCreationFailed Failed to create snapshot: error updating status for volume snapshot content content1-18: snapshot controller failed to update content1-18 on API server: mock update error',
      ],
      expectedError: /error updating status for volume snapshot content content1-18/,
    },
  ]);
});

describe('TestDeleteSync (sidecar snapshot_delete_test.go)', () => {
  const deleting = (n: string, o: Parameters<typeof newContent>[1] = {}) =>
    content(n, { annotations: { [BeingDeleted]: 'yes' }, deletionTimestamp: timeNowMeta, status: readyStatus(`sid${n}`), ...o });
  runSidecarTests([
    {
      name: '1-1 - successful delete with snapshot class that has empty secret parameter',
      initialContents: [deleting('1-1')],
      expectedContents: [],
      expectedCalls: [{ method: 'deleteSnapshot', request: { snapshotId: 'sid1-1' } }],
      expectedRequeue: false,
    },
    {
      name: '1-2 - successful delete with snapshot class that has valid secret parameter',
      initialContents: [deleting('1-2', { className: classWithSecret, annotations: { [BeingDeleted]: 'yes', ...secretAnnotations } })],
      expectedContents: [],
      expectedCalls: [{ method: 'deleteSnapshot', request: { snapshotId: 'sid1-2', secrets: { foo: 'bar' } } }],
    },
    {
      name: '1-5 - csi driver delete snapshot returns error',
      initialContents: [deleting('1-5')],
      expectedContents: [deleting('1-5')],
      expectedCalls: [{ method: 'deleteSnapshot', request: { snapshotId: 'sid1-5' }, error: new CsiError(GrpcStatus.INTERNAL, 'mock delete error') }],
      expectedEvents: ['Warning SnapshotDeleteError Failed to delete snapshot'],
      expectedError: 'failed to delete snapshot "content1-5", err: failed to delete snapshot content content1-5: "rpc error: code = Internal desc = mock delete error"',
    },
    {
      name: '1-6 - status cannot be cleared after DeleteSnapshot: finalizer kept',
      initialContents: [deleting('1-6')],
      expectedContents: [deleting('1-6')],
      expectedCalls: [{ method: 'deleteSnapshot', request: { snapshotId: 'sid1-6' } }],
      errors: [{ verb: 'patchStatus', resource: 'volumesnapshotcontents', error: new Error('mock update error') }],
      expectedEvents: ['Warning SnapshotDeleteError Failed to clear content status'],
      expectedError: 'snapshot controller failed to update content1-6 on API server: mock update error',
    },
    {
      name: '1-10 - will not delete content with retain policy',
      initialContents: [deleting('1-10', { deletionPolicy: 'Retain' })],
      expectedContents: [],
    },
    {
      name: '1-11 - no volumesnapshot-being-deleted annotation: backend snapshot kept',
      initialContents: [content('1-11', { deletionTimestamp: timeNowMeta, status: readyStatus('sid1-11') })],
      expectedContents: [content('1-11', { deletionTimestamp: timeNowMeta, status: readyStatus('sid1-11') })],
      expectedRequeue: false,
    },
    {
      name: '1-12 - unbound pre-provisioned content with Delete policy is deleted',
      initialContents: [
        newContent('content1-12', { snapshotName: 'snap1-12', snapshotHandle: 'sid1-12', finalizers: [ContentF], deletionTimestamp: timeNowMeta, status: readyStatus('sid1-12') }),
      ],
      expectedContents: [],
      expectedCalls: [{ method: 'deleteSnapshot', request: { snapshotId: 'sid1-12' } }],
    },
    {
      name: '1-13 - content being deleted while CreateSnapshot may run: creation finishes first',
      initialContents: [
        content('1-13', { annotations: { [BeingDeleted]: 'yes', [BeingCreated]: 'yes' }, deletionTimestamp: timeNowMeta }),
      ],
      expectedContents: [content('1-13', { annotations: { [BeingDeleted]: 'yes' }, deletionTimestamp: timeNowMeta, status: readyStatus('sid1-13') })],
      expectedCalls: [{ method: 'createSnapshot', request: createReq('1-13'), response: csiSnapshot('sid1-13') }],
      expectedRequeue: false,
    },
  ]);
});

describe('TestSyncContent without LIST_SNAPSHOTS', () => {
  it('1-14: driver without LIST_SNAPSHOTS: pre-provisioned snapshot assumed ready, creationTime now', async () => {
    const cluster = new FakeCluster({ contents: [newContent('content1-14', { snapshotName: 'snap1-14', snapshotHandle: 'sid1-14', finalizers: [ContentF] })], classes: snapshotClasses });
    const before = Date.now() * 1e6;
    const requeue = await newSidecar(cluster, new FakeCsi([]), { listSnapshotsSupported: false }).syncContent(cluster.get('volumesnapshotcontents', 'content1-14')!);
    assert.equal(requeue, false);
    const status = cluster.get<VolumeSnapshotContent>('volumesnapshotcontents', 'content1-14')!.status!;
    assert.deepEqual({ ...status, creationTime: 0 }, { snapshotHandle: 'sid1-14', readyToUse: true, creationTime: 0 });
    assert.ok(status.creationTime! >= before && status.creationTime! <= Date.now() * 1e6);
  });
});

describe('crash and retry idempotency', () => {
  async function syncUntilStable(cluster: FakeCluster, ctrl: SnapshotterSyncLogic, name: string): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const c = cluster.get<VolumeSnapshotContent>('volumesnapshotcontents', name);
      if (!c) return;
      try {
        if (!(await ctrl.syncContent(c))) return;
      } catch {
        // requeued with backoff in the real controller
      }
    }
    assert.fail('did not converge');
  }

  it('content with being-created annotation and no status after a restart converges to exactly one backend snapshot', async () => {
    const driver = new BackendDriver();
    // Before the crash: the annotation was written and CreateSnapshot cut the snapshot, but its answer was lost.
    driver.snapshots.set('snapshot-snapuid-crash', { snapshotId: 'id-crash', sourceVolumeId: 'volume-handle-crash', creationTimeNs: timeNowStamp, sizeBytes: 1 << 30, readyToUse: true });
    const cluster = new FakeCluster({ contents: [content('-crash', { annotations: { [BeingCreated]: 'yes' } })], classes: snapshotClasses });
    await syncUntilStable(cluster, newSidecar(cluster, driver), 'content-crash');
    assert.equal(driver.snapshots.size, 1);
    const c = cluster.get<VolumeSnapshotContent>('volumesnapshotcontents', 'content-crash')!;
    assert.deepEqual(c.status, { snapshotHandle: 'id-crash', readyToUse: true, creationTime: timeNowStamp, restoreSize: 1 << 30 });
    assert.equal(c.metadata.annotations?.[BeingCreated], undefined);
  });

  it('a timed-out CreateSnapshot is retried under the same name: one backend snapshot, then deleted without a leak', async () => {
    const driver = new BackendDriver();
    driver.failAfterCut = [new CsiError(GrpcStatus.DEADLINE_EXCEEDED, 'context deadline exceeded')];
    const cluster = new FakeCluster({ contents: [content('-retry')], classes: snapshotClasses });
    const ctrl = newSidecar(cluster, driver);
    await syncUntilStable(cluster, ctrl, 'content-retry');
    assert.equal(driver.createCalls, 2);
    assert.equal(driver.snapshots.size, 1);
    const ready = cluster.get<VolumeSnapshotContent>('volumesnapshotcontents', 'content-retry')!;
    assert.equal(ready.status?.readyToUse, true);
    assert.equal(ready.status?.error, undefined);

    await cluster.apiPatch('volumesnapshotcontents', 'content-retry', { metadata: { annotations: { [BeingDeleted]: 'yes' } } });
    await cluster.apiDelete('volumesnapshotcontents', 'content-retry');
    await syncUntilStable(cluster, ctrl, 'content-retry');
    assert.equal(driver.snapshots.size, 0);
    assert.equal(cluster.get('volumesnapshotcontents', 'content-retry'), undefined);
  });
});

describe('helpers', () => {
  it('isDriverMatch: only contents of this driver with a source', () => {
    const cluster = new FakeCluster({ classes: snapshotClasses });
    const ctrl = newSidecar(cluster, new FakeCsi([]));
    assert.equal(ctrl.isDriverMatch(content('a')), true);
    assert.equal(ctrl.isDriverMatch(content('b', { driver: 'other.csi.example.com' })), false);
    assert.equal(ctrl.isDriverMatch(content('c', { className: 'other' })), false);
    assert.equal(ctrl.isDriverMatch(content('d', { volumeHandle: undefined })), false);
  });

  it('isCsiFinalError: the five in-progress codes and non-gRPC errors are not final', () => {
    for (const code of [GrpcStatus.CANCELLED, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.UNAVAILABLE, GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.ABORTED]) {
      assert.equal(isCsiFinalError(new CsiError(code, 'x')), false);
    }
    for (const code of [GrpcStatus.INVALID_ARGUMENT, GrpcStatus.ALREADY_EXISTS, GrpcStatus.INTERNAL, GrpcStatus.NOT_FOUND]) {
      assert.equal(isCsiFinalError(new CsiError(code, 'x')), true);
    }
    assert.equal(isCsiFinalError(new Error('not grpc')), false);
  });

  it('shouldEnqueueContentChange ignores status, finalizers and the being-created annotation', () => {
    const base = content('e');
    assert.equal(shouldEnqueueContentChange(base, { ...base, status: readyStatus('x') }), false);
    assert.equal(shouldEnqueueContentChange(base, { ...base, metadata: { ...base.metadata, resourceVersion: '9', finalizers: [], annotations: { [BeingCreated]: 'yes' } } }), false);
    assert.equal(shouldEnqueueContentChange(base, { ...base, metadata: { ...base.metadata, annotations: { [BeingDeleted]: 'yes' } } }), true);
    assert.equal(shouldEnqueueContentChange(base, { ...base, metadata: { ...base.metadata, deletionTimestamp: timeNowMeta } }), true);
  });
});
