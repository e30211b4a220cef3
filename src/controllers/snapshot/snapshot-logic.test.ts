// Table tests of the common snapshot controller in the shape of external-snapshotter's pkg/common-controller tests
// (snapshot_create_test.go, snapshot_update_test.go, snapshot_delete_test.go, snapshotclass_test.go,
// snapshot_finalizer_test.go): initial objects -> one sync -> expected objects and events, with injected API errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from '../../api/types.ts';
import { Registry } from 'prom-client';
import { SnapshotOperationMetrics } from './metrics.ts';
import { SnapshotSyncLogic } from './snapshot-logic.ts';
import {
  FakeCluster,
  type ReactorError,
  apiError,
  classGold,
  classNonExisting,
  defaultSize,
  mockDriverName,
  newClaim,
  newContent,
  newSnapshot,
  newSnapshotClass,
  newVolume,
  normalize,
  testNamespace,
  timeNowMeta,
  timeNowStamp,
} from './testing.ts';
import {
  AnnDeletionSecretRefName,
  AnnDeletionSecretRefNamespace,
  AnnVolumeSnapshotBeingDeleted,
  PVCAsSourceFinalizer,
  VolumeSnapshotAsSourceFinalizer as SourceF,
  VolumeSnapshotBoundFinalizer as BoundF,
  VolumeSnapshotContentFinalizer as ContentF,
} from './utils.ts';

type TestCall = 'syncSnapshot' | 'syncSnapshotByKey' | 'syncContent';

interface ControllerTest {
  name: string;
  initialSnapshots?: VolumeSnapshot[];
  expectedSnapshots?: VolumeSnapshot[];
  initialContents?: VolumeSnapshotContent[];
  expectedContents?: VolumeSnapshotContent[];
  initialClaims?: PersistentVolumeClaim[];
  /** Defaults to initialClaims. */
  expectedClaims?: PersistentVolumeClaim[];
  initialVolumes?: PersistentVolume[];
  classes?: VolumeSnapshotClass[];
  /** "Type Reason message", in order; no other events. */
  expectedEvents?: string[];
  errors?: ReactorError[];
  /** Error message the sync must fail with (undefined: must succeed). */
  expectedError?: string | RegExp;
  /** Keys the sync must queue for a snapshot resync. */
  expectedEnqueued?: string[];
  /** Writes that must not happen (prefixes of "verb resource name"). */
  forbiddenActions?: string[];
  test: TestCall;
}

const secretClass = 'valid-secret-class';
const snapshotClasses: VolumeSnapshotClass[] = [
  newSnapshotClass(classGold, 'Delete'),
  newSnapshotClass('silver', 'Retain'),
  newSnapshotClass('other-driver-class', 'Delete', { driver: 'other.csi.example.com' }),
  newSnapshotClass(secretClass, 'Delete', {
    parameters: {
      'csi.storage.k8s.io/snapshotter-secret-name': 'secret',
      'csi.storage.k8s.io/snapshotter-secret-namespace': '${volumesnapshot.namespace}',
      param: 'value',
    },
  }),
];

function claim(n: string, o: Parameters<typeof newClaim>[4] = {}): PersistentVolumeClaim {
  return newClaim(`claim${n}`, `pvc-uid${n}`, `volume${n}`, 'Bound', o);
}
function volume(n: string, o: Parameters<typeof newVolume>[5] = {}): PersistentVolume {
  return newVolume(`volume${n}`, `pv-uid${n}`, `pv-handle${n}`, `pvc-uid${n}`, `claim${n}`, o);
}
/** The content the controller creates for snapshot snap<n> of claim<n> (no status). */
function dynamicContent(n: string, o: Parameters<typeof newContent>[1] = {}): VolumeSnapshotContent {
  return newContent(`snapcontent-snapuid${n}`, {
    snapshotName: `snap${n}`,
    snapshotUid: `snapuid${n}`,
    volumeHandle: `pv-handle${n}`,
    className: classGold,
    sourceVolumeMode: 'Filesystem',
    ...o,
  });
}
const readyStatus = { snapshotHandle: 'sid', readyToUse: true, creationTime: timeNowStamp, restoreSize: defaultSize };

async function runSyncTest(t: ControllerTest): Promise<FakeCluster> {
  const cluster = new FakeCluster({
    snapshots: t.initialSnapshots,
    contents: t.initialContents,
    claims: t.initialClaims,
    volumes: t.initialVolumes,
    classes: t.classes ?? snapshotClasses,
    errors: t.errors,
  });
  const ctrl = new SnapshotSyncLogic({
    listers: cluster.snapshotListers(),
    api: cluster.snapshotApi(),
    recorder: cluster.recorder(),
    enqueueSnapshot: (key) => cluster.enqueued.push(key),
  });
  let sync: Promise<void>;
  if (t.test === 'syncContent') sync = ctrl.syncContent(t.initialContents![0]!);
  else if (t.test === 'syncSnapshot') sync = ctrl.syncSnapshot(t.initialSnapshots![0]!);
  else sync = ctrl.syncSnapshotByKey(testNamespace, t.initialSnapshots![0]!.metadata.name!);
  if (t.expectedError === undefined) await sync;
  else await assert.rejects(sync, (err: Error) => (typeof t.expectedError === 'string' ? err.message === t.expectedError : t.expectedError!.test(err.message)));

  if (t.expectedSnapshots) assert.deepEqual(cluster.list<VolumeSnapshot>('volumesnapshots').map(normalize), t.expectedSnapshots.map(normalize), 'snapshots');
  if (t.expectedContents) assert.deepEqual(cluster.list<VolumeSnapshotContent>('volumesnapshotcontents').map(normalize), t.expectedContents.map(normalize), 'contents');
  const expectedClaims = t.expectedClaims ?? t.initialClaims;
  if (expectedClaims) assert.deepEqual(cluster.list<PersistentVolumeClaim>('persistentvolumeclaims').map(normalize), expectedClaims.map(normalize), 'claims');
  assert.deepEqual(cluster.events, t.expectedEvents ?? [], 'events');
  if (t.expectedEnqueued) assert.deepEqual(cluster.enqueued, t.expectedEnqueued, 'enqueued');
  for (const prefix of t.forbiddenActions ?? []) {
    assert.equal(cluster.actions.find((a) => a.startsWith(prefix)), undefined, `unexpected write ${prefix}`);
  }
  return cluster;
}

function runSyncTests(tests: ControllerTest[]): void {
  for (const t of tests) {
    it(t.name, async () => {
      await runSyncTest(t);
    });
  }
}

describe('TestCreateSnapshotSync', () => {
  runSyncTests([
    {
      name: '6-1 - successful create snapshot with snapshot class gold',
      initialSnapshots: [newSnapshot('snap6-1', 'snapuid6-1', { claimName: 'claim6-1', className: classGold, withoutStatus: true })],
      expectedSnapshots: [
        newSnapshot('snap6-1', 'snapuid6-1', {
          claimName: 'claim6-1', className: classGold, boundContentName: 'snapcontent-snapuid6-1', readyToUse: false, finalizers: [SourceF],
        }),
      ],
      initialContents: [],
      expectedContents: [dynamicContent('6-1')],
      initialClaims: [claim('6-1')],
      expectedClaims: [claim('6-1', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('6-1')],
      expectedEvents: ['Normal CreatingSnapshot Waiting for a snapshot default/snap6-1 to be created by the CSI driver.'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '6-2 - successful create snapshot with validSecretClass and initial secret',
      initialSnapshots: [newSnapshot('snap6-2', 'snapuid6-2', { claimName: 'claim6-2', className: secretClass, withoutStatus: true })],
      expectedContents: [
        dynamicContent('6-2', {
          className: secretClass,
          annotations: { [AnnDeletionSecretRefName]: 'secret', [AnnDeletionSecretRefNamespace]: testNamespace },
        }),
      ],
      initialClaims: [claim('6-2')],
      expectedClaims: [claim('6-2', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('6-2')],
      expectedEvents: ['Normal CreatingSnapshot Waiting for a snapshot default/snap6-2 to be created by the CSI driver.'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '7-1 - fail to create snapshot with non-existing snapshot class',
      initialSnapshots: [newSnapshot('snap7-1', 'snapuid7-1', { claimName: 'claim7-1', className: classNonExisting, readyToUse: false, finalizers: [SourceF] })],
      expectedSnapshots: [
        newSnapshot('snap7-1', 'snapuid7-1', {
          claimName: 'claim7-1', className: classNonExisting, readyToUse: false, finalizers: [SourceF],
          error: 'Failed to create snapshot content with error failed to get input parameters to create snapshot snap7-1: "volumesnapshotclass.snapshot.storage.k8s.io \\"non-existing\\" not found"',
        }),
      ],
      expectedContents: [],
      initialClaims: [claim('7-1')],
      expectedClaims: [claim('7-1', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('7-1')],
      expectedEvents: [
        'Warning SnapshotContentCreationFailed Failed to create snapshot content with error failed to get input parameters to create snapshot snap7-1: "volumesnapshotclass.snapshot.storage.k8s.io \\"non-existing\\" not found"',
      ],
      expectedError: /non-existing/,
      test: 'syncSnapshot',
    },
    {
      name: '7-1b - non-existing snapshot class is reported before anything else (GetSnapshotClassFailed)',
      initialSnapshots: [newSnapshot('snap7-1', 'snapuid7-1', { claimName: 'claim7-1', className: classNonExisting, withoutStatus: true })],
      expectedSnapshots: [
        newSnapshot('snap7-1', 'snapuid7-1', {
          claimName: 'claim7-1', className: classNonExisting,
          error: 'Failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io "non-existing" not found',
        }),
      ],
      initialClaims: [claim('7-1')],
      initialVolumes: [volume('7-1')],
      expectedEvents: ['Warning GetSnapshotClassFailed Failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io "non-existing" not found'],
      expectedError: 'volumesnapshotclass.snapshot.storage.k8s.io "non-existing" not found',
      test: 'syncSnapshotByKey',
    },
    {
      name: '7-4 - fail create snapshot with no-existing claim',
      initialSnapshots: [newSnapshot('snap7-4', 'snapuid7-4', { claimName: 'claim7-4', className: classGold, readyToUse: false, finalizers: [SourceF] })],
      expectedSnapshots: [
        newSnapshot('snap7-4', 'snapuid7-4', {
          claimName: 'claim7-4', className: classGold, readyToUse: false, finalizers: [SourceF],
          error: 'Failed to create snapshot content with error snapshot controller failed to update snap7-4 on API server: cannot get claim from snapshot',
        }),
      ],
      expectedContents: [],
      initialVolumes: [volume('7-4')],
      expectedEvents: [
        'Warning SnapshotContentCreationFailed Failed to create snapshot content with error snapshot controller failed to update snap7-4 on API server: cannot get claim from snapshot',
      ],
      expectedError: 'snapshot controller failed to update snap7-4 on API server: cannot get claim from snapshot',
      test: 'syncSnapshotByKey',
    },
    {
      name: '7-5 - fail create snapshot with no-existing volume',
      initialSnapshots: [newSnapshot('snap7-5', 'snapuid7-5', { claimName: 'claim7-5', className: classGold, readyToUse: false, finalizers: [SourceF] })],
      expectedContents: [],
      initialClaims: [claim('7-5')],
      expectedClaims: [claim('7-5', { finalizers: [PVCAsSourceFinalizer] })],
      expectedEvents: [
        'Warning SnapshotContentCreationFailed Failed to create snapshot content with error failed to get input parameters to create snapshot snap7-5: "failed to retrieve PV volume7-5 from the API server: \\"persistentvolumes \\\\\\"volume7-5\\\\\\" not found\\""',
      ],
      expectedError: /failed to get input parameters/,
      test: 'syncSnapshotByKey',
    },
    {
      name: '7-6 - fail create snapshot with claim that is not yet bound',
      initialSnapshots: [newSnapshot('snap7-6', 'snapuid7-6', { claimName: 'claim7-6', className: classGold, readyToUse: false, finalizers: [SourceF] })],
      expectedContents: [],
      initialClaims: [newClaim('claim7-6', 'pvc-uid7-6', '', 'Pending')],
      expectedClaims: [newClaim('claim7-6', 'pvc-uid7-6', '', 'Pending', { finalizers: [PVCAsSourceFinalizer] })],
      expectedEvents: [
        'Warning SnapshotContentCreationFailed Failed to create snapshot content with error failed to get input parameters to create snapshot snap7-6: "the PVC claim7-6 is not yet bound to a PV, will not attempt to take a snapshot"',
      ],
      expectedError: /not yet bound/,
      test: 'syncSnapshotByKey',
    },
    {
      name: '7-11 - fail create snapshot due to cannot save snapshot content',
      initialSnapshots: [newSnapshot('snap7-11', 'snapuid7-11', { claimName: 'claim7-11', className: classGold, readyToUse: false, finalizers: [SourceF] })],
      expectedSnapshots: [
        newSnapshot('snap7-11', 'snapuid7-11', {
          claimName: 'claim7-11', className: classGold, readyToUse: false, finalizers: [SourceF],
          error: 'Failed to create snapshot content with error snapshot controller failed to update default/snap7-11 on API server: mock create error',
        }),
      ],
      expectedContents: [],
      initialClaims: [claim('7-11')],
      expectedClaims: [claim('7-11', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('7-11')],
      errors: [{ verb: 'create', resource: 'volumesnapshotcontents', error: new Error('mock create error') }],
      expectedEvents: [
        'Warning CreateSnapshotContentFailed Error creating volume snapshot content object for snapshot default/snap7-11: mock create error.',
        'Warning SnapshotContentCreationFailed Failed to create snapshot content with error snapshot controller failed to update default/snap7-11 on API server: mock create error',
      ],
      expectedError: 'snapshot controller failed to update default/snap7-11 on API server: mock create error',
      test: 'syncSnapshotByKey',
    },
    {
      name: '7-12 - content already exists (status write lost after create): reused, snapshot bound',
      initialSnapshots: [newSnapshot('snap7-12', 'snapuid7-12', { claimName: 'claim7-12', className: classGold, finalizers: [SourceF], withoutStatus: true })],
      initialContents: [dynamicContent('7-12', { finalizers: [ContentF] })],
      expectedContents: [dynamicContent('7-12', { finalizers: [ContentF] })],
      expectedSnapshots: [
        newSnapshot('snap7-12', 'snapuid7-12', {
          // The bound finalizer follows on the next sync, once the status names the content.
          claimName: 'claim7-12', className: classGold, finalizers: [SourceF], boundContentName: 'snapcontent-snapuid7-12', readyToUse: false,
        }),
      ],
      initialClaims: [claim('7-12', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('7-12')],
      forbiddenActions: ['create'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '7-13 - a class of another driver: the content names the class driver (only that driver\'s sidecar acts on it)',
      initialSnapshots: [newSnapshot('snap7-13', 'snapuid7-13', { claimName: 'claim7-13', className: 'other-driver-class', finalizers: [SourceF], withoutStatus: true })],
      expectedContents: [dynamicContent('7-13', { className: 'other-driver-class', driver: 'other.csi.example.com' })],
      initialClaims: [claim('7-13')],
      expectedClaims: [claim('7-13', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('7-13')],
      expectedEvents: ['Normal CreatingSnapshot Waiting for a snapshot default/snap7-13 to be created by the CSI driver.'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '7-14 - snapshotting a non-CSI volume with the default class fails',
      initialSnapshots: [newSnapshot('snap7-14', 'snapuid7-14', { claimName: 'claim7-14', withoutStatus: true })],
      initialClaims: [claim('7-14')],
      initialVolumes: [volume('7-14', { csi: false })],
      classes: [newSnapshotClass(classGold, 'Delete', { isDefault: true })],
      expectedEvents: ['Warning SetDefaultSnapshotClassFailed Failed to set default snapshot class with error snapshotting non-CSI volumes is not supported, snapshot:default/snap7-14'],
      expectedError: 'snapshotting non-CSI volumes is not supported, snapshot:default/snap7-14',
      test: 'syncSnapshotByKey',
    },
  ]);
});

describe('TestSnapshotClass (default class by the source PV driver)', () => {
  runSyncTests([
    {
      name: '1-1 - default class of the PV driver is set',
      initialSnapshots: [newSnapshot('snap1-1', 'snapuid1-1', { claimName: 'claim1-1', withoutStatus: true })],
      expectedSnapshots: [
        newSnapshot('snap1-1', 'snapuid1-1', {
          claimName: 'claim1-1', className: 'default-mock', boundContentName: 'snapcontent-snapuid1-1', readyToUse: false, finalizers: [SourceF],
        }),
      ],
      expectedContents: [dynamicContent('1-1', { className: 'default-mock' })],
      initialClaims: [claim('1-1')],
      expectedClaims: [claim('1-1', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('1-1')],
      classes: [
        newSnapshotClass('default-mock', 'Delete', { isDefault: true }),
        newSnapshotClass('default-other', 'Delete', { isDefault: true, driver: 'other.csi.example.com' }),
        newSnapshotClass('not-default-mock', 'Delete'),
      ],
      expectedEvents: ['Normal CreatingSnapshot Waiting for a snapshot default/snap1-1 to be created by the CSI driver.'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '1-2 - no default class for the PV driver',
      initialSnapshots: [newSnapshot('snap1-2', 'snapuid1-2', { claimName: 'claim1-2', withoutStatus: true })],
      expectedSnapshots: [
        newSnapshot('snap1-2', 'snapuid1-2', { claimName: 'claim1-2', error: 'Failed to set default snapshot class with error cannot find default snapshot class' }),
      ],
      expectedContents: [],
      initialClaims: [claim('1-2')],
      initialVolumes: [volume('1-2')],
      classes: [newSnapshotClass('default-other', 'Delete', { isDefault: true, driver: 'other.csi.example.com' })],
      expectedEvents: ['Warning SetDefaultSnapshotClassFailed Failed to set default snapshot class with error cannot find default snapshot class'],
      expectedError: 'cannot find default snapshot class',
      test: 'syncSnapshotByKey',
    },
    {
      name: '1-3 - two default classes for the PV driver',
      initialSnapshots: [newSnapshot('snap1-3', 'snapuid1-3', { claimName: 'claim1-3', withoutStatus: true })],
      expectedContents: [],
      initialClaims: [claim('1-3')],
      initialVolumes: [volume('1-3')],
      classes: [newSnapshotClass('default-a', 'Delete', { isDefault: true }), newSnapshotClass('default-b', 'Retain', { isDefault: true })],
      expectedEvents: ['Warning SetDefaultSnapshotClassFailed Failed to set default snapshot class with error 2 default snapshot classes were found'],
      expectedError: '2 default snapshot classes were found',
      test: 'syncSnapshotByKey',
    },
    {
      name: '1-4 - source PVC does not exist',
      initialSnapshots: [newSnapshot('snap1-4', 'snapuid1-4', { claimName: 'claim1-4', withoutStatus: true })],
      expectedContents: [],
      classes: [newSnapshotClass('default-mock', 'Delete', { isDefault: true })],
      expectedEvents: [
        'Warning SetDefaultSnapshotClassFailed Failed to set default snapshot class with error failed to retrieve PVC claim1-4 from the lister: "persistentvolumeclaim \\"claim1-4\\" not found"',
      ],
      expectedError: /failed to retrieve PVC claim1-4/,
      test: 'syncSnapshotByKey',
    },
  ]);
});

describe('TestUpdateSnapshotStatus (snapshot_update_test.go, ready)', () => {
  runSyncTests([
    {
      name: '2-0 - status copied from a ready content; PVC finalizer released once no snapshot of it is being cut',
      initialSnapshots: [
        newSnapshot('snap2-0', 'snapuid2-0', { claimName: 'claim2-0', className: classGold, boundContentName: 'snapcontent-snapuid2-0', readyToUse: false, finalizers: [SourceF, BoundF] }),
      ],
      expectedSnapshots: [
        newSnapshot('snap2-0', 'snapuid2-0', {
          claimName: 'claim2-0', className: classGold, boundContentName: 'snapcontent-snapuid2-0', readyToUse: true, finalizers: [SourceF, BoundF],
          creationTime: timeNowMeta, restoreSize: '1k',
        }),
      ],
      initialContents: [dynamicContent('2-0', { finalizers: [ContentF], status: readyStatus })],
      initialClaims: [claim('2-0', { finalizers: [PVCAsSourceFinalizer] })],
      // The ready status is written in this sync; the PVC is released on the sync its status update triggers.
      expectedClaims: [claim('2-0', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('2-0')],
      expectedEvents: [
        'Normal SnapshotCreated Snapshot default/snap2-0 was successfully created by the CSI driver.',
        'Normal SnapshotReady Snapshot default/snap2-0 is ready to use.',
      ],
      test: 'syncSnapshotByKey',
    },
    {
      name: '2-0b - ready snapshot: PVC finalizer removed, nothing else written',
      initialSnapshots: [
        newSnapshot('snap2-0', 'snapuid2-0', {
          claimName: 'claim2-0', className: classGold, boundContentName: 'snapcontent-snapuid2-0', readyToUse: true, finalizers: [SourceF, BoundF],
          creationTime: timeNowMeta, restoreSize: '1k',
        }),
      ],
      initialContents: [dynamicContent('2-0', { finalizers: [ContentF], status: readyStatus })],
      initialClaims: [claim('2-0', { finalizers: [PVCAsSourceFinalizer] })],
      expectedClaims: [claim('2-0')],
      initialVolumes: [volume('2-0')],
      forbiddenActions: ['patch volumesnapshots', 'patchStatus volumesnapshots', 'patch volumesnapshotcontents'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '2-0c - PVC finalizer kept while another snapshot of the PVC is not ready',
      initialSnapshots: [
        newSnapshot('snap2-0', 'snapuid2-0', {
          claimName: 'claim2-0', className: classGold, boundContentName: 'snapcontent-snapuid2-0', readyToUse: true, finalizers: [SourceF, BoundF],
          creationTime: timeNowMeta, restoreSize: '1k',
        }),
        newSnapshot('snap2-0x', 'snapuid2-0x', { claimName: 'claim2-0', className: classGold, readyToUse: false, finalizers: [SourceF] }),
      ],
      initialContents: [dynamicContent('2-0', { finalizers: [ContentF], status: readyStatus })],
      initialClaims: [claim('2-0', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('2-0')],
      forbiddenActions: ['patch persistentvolumeclaims'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '2-1 - snapshot is bound to a non-existing content',
      initialSnapshots: [
        newSnapshot('snap2-1', 'snapuid2-1', { claimName: 'claim2-1', className: classGold, boundContentName: 'content2-1', readyToUse: true, finalizers: [SourceF, BoundF] }),
      ],
      expectedSnapshots: [
        newSnapshot('snap2-1', 'snapuid2-1', {
          claimName: 'claim2-1', className: classGold, boundContentName: 'content2-1', readyToUse: false, finalizers: [SourceF, BoundF], error: 'VolumeSnapshotContent is missing',
        }),
      ],
      initialClaims: [claim('2-1')],
      initialVolumes: [volume('2-1')],
      expectedEvents: ['Warning SnapshotContentMissing VolumeSnapshotContent is missing'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '2-2 - ready snapshot whose bound content points at another snapshot: SnapshotMisbound',
      initialSnapshots: [
        newSnapshot('snap2-2', 'snapuid2-2', { claimName: 'claim2-2', className: classGold, boundContentName: 'content2-2', readyToUse: true, finalizers: [SourceF, BoundF] }),
      ],
      expectedSnapshots: [
        newSnapshot('snap2-2', 'snapuid2-2', {
          claimName: 'claim2-2', className: classGold, boundContentName: 'content2-2', readyToUse: false, finalizers: [SourceF, BoundF],
          error: 'VolumeSnapshotContent is not bound to the VolumeSnapshot correctly',
        }),
      ],
      initialContents: [newContent('content2-2', { snapshotName: 'snap2-2', snapshotUid: 'another-uid', volumeHandle: 'pv-handle2-2', className: classGold, finalizers: [ContentF] })],
      initialClaims: [claim('2-2')],
      initialVolumes: [volume('2-2')],
      expectedEvents: ['Warning SnapshotMisbound VolumeSnapshotContent is not bound to the VolumeSnapshot correctly'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '2-3 - content error is copied to the snapshot',
      initialSnapshots: [
        newSnapshot('snap2-3', 'snapuid2-3', { claimName: 'claim2-3', className: classGold, boundContentName: 'snapcontent-snapuid2-3', readyToUse: false, finalizers: [SourceF, BoundF] }),
      ],
      expectedSnapshots: [
        newSnapshot('snap2-3', 'snapuid2-3', {
          claimName: 'claim2-3', className: classGold, boundContentName: 'snapcontent-snapuid2-3', readyToUse: false, finalizers: [SourceF, BoundF],
          error: 'Failed to create snapshot: mock error',
        }),
      ],
      initialContents: [
        dynamicContent('2-3', { finalizers: [ContentF], status: { readyToUse: false, error: { time: timeNowMeta, message: 'Failed to create snapshot: mock error' } } }),
      ],
      initialClaims: [claim('2-3', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('2-3')],
      test: 'syncSnapshotByKey',
    },
    {
      name: '2-4 - status update failure is recorded (SnapshotStatusUpdateFailed) and retried',
      initialSnapshots: [
        newSnapshot('snap2-4', 'snapuid2-4', { claimName: 'claim2-4', className: classGold, boundContentName: 'snapcontent-snapuid2-4', readyToUse: false, finalizers: [SourceF, BoundF] }),
      ],
      initialContents: [dynamicContent('2-4', { finalizers: [ContentF], status: readyStatus })],
      initialClaims: [claim('2-4', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('2-4')],
      errors: [{ verb: 'patchStatus', resource: 'volumesnapshots', error: new Error('mock update error') }],
      expectedSnapshots: [
        newSnapshot('snap2-4', 'snapuid2-4', {
          claimName: 'claim2-4', className: classGold, boundContentName: 'snapcontent-snapuid2-4', readyToUse: false, finalizers: [SourceF, BoundF],
          error: 'Snapshot status update failed, snapshot controller failed to update default/snap2-4 on API server: mock update error',
        }),
      ],
      expectedEvents: [
        'Normal SnapshotCreated Snapshot default/snap2-4 was successfully created by the CSI driver.',
        'Normal SnapshotReady Snapshot default/snap2-4 is ready to use.',
        'Warning SnapshotStatusUpdateFailed Snapshot status update failed, snapshot controller failed to update default/snap2-4 on API server: mock update error',
      ],
      expectedError: 'snapshot controller failed to update default/snap2-4 on API server: mock update error',
      test: 'syncSnapshotByKey',
    },
  ]);
});

describe('TestStaticBinding (pre-provisioned)', () => {
  runSyncTests([
    {
      name: '3-1 - bind a pre-provisioned content: ref uid and class patched, status copied',
      initialSnapshots: [newSnapshot('snap3-1', 'snapuid3-1', { contentName: 'content3-1', className: classGold, withoutStatus: true })],
      expectedSnapshots: [
        newSnapshot('snap3-1', 'snapuid3-1', {
          contentName: 'content3-1', className: classGold, boundContentName: 'content3-1', readyToUse: true, creationTime: timeNowMeta, restoreSize: '1k', finalizers: [SourceF],
        }),
      ],
      initialContents: [newContent('content3-1', { snapshotName: 'snap3-1', snapshotHandle: 'sid3-1', finalizers: [ContentF], status: readyStatus })],
      expectedContents: [newContent('content3-1', { snapshotName: 'snap3-1', snapshotUid: 'snapuid3-1', snapshotHandle: 'sid3-1', className: classGold, finalizers: [ContentF], status: readyStatus })],
      expectedEvents: [
        'Normal SnapshotCreated Snapshot default/snap3-1 was successfully created by the CSI driver.',
        'Normal SnapshotReady Snapshot default/snap3-1 is ready to use.',
      ],
      test: 'syncSnapshotByKey',
    },
    {
      name: '3-2 - SnapshotContentMismatch: the named content is dynamically provisioned',
      initialSnapshots: [newSnapshot('snap3-2', 'snapuid3-2', { contentName: 'content3-2', className: classGold, withoutStatus: true })],
      expectedSnapshots: [
        newSnapshot('snap3-2', 'snapuid3-2', {
          contentName: 'content3-2', className: classGold, readyToUse: false,
          error: 'VolumeSnapshotContent is dynamically provisioned while expecting a pre-provisioned one',
        }),
      ],
      initialContents: [newContent('content3-2', { snapshotName: 'snap3-2', volumeHandle: 'pv-handle3-2' })],
      expectedEvents: [
        'Warning SnapshotContentMismatch VolumeSnapshotContent is dynamically provisioned while expecting a pre-provisioned one',
        'Warning SnapshotFinalizerError Failed to check and update snapshot: snapshot default/snap3-2 expects a pre-provisioned VolumeSnapshotContent content3-2 but gets a dynamically provisioned one',
      ],
      expectedError: 'snapshot default/snap3-2 expects a pre-provisioned VolumeSnapshotContent content3-2 but gets a dynamically provisioned one',
      test: 'syncSnapshotByKey',
    },
    {
      name: '3-3 - SnapshotContentMisbound: the named content points at another snapshot',
      initialSnapshots: [newSnapshot('snap3-3', 'snapuid3-3', { contentName: 'content3-3', className: classGold, withoutStatus: true })],
      initialContents: [newContent('content3-3', { snapshotName: 'another-snap', snapshotHandle: 'sid3-3' })],
      expectedContents: [newContent('content3-3', { snapshotName: 'another-snap', snapshotHandle: 'sid3-3' })],
      expectedEvents: [
        'Warning SnapshotContentMisbound VolumeSnapshotContent [content3-3] is bound to a different snapshot',
        'Warning SnapshotFinalizerError Failed to check and update snapshot: VolumeSnapshotContent [content3-3] is bound to a different snapshot',
      ],
      expectedError: 'VolumeSnapshotContent [content3-3] is bound to a different snapshot',
      test: 'syncSnapshotByKey',
    },
    {
      name: '3-4 - the named content does not exist',
      initialSnapshots: [newSnapshot('snap3-4', 'snapuid3-4', { contentName: 'content3-4', withoutStatus: true })],
      expectedSnapshots: [
        newSnapshot('snap3-4', 'snapuid3-4', { contentName: 'content3-4', readyToUse: false, finalizers: [SourceF], error: 'VolumeSnapshotContent is missing' }),
      ],
      expectedEvents: ['Warning SnapshotContentMissing VolumeSnapshotContent is missing'],
      expectedError: 'snapshot default/snap3-4 requests an non-existing content content3-4',
      test: 'syncSnapshotByKey',
    },
    {
      name: '3-5 - dynamic snapshot whose content name is taken by a pre-provisioned content',
      initialSnapshots: [newSnapshot('snap3-5', 'snapuid3-5', { claimName: 'claim3-5', className: classGold, withoutStatus: true })],
      initialContents: [newContent('snapcontent-snapuid3-5', { snapshotName: 'snap3-5', snapshotUid: 'snapuid3-5', snapshotHandle: 'sid3-5' })],
      initialClaims: [claim('3-5')],
      initialVolumes: [volume('3-5')],
      expectedEvents: [
        'Warning SnapshotContentMismatch VolumeSnapshotContent snapcontent-snapuid3-5 is pre-provisioned while expecting a dynamically provisioned one',
        'Warning SnapshotFinalizerError Failed to check and update snapshot: snapshot default/snap3-5 expects a dynamically provisioned VolumeSnapshotContent snapcontent-snapuid3-5 but gets a pre-provisioned one',
      ],
      expectedError: /expects a dynamically provisioned VolumeSnapshotContent/,
      test: 'syncSnapshotByKey',
    },
  ]);
});

describe('TestSyncContent', () => {
  runSyncTests([
    {
      name: '4-1 - bound content gets the content finalizer',
      initialContents: [dynamicContent('4-1')],
      expectedContents: [dynamicContent('4-1', { finalizers: [ContentF] })],
      test: 'syncContent',
    },
    {
      name: '4-2 - pre-bound content (no ref uid) is left to syncSnapshot',
      initialContents: [newContent('content4-2', { snapshotName: 'snap4-2', snapshotHandle: 'sid4-2' })],
      expectedContents: [newContent('content4-2', { snapshotName: 'snap4-2', snapshotHandle: 'sid4-2' })],
      forbiddenActions: ['patch'],
      test: 'syncContent',
    },
    {
      name: '4-3 - content with both sources: ContentValidationError',
      initialContents: [newContent('content4-3', { snapshotName: 'snap4-3', snapshotUid: 'u', snapshotHandle: 'sid', volumeHandle: 'vh' })],
      expectedEvents: ['Warning ContentValidationError Exactly one of VolumeHandle and SnapshotHandle should be specified'],
      expectedError: 'Exactly one of VolumeHandle and SnapshotHandle should be specified',
      test: 'syncContent',
    },
    {
      name: '4-4 - content status changed: snapshot queued for a status update',
      initialSnapshots: [newSnapshot('snap4-4', 'snapuid4-4', { claimName: 'claim4-4', className: classGold, boundContentName: 'snapcontent-snapuid4-4', readyToUse: false })],
      initialContents: [dynamicContent('4-4', { finalizers: [ContentF], status: readyStatus })],
      expectedEnqueued: ['default/snap4-4'],
      forbiddenActions: ['patch'],
      test: 'syncContent',
    },
    {
      name: '4-5 - snapshot being deleted: content annotated volumesnapshot-being-deleted',
      initialSnapshots: [
        newSnapshot('snap4-5', 'snapuid4-5', { claimName: 'claim4-5', className: classGold, boundContentName: 'snapcontent-snapuid4-5', readyToUse: true, finalizers: [SourceF, BoundF], deletionTimestamp: timeNowMeta }),
      ],
      initialContents: [dynamicContent('4-5', { finalizers: [ContentF], status: readyStatus })],
      expectedContents: [dynamicContent('4-5', { finalizers: [ContentF], status: readyStatus, annotations: { [AnnVolumeSnapshotBeingDeleted]: 'yes' } })],
      test: 'syncContent',
    },
    {
      name: '4-6 - snapshot missing: content is never deleted (it may have been copied from another cluster)',
      initialContents: [dynamicContent('4-6', { finalizers: [ContentF], status: readyStatus })],
      expectedContents: [dynamicContent('4-6', { finalizers: [ContentF], status: readyStatus })],
      forbiddenActions: ['patch', 'delete'],
      test: 'syncContent',
    },
  ]);
});

describe('TestDeleteSync (snapshot_delete_test.go)', () => {
  const deleting = (n: string, o: Parameters<typeof newSnapshot>[2] = {}) =>
    newSnapshot(`snap${n}`, `snapuid${n}`, {
      claimName: `claim${n}`, className: classGold, boundContentName: `snapcontent-snapuid${n}`, readyToUse: true, finalizers: [SourceF, BoundF],
      deletionTimestamp: timeNowMeta, creationTime: timeNowMeta, restoreSize: '1k', ...o,
    });
  runSyncTests([
    {
      name: '1-1 - content non-nil, DeletionTimestamp != nil, with finalizer, Delete policy: content deleted, bound finalizer kept',
      initialSnapshots: [deleting('1-1')],
      expectedSnapshots: [deleting('1-1', { finalizers: [BoundF] })],
      initialContents: [dynamicContent('1-1', { finalizers: [ContentF], status: readyStatus })],
      expectedContents: [
        dynamicContent('1-1', { finalizers: [ContentF], status: readyStatus, annotations: { [AnnVolumeSnapshotBeingDeleted]: 'yes' }, deletionTimestamp: timeNowMeta }),
      ],
      initialClaims: [claim('1-1')],
      initialVolumes: [volume('1-1')],
      test: 'syncSnapshotByKey',
    },
    {
      name: '1-2 - content gone: last finalizers removed, snapshot deleted',
      initialSnapshots: [deleting('1-2', { finalizers: [BoundF] })],
      expectedSnapshots: [],
      initialClaims: [claim('1-2')],
      initialVolumes: [volume('1-2')],
      test: 'syncSnapshotByKey',
    },
    {
      name: '1-3 - Retain policy: content annotated but kept, snapshot finalizers removed at once',
      initialSnapshots: [deleting('1-3', { className: 'silver' })],
      expectedSnapshots: [],
      initialContents: [dynamicContent('1-3', { className: 'silver', deletionPolicy: 'Retain', finalizers: [ContentF], status: readyStatus })],
      expectedContents: [
        dynamicContent('1-3', { className: 'silver', deletionPolicy: 'Retain', finalizers: [ContentF], status: readyStatus, annotations: { [AnnVolumeSnapshotBeingDeleted]: 'yes' } }),
      ],
      initialClaims: [claim('1-3')],
      initialVolumes: [volume('1-3')],
      forbiddenActions: ['delete'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '3-1 - SnapshotDeletePending: a Pending PVC restores from the snapshot',
      initialSnapshots: [deleting('3-1')],
      expectedSnapshots: [deleting('3-1')],
      initialContents: [dynamicContent('3-1', { finalizers: [ContentF], status: readyStatus })],
      expectedContents: [dynamicContent('3-1', { finalizers: [ContentF], status: readyStatus })],
      initialClaims: [claim('3-1'), newClaim('restore3-1', 'restore-uid', '', 'Pending', { dataSourceSnapshot: 'snap3-1' })],
      initialVolumes: [volume('3-1')],
      expectedEvents: ['Warning SnapshotDeletePending Snapshot is being used to restore a PVC'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '3-2 - a Bound PVC restored from the snapshot does not block deletion',
      initialSnapshots: [deleting('3-2', { className: 'silver' })],
      expectedSnapshots: [],
      initialContents: [dynamicContent('3-2', { className: 'silver', deletionPolicy: 'Retain', finalizers: [ContentF], status: readyStatus })],
      initialClaims: [claim('3-2'), newClaim('restore3-2', 'restore-uid', 'pv-restored', 'Bound', { dataSourceSnapshot: 'snap3-2' })],
      initialVolumes: [volume('3-2')],
      test: 'syncSnapshotByKey',
    },
    {
      name: '3-3 - deleting a snapshot still being cut releases the PVC finalizer',
      initialSnapshots: [
        newSnapshot('snap3-3', 'snapuid3-3', {
          claimName: 'claim3-3', className: classGold, boundContentName: 'snapcontent-snapuid3-3', readyToUse: false, finalizers: [SourceF, BoundF], deletionTimestamp: timeNowMeta,
        }),
      ],
      initialContents: [dynamicContent('3-3', { finalizers: [ContentF] })],
      initialClaims: [claim('3-3', { finalizers: [PVCAsSourceFinalizer] })],
      expectedClaims: [claim('3-3')],
      initialVolumes: [volume('3-3')],
      test: 'syncSnapshotByKey',
    },
    {
      name: '3-4 - content deletion fails: SnapshotContentObjectDeleteError',
      initialSnapshots: [deleting('3-4')],
      expectedSnapshots: [deleting('3-4')],
      initialContents: [dynamicContent('3-4', { finalizers: [ContentF], status: readyStatus })],
      initialClaims: [claim('3-4')],
      initialVolumes: [volume('3-4')],
      errors: [{ verb: 'delete', resource: 'volumesnapshotcontents', error: new Error('mock delete error') }],
      expectedEvents: ['Warning SnapshotContentObjectDeleteError Failed to delete snapshot content API object'],
      expectedError: 'failed to delete VolumeSnapshotContent snapcontent-snapuid3-4 from API server: "mock delete error"',
      test: 'syncSnapshotByKey',
    },
  ]);
});

describe('TestSnapshotFinalizer (conflicts and injected errors)', () => {
  runSyncTests([
    {
      name: '5-1 - finalizer write conflicts once: re-read and retried within the sync',
      initialSnapshots: [newSnapshot('snap5-1', 'snapuid5-1', { claimName: 'claim5-1', className: classGold, withoutStatus: true })],
      expectedSnapshots: [
        newSnapshot('snap5-1', 'snapuid5-1', { claimName: 'claim5-1', className: classGold, boundContentName: 'snapcontent-snapuid5-1', readyToUse: false, finalizers: [SourceF] }),
      ],
      expectedContents: [dynamicContent('5-1')],
      initialClaims: [claim('5-1')],
      expectedClaims: [claim('5-1', { finalizers: [PVCAsSourceFinalizer] })],
      initialVolumes: [volume('5-1')],
      errors: [{ verb: 'patch', resource: 'volumesnapshots', error: apiError(409, 'Conflict', 'the object has been modified') }],
      expectedEvents: ['Normal CreatingSnapshot Waiting for a snapshot default/snap5-1 to be created by the CSI driver.'],
      test: 'syncSnapshotByKey',
    },
    {
      name: '5-2 - finalizer write fails: SnapshotFinalizerError',
      initialSnapshots: [newSnapshot('snap5-2', 'snapuid5-2', { claimName: 'claim5-2', className: classGold, withoutStatus: true })],
      expectedContents: [],
      initialClaims: [claim('5-2')],
      initialVolumes: [volume('5-2')],
      errors: [{ verb: 'patch', resource: 'volumesnapshots', error: new Error('mock update error') }],
      expectedEvents: ['Warning SnapshotFinalizerError Failed to check and update snapshot: snapshot controller failed to update default/snap5-2 on API server: mock update error'],
      expectedError: 'snapshot controller failed to update default/snap5-2 on API server: mock update error',
      test: 'syncSnapshotByKey',
    },
    {
      name: '5-3 - PVC finalizer cannot be added: content not created',
      initialSnapshots: [newSnapshot('snap5-3', 'snapuid5-3', { claimName: 'claim5-3', className: classGold, finalizers: [SourceF], withoutStatus: true })],
      expectedContents: [],
      initialClaims: [claim('5-3')],
      initialVolumes: [volume('5-3')],
      errors: [{ verb: 'patch', resource: 'persistentvolumeclaims', error: new Error('mock update error') }],
      expectedEvents: ['Warning SnapshotContentCreationFailed Failed to create snapshot content with error snapshot controller failed to update claim5-3 on API server: mock update error'],
      expectedError: 'snapshot controller failed to update claim5-3 on API server: mock update error',
      test: 'syncSnapshotByKey',
    },
  ]);
});

describe('snapshot lifecycle across syncs', () => {
  it('create → ready → delete converges with Delete policy; metrics observed', async () => {
    const registry = new Registry();
    const cluster = new FakeCluster({
      snapshots: [newSnapshot('snap', 'snapuid', { claimName: 'claim', className: classGold, withoutStatus: true })],
      claims: [newClaim('claim', 'pvc-uid', 'volume', 'Bound')],
      volumes: [newVolume('volume', 'pv-uid', 'pv-handle', 'pvc-uid', 'claim')],
      classes: snapshotClasses,
    });
    const ctrl = new SnapshotSyncLogic({
      listers: cluster.snapshotListers(),
      api: cluster.snapshotApi(),
      recorder: cluster.recorder(),
      enqueueSnapshot: () => {},
      metrics: new SnapshotOperationMetrics(registry),
    });
    const syncAll = async () => {
      for (let i = 0; i < 3; i++) {
        for (const s of cluster.list<VolumeSnapshot>('volumesnapshots')) await ctrl.syncSnapshotByKey(s.metadata.namespace!, s.metadata.name!);
        for (const c of cluster.list<VolumeSnapshotContent>('volumesnapshotcontents')) await ctrl.syncContent(c);
      }
    };
    await syncAll();
    // The sidecar's part: status on the content.
    await cluster.apiPatch('volumesnapshotcontents', 'snapcontent-snapuid', { status: { snapshotHandle: 'sid', readyToUse: true, creationTime: timeNowStamp, restoreSize: 1073741824 } }, true);
    await syncAll();
    const ready = cluster.get<VolumeSnapshot>('volumesnapshots', 'default/snap')!;
    assert.equal(ready.status?.readyToUse, true);
    assert.equal(ready.status?.restoreSize, '1Gi');
    assert.deepEqual(ready.metadata.finalizers, [SourceF, BoundF]);
    assert.deepEqual(cluster.get<PersistentVolumeClaim>('persistentvolumeclaims', 'default/claim')!.metadata.finalizers, undefined);

    await cluster.apiDelete('volumesnapshots', 'default/snap');
    await syncAll();
    const content = cluster.get<VolumeSnapshotContent>('volumesnapshotcontents', 'snapcontent-snapuid')!;
    assert.ok(content.metadata.deletionTimestamp, 'content deleted');
    // The sidecar removes its finalizer once the backend snapshot is gone.
    await cluster.apiPatch('volumesnapshotcontents', 'snapcontent-snapuid', { metadata: { finalizers: null } });
    await syncAll();
    const snap = cluster.get<VolumeSnapshot>('volumesnapshots', 'default/snap');
    assert.equal(snap, undefined, 'snapshot gone');
    ctrl.snapshotDeleted(ready);

    const text = await registry.metrics();
    assert.match(text, /snapshot_controller_operation_total_seconds_count\{driver_name="csi-mock-plugin",operation_name="CreateSnapshot",snapshot_type="dynamic",operation_status="success"\} 1/);
    assert.match(text, /operation_name="CreateSnapshotAndReady",snapshot_type="dynamic",operation_status="success"\} 1/);
    assert.match(text, /operation_name="DeleteSnapshot",snapshot_type="dynamic",operation_status="success"\} 1/);
    assert.match(text, /snapshot_controller_operations_in_flight 0/);
    assert.ok(cluster.events.includes('Normal SnapshotReady Snapshot default/snap is ready to use.'));
    assert.equal(mockDriverName, content.spec.driver);
  });
});

describe('concurrent syncs of snapshots of one claim', () => {
  it('write pvc-as-source-protection once, without conflicts, while each claim write is still in flight', async () => {
    const names = ['snap9-1a', 'snap9-1b', 'snap9-1c'];
    const cluster = new FakeCluster({
      snapshots: names.map((n) => newSnapshot(n, `uid-${n}`, { claimName: 'claim9-1', className: classGold, withoutStatus: true })),
      claims: [claim('9-1')],
      volumes: [volume('9-1')],
      classes: snapshotClasses,
    });
    const api = cluster.snapshotApi();
    // A claim write lands a moment after it is sent, as over HTTP: every other sync runs in between.
    const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));
    const ctrl = new SnapshotSyncLogic({
      listers: cluster.snapshotListers(),
      api: { ...api, patchClaim: async (ns, name, p) => (await yieldOnce(), api.patchClaim(ns, name, p)) },
      recorder: cluster.recorder(),
      enqueueSnapshot: () => {},
    });
    await Promise.all(names.map((n) => ctrl.syncSnapshotByKey(testNamespace, n)));
    assert.deepEqual(cluster.actions.filter((a) => a.includes('persistentvolumeclaims')), ['patch persistentvolumeclaims default/claim9-1']);
    assert.deepEqual(cluster.get<PersistentVolumeClaim>('persistentvolumeclaims', 'default/claim9-1')!.metadata.finalizers, [PVCAsSourceFinalizer]);
    assert.deepEqual(cluster.list<VolumeSnapshotContent>('volumesnapshotcontents').map((c) => c.metadata.name), names.map((n) => `snapcontent-uid-${n}`));

    // All three ready: the syncs that find the claim unused remove the finalizer once.
    for (const n of names) await cluster.apiPatch('volumesnapshots', `default/${n}`, { status: { readyToUse: true } }, true);
    await Promise.all(names.map((n) => ctrl.syncSnapshotByKey(testNamespace, n)));
    assert.deepEqual(cluster.actions.filter((a) => a.includes('persistentvolumeclaims')), Array(2).fill('patch persistentvolumeclaims default/claim9-1'));
    assert.equal(cluster.get<PersistentVolumeClaim>('persistentvolumeclaims', 'default/claim9-1')!.metadata.finalizers, undefined);
  });
});
