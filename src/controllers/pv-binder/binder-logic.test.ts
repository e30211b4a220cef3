// Table tests of the PV binder, named and shaped after upstream's pkg/controller/volume/persistentvolume binder_test.go
// (TestSync, TestSyncBlockVolume, TestMultiSync) and provision_test.go (external provisioning cases): initial volumes
// and claims -> one syncClaim/syncVolume -> expected volumes, claims and events.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../api/types.ts';
import {
  AnnBetaStorageProvisioner,
  AnnBindCompleted,
  AnnBoundByController,
  AnnDynamicallyProvisioned,
  AnnIsDefaultStorageClass,
  AnnSelectedNode,
  AnnStorageProvisioner,
} from '../../api/well-known.ts';
import { PersistentVolumeBinder } from './binder-logic.ts';
import { BinderError } from './errors.ts';
import {
  ApiError,
  FakeCluster,
  type ReactorError,
  classEmpty,
  classExternal,
  classExternalWait,
  classGold,
  classSilver,
  classWait,
  newClaim,
  newVolume,
  normalize,
  storageClass,
  testNamespace,
  withClaimAnnotation,
  withExpectedCapacity,
  withLabelSelector,
  withLabels,
} from './testing.ts';

type TestCall = 'syncClaim' | 'syncVolume' | 'syncClaimError';

interface ControllerTest {
  name: string;
  initialVolumes: PersistentVolume[];
  expectedVolumes: PersistentVolume[];
  initialClaims: PersistentVolumeClaim[];
  expectedClaims: PersistentVolumeClaim[];
  /** "Type Reason" or "Type Reason message-prefix", in order; no other events may be emitted. */
  expectedEvents: string[];
  errors?: ReactorError[];
  test: TestCall;
  classes?: StorageClass[];
  pods?: Pod[];
  /** Claims present in the API server but not yet in the informer cache. */
  cacheMissing?: string[];
}

const labels = { foo: 'true', bar: 'false' };
const noevents: string[] = [];
const novolumes: PersistentVolume[] = [];
const noclaims: PersistentVolumeClaim[] = [];
const arr = <T>(x: T) => [x];
const volumeMode = <T extends PersistentVolume | PersistentVolumeClaim>(mode: 'Block' | 'Filesystem', objects: T[]): T[] => {
  for (const o of objects) o.spec.volumeMode = mode;
  return objects;
};
const claimAccessModes = (modes: PersistentVolumeClaim['spec']['accessModes'], claims: PersistentVolumeClaim[]) => {
  for (const claim of claims) claim.spec.accessModes = modes;
  return claims;
};
const waitClass = storageClass(classWait, 'kubernetes.io/no-provisioner', 'WaitForFirstConsumer');

async function runSyncTest(t: ControllerTest): Promise<FakeCluster> {
  const cluster = new FakeCluster({
    volumes: t.initialVolumes,
    claims: t.initialClaims,
    classes: t.classes ?? [waitClass],
    pods: t.pods,
    errors: t.errors,
  });
  for (const key of t.cacheMissing ?? []) cluster.cacheMissingClaims.add(key);
  const binder = new PersistentVolumeBinder(cluster.deps());
  if (t.test === 'syncVolume') {
    await binder.syncVolume(structuredClone(t.initialVolumes[0]));
  } else {
    const claim = structuredClone(t.initialClaims.at(-1)!);
    const run = binder.syncClaim(claim);
    if (t.test === 'syncClaimError') await assert.rejects(run, BinderError);
    else await run;
  }
  assert.deepEqual(normalize(cluster.volumes.values()), normalize(t.expectedVolumes), 'volumes');
  assert.deepEqual(normalize(cluster.claims.values()), normalize(t.expectedClaims), 'claims');
  assert.equal(cluster.events.length, t.expectedEvents.length, `events: ${JSON.stringify(cluster.events)}`);
  t.expectedEvents.forEach((expected, i) => assert.ok(cluster.events[i].startsWith(expected), `event ${i}: ${cluster.events[i]} does not start with ${expected}`));
  return cluster;
}

function runTable(tests: ControllerTest[]): void {
  for (const t of tests) it(t.name, async () => { await runSyncTest(t); });
}

describe('TestSync', () => {
  runTable([
    // [Unit test set 1] User did not care which PV they get.
    {
      name: '1-1 - successful bind',
      initialVolumes: arr(newVolume('volume1-1', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume1-1', '1Gi', 'uid1-1', 'claim1-1', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim1-1', 'uid1-1', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim1-1', 'uid1-1', '1Gi', 'volume1-1', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-2 - noop',
      initialVolumes: arr(newVolume('volume1-2', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume1-2', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim1-2', 'uid1-2', '10Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim1-2', 'uid1-2', '10Gi', '', 'Pending', undefined)),
      expectedEvents: ['Normal FailedBinding no persistent volumes available for this claim and no storage class is set'], test: 'syncClaim',
    },
    {
      name: '1-3 - reset to Pending',
      initialVolumes: arr(newVolume('volume1-3', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume1-3', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim1-3', 'uid1-3', '10Gi', '', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim1-3', 'uid1-3', '10Gi', '', 'Pending', undefined)),
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: '1-4 - smallest volume',
      initialVolumes: [newVolume('volume1-4_1', '10Gi', '', '', 'Available', 'Retain', classEmpty), newVolume('volume1-4_2', '1Gi', '', '', 'Available', 'Retain', classEmpty)],
      expectedVolumes: [newVolume('volume1-4_1', '10Gi', '', '', 'Available', 'Retain', classEmpty), newVolume('volume1-4_2', '1Gi', 'uid1-4', 'claim1-4', 'Bound', 'Retain', classEmpty, AnnBoundByController)],
      initialClaims: arr(newClaim('claim1-4', 'uid1-4', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim1-4', 'uid1-4', '1Gi', 'volume1-4_2', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-5 - prebound volume by name - success',
      initialVolumes: [newVolume('volume1-5_1', '10Gi', '', 'claim1-5', 'Available', 'Retain', classEmpty), newVolume('volume1-5_2', '1Gi', '', '', 'Available', 'Retain', classEmpty)],
      expectedVolumes: [newVolume('volume1-5_1', '10Gi', 'uid1-5', 'claim1-5', 'Bound', 'Retain', classEmpty), newVolume('volume1-5_2', '1Gi', '', '', 'Available', 'Retain', classEmpty)],
      initialClaims: arr(newClaim('claim1-5', 'uid1-5', '1Gi', '', 'Pending', undefined)),
      expectedClaims: withExpectedCapacity('10Gi', arr(newClaim('claim1-5', 'uid1-5', '1Gi', 'volume1-5_1', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-6 - prebound volume by UID - success',
      initialVolumes: [newVolume('volume1-6_1', '10Gi', 'uid1-6', 'claim1-6', 'Available', 'Retain', classEmpty), newVolume('volume1-6_2', '1Gi', '', '', 'Available', 'Retain', classEmpty)],
      expectedVolumes: [newVolume('volume1-6_1', '10Gi', 'uid1-6', 'claim1-6', 'Bound', 'Retain', classEmpty), newVolume('volume1-6_2', '1Gi', '', '', 'Available', 'Retain', classEmpty)],
      initialClaims: arr(newClaim('claim1-6', 'uid1-6', '1Gi', '', 'Pending', undefined)),
      expectedClaims: withExpectedCapacity('10Gi', arr(newClaim('claim1-6', 'uid1-6', '1Gi', 'volume1-6_1', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-7 - prebound volume to different claim',
      initialVolumes: arr(newVolume('volume1-7', '10Gi', 'uid1-777', 'claim1-7', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume1-7', '10Gi', 'uid1-777', 'claim1-7', 'Available', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim1-7', 'uid1-7', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim1-7', 'uid1-7', '1Gi', '', 'Pending', undefined)),
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: '1-8 - complete bind after crash - PV bound',
      initialVolumes: arr(newVolume('volume1-8', '1Gi', 'uid1-8', 'claim1-8', 'Available', 'Retain', classEmpty, AnnBoundByController)),
      expectedVolumes: arr(newVolume('volume1-8', '1Gi', 'uid1-8', 'claim1-8', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim1-8', 'uid1-8', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim1-8', 'uid1-8', '1Gi', 'volume1-8', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-9 - complete bind after crash - PV status saved',
      initialVolumes: arr(newVolume('volume1-9', '1Gi', 'uid1-9', 'claim1-9', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      expectedVolumes: arr(newVolume('volume1-9', '1Gi', 'uid1-9', 'claim1-9', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim1-9', 'uid1-9', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim1-9', 'uid1-9', '1Gi', 'volume1-9', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-10 - complete bind after crash - PVC bound',
      initialVolumes: arr(newVolume('volume1-10', '1Gi', 'uid1-10', 'claim1-10', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      expectedVolumes: arr(newVolume('volume1-10', '1Gi', 'uid1-10', 'claim1-10', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim1-10', 'uid1-10', '1Gi', 'volume1-10', 'Pending', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedClaims: arr(newClaim('claim1-10', 'uid1-10', '1Gi', 'volume1-10', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-11 - bind when selector matches',
      initialVolumes: withLabels(labels, arr(newVolume('volume1-1', '1Gi', '', '', 'Available', 'Retain', classEmpty))),
      expectedVolumes: withLabels(labels, arr(newVolume('volume1-1', '1Gi', 'uid1-1', 'claim1-1', 'Bound', 'Retain', classEmpty, AnnBoundByController))),
      initialClaims: withLabelSelector(labels, arr(newClaim('claim1-1', 'uid1-1', '1Gi', '', 'Pending', undefined))),
      expectedClaims: withLabelSelector(labels, arr(newClaim('claim1-1', 'uid1-1', '1Gi', 'volume1-1', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-12 - do not bind when selector does not match',
      initialVolumes: arr(newVolume('volume1-1', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume1-1', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      initialClaims: withLabelSelector(labels, arr(newClaim('claim1-1', 'uid1-1', '1Gi', '', 'Pending', undefined))),
      expectedClaims: withLabelSelector(labels, arr(newClaim('claim1-1', 'uid1-1', '1Gi', '', 'Pending', undefined))),
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: '1-13 - delayed binding',
      initialVolumes: arr(newVolume('volume1-1', '1Gi', '', '', 'Available', 'Retain', classWait)),
      expectedVolumes: arr(newVolume('volume1-1', '1Gi', '', '', 'Available', 'Retain', classWait)),
      initialClaims: arr(newClaim('claim1-1', 'uid1-1', '1Gi', '', 'Pending', classWait)),
      expectedClaims: arr(newClaim('claim1-1', 'uid1-1', '1Gi', '', 'Pending', classWait)),
      expectedEvents: ['Normal WaitForFirstConsumer waiting for first consumer to be created before binding'], test: 'syncClaim',
    },
    {
      name: '1-14 - successful prebound PV',
      initialVolumes: arr(newVolume('volume1-1', '1Gi', '', 'claim1-1', 'Available', 'Retain', classWait)),
      expectedVolumes: arr(newVolume('volume1-1', '1Gi', 'uid1-1', 'claim1-1', 'Bound', 'Retain', classWait)),
      initialClaims: arr(newClaim('claim1-1', 'uid1-1', '1Gi', '', 'Pending', classWait)),
      expectedClaims: arr(newClaim('claim1-1', 'uid1-1', '1Gi', 'volume1-1', 'Bound', classWait, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-15 - successful prebound PVC',
      initialVolumes: [newVolume('volume1-15_1', '10Gi', '', '', 'Available', 'Retain', classEmpty), newVolume('volume1-15_2', '1Gi', '', '', 'Available', 'Retain', classEmpty)],
      expectedVolumes: [newVolume('volume1-15_1', '10Gi', 'uid1-15', 'claim1-15', 'Bound', 'Retain', classEmpty, AnnBoundByController), newVolume('volume1-15_2', '1Gi', '', '', 'Available', 'Retain', classEmpty)],
      initialClaims: arr(newClaim('claim1-15', 'uid1-15', '1Gi', 'volume1-15_1', 'Pending', undefined)),
      expectedClaims: withExpectedCapacity('10Gi', arr(newClaim('claim1-15', 'uid1-15', '1Gi', 'volume1-15_1', 'Bound', undefined, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '1-16 - successful prebound PVC',
      initialVolumes: arr(newVolume('volume1-16', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume1-16', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      initialClaims: claimAccessModes(['ReadWriteMany'], arr(newClaim('claim1-16', 'uid1-16', '1Gi', 'volume1-16', 'Pending', undefined))),
      expectedClaims: claimAccessModes(['ReadWriteMany'], arr(newClaim('claim1-16', 'uid1-16', '1Gi', 'volume1-16', 'Pending', undefined))),
      expectedEvents: ['Warning VolumeMismatch Cannot bind to requested volume "volume1-16": incompatible accessMode'], test: 'syncClaim',
    },
    {
      name: "1-17 - skip non-available PV if it's not pre-bind",
      initialVolumes: [
        newVolume('volume1-17-pending', '1Gi', '', '', 'Pending', 'Retain', classEmpty),
        newVolume('volume1-17-failed', '1Gi', '', '', 'Failed', 'Retain', classEmpty),
        newVolume('volume1-17-released', '1Gi', '', '', 'Released', 'Retain', classEmpty),
        newVolume('volume1-17-empty', '1Gi', '', '', '', 'Retain', classEmpty),
      ],
      expectedVolumes: [
        newVolume('volume1-17-pending', '1Gi', '', '', 'Pending', 'Retain', classEmpty),
        newVolume('volume1-17-failed', '1Gi', '', '', 'Failed', 'Retain', classEmpty),
        newVolume('volume1-17-released', '1Gi', '', '', 'Released', 'Retain', classEmpty),
        newVolume('volume1-17-empty', '1Gi', '', '', '', 'Retain', classEmpty),
      ],
      initialClaims: arr(newClaim('claim1-17', 'uid1-17', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim1-17', 'uid1-17', '1Gi', '', 'Pending', undefined)),
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: '1-18 - successful pre-bound PV to PVC provisioning',
      initialVolumes: arr(newVolume('volume1-18', '1Gi', 'uid1-18', 'claim1-18', 'Available', 'Retain', classWait)),
      expectedVolumes: arr(newVolume('volume1-18', '1Gi', 'uid1-18', 'claim1-18', 'Bound', 'Retain', classWait)),
      initialClaims: withClaimAnnotation(AnnSelectedNode, 'node1', arr(newClaim('claim1-18', 'uid1-18', '1Gi', '', 'Pending', classWait))),
      expectedClaims: withClaimAnnotation(AnnSelectedNode, 'node1', arr(newClaim('claim1-18', 'uid1-18', '1Gi', 'volume1-18', 'Bound', classWait, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    // [Unit test set 2] User asked for a specific PV.
    {
      name: '2-1 - claim prebound to non-existing volume - noop',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim2-1', 'uid2-1', '10Gi', 'volume2-1', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim2-1', 'uid2-1', '10Gi', 'volume2-1', 'Pending', undefined)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '2-2 - claim prebound to non-existing volume - reset status',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim2-2', 'uid2-2', '10Gi', 'volume2-2', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim2-2', 'uid2-2', '10Gi', 'volume2-2', 'Pending', undefined)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '2-3 - claim prebound to unbound volume',
      initialVolumes: arr(newVolume('volume2-3', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume2-3', '1Gi', 'uid2-3', 'claim2-3', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim2-3', 'uid2-3', '1Gi', 'volume2-3', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim2-3', 'uid2-3', '1Gi', 'volume2-3', 'Bound', undefined, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '2-4 - claim prebound to prebound volume by name',
      initialVolumes: arr(newVolume('volume2-4', '1Gi', '', 'claim2-4', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume2-4', '1Gi', 'uid2-4', 'claim2-4', 'Bound', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim2-4', 'uid2-4', '1Gi', 'volume2-4', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim2-4', 'uid2-4', '1Gi', 'volume2-4', 'Bound', undefined, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '2-5 - claim prebound to prebound volume by UID',
      initialVolumes: arr(newVolume('volume2-5', '1Gi', 'uid2-5', 'claim2-5', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume2-5', '1Gi', 'uid2-5', 'claim2-5', 'Bound', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim2-5', 'uid2-5', '1Gi', 'volume2-5', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim2-5', 'uid2-5', '1Gi', 'volume2-5', 'Bound', undefined, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '2-6 - claim prebound to already bound volume',
      initialVolumes: arr(newVolume('volume2-6', '1Gi', 'uid2-6_1', 'claim2-6_1', 'Bound', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume2-6', '1Gi', 'uid2-6_1', 'claim2-6_1', 'Bound', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim2-6', 'uid2-6', '1Gi', 'volume2-6', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim2-6', 'uid2-6', '1Gi', 'volume2-6', 'Pending', undefined)),
      expectedEvents: ['Warning FailedBinding volume "volume2-6" already bound to a different claim.'], test: 'syncClaim',
    },
    {
      name: '2-7 - claim bound by controller to already bound volume',
      initialVolumes: arr(newVolume('volume2-7', '1Gi', 'uid2-7_1', 'claim2-7_1', 'Bound', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume2-7', '1Gi', 'uid2-7_1', 'claim2-7_1', 'Bound', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim2-7', 'uid2-7', '1Gi', 'volume2-7', 'Bound', undefined, AnnBoundByController)),
      expectedClaims: arr(newClaim('claim2-7', 'uid2-7', '1Gi', 'volume2-7', 'Bound', undefined, AnnBoundByController)),
      expectedEvents: ['Warning FailedBinding'], test: 'syncClaimError',
    },
    {
      name: '2-8 - claim prebound to unbound volume that does not match the selector',
      initialVolumes: arr(newVolume('volume2-8', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume2-8', '1Gi', 'uid2-8', 'claim2-8', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: withLabelSelector(labels, arr(newClaim('claim2-8', 'uid2-8', '1Gi', 'volume2-8', 'Pending', undefined))),
      expectedClaims: withLabelSelector(labels, arr(newClaim('claim2-8', 'uid2-8', '1Gi', 'volume2-8', 'Bound', undefined, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '2-9 - claim prebound to unbound volume that size is smaller than requested',
      initialVolumes: arr(newVolume('volume2-9', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume2-9', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim2-9', 'uid2-9', '2Gi', 'volume2-9', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim2-9', 'uid2-9', '2Gi', 'volume2-9', 'Pending', undefined)),
      expectedEvents: ['Warning VolumeMismatch Cannot bind to requested volume "volume2-9": requested PV is too small'], test: 'syncClaim',
    },
    {
      name: '2-10 - claim prebound to unbound volume that class is different',
      initialVolumes: arr(newVolume('volume2-10', '1Gi', '1', '', 'Available', 'Retain', classGold)),
      expectedVolumes: arr(newVolume('volume2-10', '1Gi', '', '', 'Available', 'Retain', classGold)),
      initialClaims: arr(newClaim('claim2-10', 'uid2-10', '1Gi', 'volume2-10', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim2-10', 'uid2-10', '1Gi', 'volume2-10', 'Pending', undefined)),
      expectedEvents: ['Warning VolumeMismatch Cannot bind to requested volume "volume2-10": storageClassName does not match'], test: 'syncClaim',
    },
    // [Unit test set 3] Syncing bound claim
    {
      name: '3-1 - bound claim with missing VolumeName',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim3-1', 'uid3-1', '10Gi', '', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedClaims: arr(newClaim('claim3-1', 'uid3-1', '10Gi', '', 'Lost', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: ['Warning ClaimLost Bound claim has lost reference to PersistentVolume. Data on the volume is lost!'], test: 'syncClaim',
    },
    {
      name: '3-2 - bound claim with missing volume',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim3-2', 'uid3-2', '10Gi', 'volume3-2', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedClaims: arr(newClaim('claim3-2', 'uid3-2', '10Gi', 'volume3-2', 'Lost', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: ['Warning ClaimLost Bound claim has lost its PersistentVolume. Data on the volume is lost!'], test: 'syncClaim',
    },
    {
      name: '3-3 - bound claim with unbound volume',
      initialVolumes: arr(newVolume('volume3-3', '10Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume3-3', '10Gi', 'uid3-3', 'claim3-3', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim3-3', 'uid3-3', '10Gi', 'volume3-3', 'Pending', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedClaims: arr(newClaim('claim3-3', 'uid3-3', '10Gi', 'volume3-3', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '3-4 - bound claim with prebound volume',
      initialVolumes: arr(newVolume('volume3-4', '10Gi', 'claim3-4-x', 'claim3-4', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume3-4', '10Gi', 'claim3-4-x', 'claim3-4', 'Available', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim3-4', 'uid3-4', '10Gi', 'volume3-4', 'Pending', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedClaims: arr(newClaim('claim3-4', 'uid3-4', '10Gi', 'volume3-4', 'Lost', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: ['Warning ClaimMisbound Two claims are bound to the same volume, this one is bound incorrectly'], test: 'syncClaim',
    },
    {
      name: '3-5 - bound claim with bound volume',
      initialVolumes: arr(newVolume('volume3-5', '10Gi', 'uid3-5', 'claim3-5', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume3-5', '10Gi', 'uid3-5', 'claim3-5', 'Bound', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim3-5', 'uid3-5', '10Gi', 'volume3-5', 'Pending', undefined, AnnBindCompleted)),
      expectedClaims: arr(newClaim('claim3-5', 'uid3-5', '10Gi', 'volume3-5', 'Bound', undefined, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '3-6 - bound claim with bound volume',
      initialVolumes: arr(newVolume('volume3-6', '10Gi', 'uid3-6-x', 'claim3-6-x', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume3-6', '10Gi', 'uid3-6-x', 'claim3-6-x', 'Available', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim3-6', 'uid3-6', '10Gi', 'volume3-6', 'Pending', undefined, AnnBindCompleted)),
      expectedClaims: arr(newClaim('claim3-6', 'uid3-6', '10Gi', 'volume3-6', 'Lost', undefined, AnnBindCompleted)),
      expectedEvents: ['Warning ClaimMisbound'], test: 'syncClaim',
    },
    {
      name: "3-7 - bound claim with unbound volume where selector doesn't match",
      initialVolumes: arr(newVolume('volume3-3', '10Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume3-3', '10Gi', 'uid3-3', 'claim3-3', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: withLabelSelector(labels, arr(newClaim('claim3-3', 'uid3-3', '10Gi', 'volume3-3', 'Pending', undefined, AnnBoundByController, AnnBindCompleted))),
      expectedClaims: withLabelSelector(labels, arr(newClaim('claim3-3', 'uid3-3', '10Gi', 'volume3-3', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    // [Unit test set 4] All syncVolume tests.
    {
      name: '4-1 - pending volume',
      initialVolumes: arr(newVolume('volume4-1', '10Gi', '', '', 'Pending', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-1', '10Gi', '', '', 'Available', 'Retain', classEmpty)),
      initialClaims: noclaims, expectedClaims: noclaims, expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-2 - pending prebound volume',
      initialVolumes: arr(newVolume('volume4-2', '10Gi', '', 'claim4-2', 'Pending', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-2', '10Gi', '', 'claim4-2', 'Available', 'Retain', classEmpty)),
      initialClaims: noclaims, expectedClaims: noclaims, expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-3 - bound volume with missing claim',
      initialVolumes: arr(newVolume('volume4-3', '10Gi', 'uid4-3', 'claim4-3', 'Bound', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-3', '10Gi', 'uid4-3', 'claim4-3', 'Released', 'Retain', classEmpty)),
      initialClaims: noclaims, expectedClaims: noclaims, expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-4 - volume bound to claim with different UID',
      initialVolumes: arr(newVolume('volume4-4', '10Gi', 'uid4-4', 'claim4-4', 'Bound', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-4', '10Gi', 'uid4-4', 'claim4-4', 'Released', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim4-4', 'uid4-4-x', '10Gi', 'volume4-4', 'Bound', undefined, AnnBindCompleted)),
      expectedClaims: arr(newClaim('claim4-4', 'uid4-4-x', '10Gi', 'volume4-4', 'Bound', undefined, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-5 - volume bound by controller to unbound claim',
      initialVolumes: arr(newVolume('volume4-5', '10Gi', 'uid4-5', 'claim4-5', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      expectedVolumes: arr(newVolume('volume4-5', '10Gi', 'uid4-5', 'claim4-5', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim4-5', 'uid4-5', '10Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim4-5', 'uid4-5', '10Gi', '', 'Pending', undefined)),
      expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-5 - volume bound by user to bound claim',
      initialVolumes: arr(newVolume('volume4-5', '10Gi', 'uid4-5', 'claim4-5', 'Bound', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-5', '10Gi', 'uid4-5', 'claim4-5', 'Bound', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim4-5', 'uid4-5', '10Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim4-5', 'uid4-5', '10Gi', '', 'Pending', undefined)),
      expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-6 - volume bound by to bound claim',
      initialVolumes: arr(newVolume('volume4-6', '10Gi', 'uid4-6', 'claim4-6', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-6', '10Gi', 'uid4-6', 'claim4-6', 'Bound', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim4-6', 'uid4-6', '10Gi', 'volume4-6', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim4-6', 'uid4-6', '10Gi', 'volume4-6', 'Bound', undefined)),
      expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-7 - volume bound by controller to claim bound somewhere else',
      initialVolumes: arr(newVolume('volume4-7', '10Gi', 'uid4-7', 'claim4-7', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      expectedVolumes: arr(newVolume('volume4-7', '10Gi', '', '', 'Available', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim4-7', 'uid4-7', '10Gi', 'volume4-7-x', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim4-7', 'uid4-7', '10Gi', 'volume4-7-x', 'Bound', undefined)),
      expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-8 - volume bound by user to claim bound somewhere else',
      initialVolumes: arr(newVolume('volume4-8', '10Gi', 'uid4-8', 'claim4-8', 'Bound', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-8', '10Gi', '', 'claim4-8', 'Available', 'Retain', classEmpty)),
      initialClaims: arr(newClaim('claim4-8', 'uid4-8', '10Gi', 'volume4-8-x', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim4-8', 'uid4-8', '10Gi', 'volume4-8-x', 'Bound', undefined)),
      expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: '4-9 - volume bound to bound claim, with PersistentVolumeReclaimDelete',
      initialVolumes: arr(newVolume('volume4-9', '10Gi', 'uid4-9', 'claim4-9', 'Available', 'Delete', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-9', '10Gi', 'uid4-9', 'claim4-9', 'Bound', 'Delete', classEmpty)),
      initialClaims: arr(newClaim('claim4-9', 'uid4-9', '10Gi', 'volume4-9', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim4-9', 'uid4-9', '10Gi', 'volume4-9', 'Bound', undefined)),
      expectedEvents: noevents, test: 'syncVolume',
    },
    {
      // Strata has no in-tree deleters, so a non-CSI volume with Delete fails as upstream's does without a plugin.
      name: '4-10 - volume bound to missing claim',
      initialVolumes: arr(newVolume('volume4-10', '10Gi', 'uid4-10', 'claim4-10', 'Available', 'Delete', classEmpty)),
      expectedVolumes: (() => {
        const volumes = arr(newVolume('volume4-10', '10Gi', 'uid4-10', 'claim4-10', 'Failed', 'Delete', classEmpty));
        volumes[0].status!.message = 'error getting deleter volume plugin for volume "volume4-10": no deletable volume plugin matched';
        return volumes;
      })(),
      initialClaims: noclaims, expectedClaims: noclaims,
      expectedEvents: ['Warning VolumeFailedDelete error getting deleter volume plugin for volume "volume4-10": no deletable volume plugin matched'], test: 'syncVolume',
    },
    {
      name: '4-11 - volume bound to unknown claim',
      initialVolumes: arr(newVolume('volume4-11', '10Gi', 'uid4-11', 'claim4-11', 'Available', 'Delete', classEmpty)),
      expectedVolumes: arr(newVolume('volume4-11', '10Gi', 'uid4-11', 'claim4-11', 'Bound', 'Delete', classEmpty)),
      initialClaims: arr(newClaim('claim4-11', 'uid4-11', '10Gi', 'volume4-11', 'Bound', undefined)),
      expectedClaims: arr(newClaim('claim4-11', 'uid4-11', '10Gi', 'volume4-11', 'Bound', undefined)),
      cacheMissing: [`${testNamespace}/claim4-11`],
      expectedEvents: noevents, test: 'syncVolume',
    },
    // PVC with class
    {
      name: '13-1 - binding to class',
      initialVolumes: [newVolume('volume13-1-1', '1Gi', '', '', 'Available', 'Retain', classEmpty), newVolume('volume13-1-2', '10Gi', '', '', 'Available', 'Retain', classGold)],
      expectedVolumes: [newVolume('volume13-1-1', '1Gi', '', '', 'Available', 'Retain', classEmpty), newVolume('volume13-1-2', '10Gi', 'uid13-1', 'claim13-1', 'Bound', 'Retain', classGold, AnnBoundByController)],
      initialClaims: arr(newClaim('claim13-1', 'uid13-1', '1Gi', '', 'Pending', classGold)),
      expectedClaims: withExpectedCapacity('10Gi', arr(newClaim('claim13-1', 'uid13-1', '1Gi', 'volume13-1-2', 'Bound', classGold, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '13-2 - binding without a class',
      initialVolumes: [newVolume('volume13-2-1', '1Gi', '', '', 'Available', 'Retain', classGold), newVolume('volume13-2-2', '10Gi', '', '', 'Available', 'Retain', classEmpty)],
      expectedVolumes: [newVolume('volume13-2-1', '1Gi', '', '', 'Available', 'Retain', classGold), newVolume('volume13-2-2', '10Gi', 'uid13-2', 'claim13-2', 'Bound', 'Retain', classEmpty, AnnBoundByController)],
      initialClaims: arr(newClaim('claim13-2', 'uid13-2', '1Gi', '', 'Pending', undefined)),
      expectedClaims: withExpectedCapacity('10Gi', arr(newClaim('claim13-2', 'uid13-2', '1Gi', 'volume13-2-2', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '13-3 - binding to specific a class',
      initialVolumes: [newVolume('volume13-3-1', '1Gi', '', '', 'Available', 'Retain', classSilver), newVolume('volume13-3-2', '10Gi', '', '', 'Available', 'Retain', classGold)],
      expectedVolumes: [newVolume('volume13-3-1', '1Gi', '', '', 'Available', 'Retain', classSilver), newVolume('volume13-3-2', '10Gi', 'uid13-3', 'claim13-3', 'Bound', 'Retain', classGold, AnnBoundByController)],
      initialClaims: arr(newClaim('claim13-3', 'uid13-3', '1Gi', '', 'Pending', classGold)),
      expectedClaims: withExpectedCapacity('10Gi', arr(newClaim('claim13-3', 'uid13-3', '1Gi', 'volume13-3-2', 'Bound', classGold, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '13-4 - empty class',
      initialVolumes: arr(newVolume('volume13-4', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume13-4', '1Gi', 'uid13-4', 'claim13-4', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim13-4', 'uid13-4', '1Gi', '', 'Pending', classEmpty)),
      expectedClaims: arr(newClaim('claim13-4', 'uid13-4', '1Gi', 'volume13-4', 'Bound', classEmpty, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '13-5 - nil class',
      initialVolumes: arr(newVolume('volume13-5', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      expectedVolumes: arr(newVolume('volume13-5', '1Gi', 'uid13-5', 'claim13-5', 'Bound', 'Retain', classEmpty, AnnBoundByController)),
      initialClaims: arr(newClaim('claim13-5', 'uid13-5', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim13-5', 'uid13-5', '1Gi', 'volume13-5', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
      expectedEvents: noevents, test: 'syncClaim',
    },
  ]);
});

describe('TestSyncBlockVolume', () => {
  runTable([
    {
      name: '14-1 - binding to volumeMode block',
      initialVolumes: volumeMode('Block', arr(newVolume('volume14-1', '10Gi', '', '', 'Available', 'Retain', classEmpty))),
      expectedVolumes: volumeMode('Block', arr(newVolume('volume14-1', '10Gi', 'uid14-1', 'claim14-1', 'Bound', 'Retain', classEmpty, AnnBoundByController))),
      initialClaims: volumeMode('Block', arr(newClaim('claim14-1', 'uid14-1', '10Gi', '', 'Pending', undefined))),
      expectedClaims: volumeMode('Block', arr(newClaim('claim14-1', 'uid14-1', '10Gi', 'volume14-1', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '14-3 - do not bind pv volumeMode filesystem and pvc volumeMode block',
      initialVolumes: volumeMode('Filesystem', arr(newVolume('volume14-3', '10Gi', '', '', 'Available', 'Retain', classEmpty))),
      expectedVolumes: volumeMode('Filesystem', arr(newVolume('volume14-3', '10Gi', '', '', 'Available', 'Retain', classEmpty))),
      initialClaims: volumeMode('Block', arr(newClaim('claim14-3', 'uid14-3', '10Gi', '', 'Pending', undefined))),
      expectedClaims: volumeMode('Block', arr(newClaim('claim14-3', 'uid14-3', '10Gi', '', 'Pending', undefined))),
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: '14-5 - do not bind when matching class but not volumeMode',
      initialVolumes: volumeMode('Filesystem', arr(newVolume('volume14-5', '10Gi', '', '', 'Available', 'Retain', classGold))),
      expectedVolumes: volumeMode('Filesystem', arr(newVolume('volume14-5', '10Gi', '', '', 'Available', 'Retain', classGold))),
      initialClaims: volumeMode('Block', arr(newClaim('claim14-5', 'uid14-5', '10Gi', '', 'Pending', classGold))),
      expectedClaims: volumeMode('Block', arr(newClaim('claim14-5', 'uid14-5', '10Gi', '', 'Pending', classGold))),
      classes: [],
      expectedEvents: ['Warning ProvisioningFailed storageclass.storage.k8s.io "gold" not found'], test: 'syncClaim',
    },
    {
      name: '14-5-2 - do not bind when pvc is prebound to pv with matching volumeModes but class does not match',
      initialVolumes: volumeMode('Filesystem', arr(newVolume('volume14-5-2', '10Gi', '', '', 'Available', 'Retain', classGold))),
      expectedVolumes: volumeMode('Filesystem', arr(newVolume('volume14-5-2', '10Gi', '', '', 'Available', 'Retain', classGold))),
      initialClaims: volumeMode('Filesystem', arr(newClaim('claim14-5-2', 'uid14-5-2', '10Gi', 'volume14-5-2', 'Pending', classSilver))),
      expectedClaims: volumeMode('Filesystem', arr(newClaim('claim14-5-2', 'uid14-5-2', '10Gi', 'volume14-5-2', 'Pending', classSilver))),
      expectedEvents: ['Warning VolumeMismatch'], test: 'syncClaim',
    },
    {
      name: '14-7 - bind when pv volume is prebound and volumeModes match',
      initialVolumes: volumeMode('Block', arr(newVolume('volume14-7', '10Gi', '', 'claim14-7', 'Available', 'Retain', classEmpty))),
      expectedVolumes: volumeMode('Block', arr(newVolume('volume14-7', '10Gi', 'uid14-7', 'claim14-7', 'Bound', 'Retain', classEmpty))),
      initialClaims: volumeMode('Block', arr(newClaim('claim14-7', 'uid14-7', '10Gi', '', 'Pending', undefined))),
      expectedClaims: volumeMode('Block', arr(newClaim('claim14-7', 'uid14-7', '10Gi', 'volume14-7', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))),
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '14-8 - do not bind when pvc is prebound to pv with mismatching volumeModes',
      initialVolumes: volumeMode('Block', arr(newVolume('volume14-8', '10Gi', '', '', 'Available', 'Retain', classEmpty))),
      expectedVolumes: volumeMode('Block', arr(newVolume('volume14-8', '10Gi', '', '', 'Available', 'Retain', classEmpty))),
      initialClaims: volumeMode('Filesystem', arr(newClaim('claim14-8', 'uid14-8', '10Gi', 'volume14-8', 'Pending', undefined))),
      expectedClaims: volumeMode('Filesystem', arr(newClaim('claim14-8', 'uid14-8', '10Gi', 'volume14-8', 'Pending', undefined))),
      expectedEvents: ['Warning VolumeMismatch Cannot bind to requested volume "volume14-8": incompatible volumeMode'], test: 'syncClaim',
    },
    {
      name: '14-8-1 - do not bind when pvc is prebound to pv with mismatching volumeModes',
      initialVolumes: volumeMode('Block', arr(newVolume('volume14-8-1', '10Gi', '', 'claim14-8-1', 'Available', 'Retain', classEmpty))),
      expectedVolumes: volumeMode('Block', arr(newVolume('volume14-8-1', '10Gi', '', 'claim14-8-1', 'Available', 'Retain', classEmpty))),
      initialClaims: volumeMode('Filesystem', arr(newClaim('claim14-8-1', 'uid14-8-1', '10Gi', '', 'Pending', undefined))),
      expectedClaims: volumeMode('Filesystem', arr(newClaim('claim14-8-1', 'uid14-8-1', '10Gi', '', 'Pending', undefined))),
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: '14-13 - output warning when pv is prebound to pvc with different volumeModes',
      initialVolumes: volumeMode('Filesystem', arr(newVolume('volume14-13', '10Gi', 'uid14-13', 'claim14-13', 'Available', 'Retain', classEmpty, AnnBoundByController))),
      expectedVolumes: volumeMode('Filesystem', arr(newVolume('volume14-13', '10Gi', 'uid14-13', 'claim14-13', 'Available', 'Retain', classEmpty, AnnBoundByController))),
      initialClaims: volumeMode('Block', arr(newClaim('claim14-13', 'uid14-13', '10Gi', '', 'Pending', undefined))),
      expectedClaims: volumeMode('Block', arr(newClaim('claim14-13', 'uid14-13', '10Gi', '', 'Pending', undefined))),
      expectedEvents: [
        'Warning VolumeMismatch Cannot bind PersistentVolume to requested PersistentVolumeClaim "claim14-13" due to incompatible volumeMode.',
        'Warning VolumeMismatch Cannot bind PersistentVolume "volume14-13" to requested PersistentVolumeClaim due to incompatible volumeMode.',
      ],
      test: 'syncVolume',
    },
    {
      name: '14-14 - wait for synClaim without warning when pv is prebound to pvc with matching volumeModes block',
      initialVolumes: volumeMode('Block', arr(newVolume('volume14-14', '10Gi', 'uid14-14', 'claim14-14', 'Available', 'Retain', classEmpty, AnnBoundByController))),
      expectedVolumes: volumeMode('Block', arr(newVolume('volume14-14', '10Gi', 'uid14-14', 'claim14-14', 'Available', 'Retain', classEmpty, AnnBoundByController))),
      initialClaims: volumeMode('Block', arr(newClaim('claim14-14', 'uid14-14', '10Gi', '', 'Pending', undefined))),
      expectedClaims: volumeMode('Block', arr(newClaim('claim14-14', 'uid14-14', '10Gi', '', 'Pending', undefined))),
      expectedEvents: noevents, test: 'syncVolume',
    },
  ]);
});

const externalClass = storageClass(classExternal, 'vendor.com/my-volume');
const externalWaitClass = storageClass(classExternalWait, 'vendor.com/my-volume-wait', 'WaitForFirstConsumer');
const unknownInternalClass = storageClass('unknown-internal', 'kubernetes.io/unknown');
const externalProvisioningMessage =
  "Normal ExternalProvisioning Waiting for a volume to be created either by the external provisioner 'vendor.com/my-volume' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.";

describe('TestProvisionSync (external provisioners)', () => {
  runTable([
    {
      name: '11-14 - fail due to non-existing class',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim11-14', 'uid11-14', '1Gi', '', 'Pending', 'non-existing')),
      expectedClaims: arr(newClaim('claim11-14', 'uid11-14', '1Gi', '', 'Pending', 'non-existing')),
      expectedEvents: ['Warning ProvisioningFailed storageclass.storage.k8s.io "non-existing" not found'], test: 'syncClaim',
    },
    {
      name: "11-15 - no provisioning with class=''",
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim11-15', 'uid11-15', '1Gi', '', 'Pending', classEmpty)),
      expectedClaims: arr(newClaim('claim11-15', 'uid11-15', '1Gi', '', 'Pending', classEmpty)),
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: '11-16 - no provisioning with class=nil',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim11-15', 'uid11-15', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim11-15', 'uid11-15', '1Gi', '', 'Pending', undefined)),
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: '11-17 - external provisioner',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim11-17', 'uid11-17', '1Gi', '', 'Pending', classExternal)),
      expectedClaims: withClaimAnnotation(AnnBetaStorageProvisioner, 'vendor.com/my-volume',
        withClaimAnnotation(AnnStorageProvisioner, 'vendor.com/my-volume', arr(newClaim('claim11-17', 'uid11-17', '1Gi', '', 'Pending', classExternal)))),
      classes: [externalClass],
      expectedEvents: [externalProvisioningMessage], test: 'syncClaim',
    },
    {
      name: '11-18 - unknown internal provisioner',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim11-18', 'uid11-18', '1Gi', '', 'Pending', 'unknown-internal')),
      expectedClaims: arr(newClaim('claim11-18', 'uid11-18', '1Gi', '', 'Pending', 'unknown-internal')),
      classes: [unknownInternalClass],
      expectedEvents: ['Warning ProvisioningFailed no volume plugin matched name: kubernetes.io/unknown'], test: 'syncClaim',
    },
    {
      name: '11-22 - external provisioner with volume available',
      initialVolumes: arr(newVolume('volume11-22', '1Gi', '', '', 'Available', 'Retain', classExternal)),
      expectedVolumes: arr(newVolume('volume11-22', '1Gi', 'uid11-22', 'claim11-22', 'Bound', 'Retain', classExternal, AnnBoundByController)),
      initialClaims: arr(newClaim('claim11-22', 'uid11-22', '1Gi', '', 'Pending', classExternal)),
      expectedClaims: arr(newClaim('claim11-22', 'uid11-22', '1Gi', 'volume11-22', 'Bound', classExternal, AnnBoundByController, AnnBindCompleted)),
      classes: [externalClass],
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: '11-24 - skip finding PV and wait external provisioner for PVC annotated with AnnSelectedNode',
      initialVolumes: arr(newVolume('volume11-24', '1Gi', '', '', 'Available', 'Delete', classExternalWait)),
      expectedVolumes: arr(newVolume('volume11-24', '1Gi', '', '', 'Available', 'Delete', classExternalWait)),
      initialClaims: withClaimAnnotation(AnnSelectedNode, 'node1', arr(newClaim('claim11-24', 'uid11-24', '1Gi', '', 'Pending', classExternalWait))),
      expectedClaims: withClaimAnnotation(AnnBetaStorageProvisioner, 'vendor.com/my-volume-wait',
        withClaimAnnotation(AnnStorageProvisioner, 'vendor.com/my-volume-wait',
          withClaimAnnotation(AnnSelectedNode, 'node1', arr(newClaim('claim11-24', 'uid11-24', '1Gi', '', 'Pending', classExternalWait))))),
      classes: [externalWaitClass],
      expectedEvents: ['Normal ExternalProvisioning'], test: 'syncClaim',
    },
  ]);
});

const pod = (name: string, claimName: string, nodeName?: string): Pod => ({
  metadata: { name, namespace: testNamespace, uid: `uid-${name}` },
  spec: { nodeName, containers: [{ name: 'c' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }] },
  status: { phase: 'Pending' },
});

describe('delayed binding, reclaim and default class (Strata cases)', () => {
  runTable([
    {
      name: 'WaitForPodScheduled - one unscheduled pod uses the claim',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim-w', 'uid-w', '1Gi', '', 'Pending', classWait)),
      expectedClaims: arr(newClaim('claim-w', 'uid-w', '1Gi', '', 'Pending', classWait)),
      pods: [pod('pod-a', 'claim-w'), pod('pod-done', 'claim-w', 'node1')],
      expectedEvents: ['Normal WaitForPodScheduled waiting for pod pod-a to be scheduled'], test: 'syncClaim',
    },
    {
      name: 'WaitForPodScheduled - several unscheduled pods',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim-w', 'uid-w', '1Gi', '', 'Pending', classWait)),
      expectedClaims: arr(newClaim('claim-w', 'uid-w', '1Gi', '', 'Pending', classWait)),
      pods: [pod('pod-a', 'claim-w'), pod('pod-b', 'claim-w')],
      expectedEvents: ['Normal WaitForPodScheduled waiting for pods pod-a,pod-b to be scheduled'], test: 'syncClaim',
    },
    {
      name: 'retroactive default StorageClass is assigned to a claim without class',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim-d', 'uid-d', '1Gi', '', 'Pending', undefined)),
      expectedClaims: arr(newClaim('claim-d', 'uid-d', '1Gi', '', 'Pending', 'fast')),
      classes: [
        { ...storageClass('old-default', 'csi.strata.io'), metadata: { name: 'old-default', creationTimestamp: '2020-01-01T00:00:00Z', annotations: { [AnnIsDefaultStorageClass]: 'true' } } },
        { ...storageClass('fast', 'csi.strata.io'), metadata: { name: 'fast', creationTimestamp: '2023-01-01T00:00:00Z', annotations: { [AnnIsDefaultStorageClass]: 'true' } } },
      ],
      expectedEvents: noevents, test: 'syncClaim',
    },
    {
      name: 'no default class for a claim that asked for class ""',
      initialVolumes: novolumes, expectedVolumes: novolumes,
      initialClaims: arr(newClaim('claim-e', 'uid-e', '1Gi', '', 'Pending', classEmpty)),
      expectedClaims: arr(newClaim('claim-e', 'uid-e', '1Gi', '', 'Pending', classEmpty)),
      classes: [{ ...storageClass('fast', 'csi.strata.io'), metadata: { name: 'fast', annotations: { [AnnIsDefaultStorageClass]: 'true' } } }],
      expectedEvents: ['Normal FailedBinding'], test: 'syncClaim',
    },
    {
      name: 'released CSI volume with Delete is left to the external provisioner',
      initialVolumes: arr({ ...newVolume('pvc-x', '1Gi', 'uid-x', 'claim-x', 'Bound', 'Delete', 'fast', AnnDynamicallyProvisioned) }),
      expectedVolumes: arr(newVolume('pvc-x', '1Gi', 'uid-x', 'claim-x', 'Released', 'Delete', 'fast', AnnDynamicallyProvisioned)),
      initialClaims: noclaims, expectedClaims: noclaims,
      expectedEvents: noevents, test: 'syncVolume',
    },
    {
      name: 'unknown reclaim policy fails the volume',
      initialVolumes: arr(newVolume('volume-u', '1Gi', 'uid-u', 'claim-u', 'Bound', 'Bogus' as 'Retain', classEmpty)),
      expectedVolumes: (() => {
        const volumes = arr(newVolume('volume-u', '1Gi', 'uid-u', 'claim-u', 'Failed', 'Bogus' as 'Retain', classEmpty));
        volumes[0].status!.message = 'Volume has unrecognized PersistentVolumeReclaimPolicy';
        return volumes;
      })(),
      initialClaims: noclaims, expectedClaims: noclaims,
      expectedEvents: ['Warning VolumeUnknownReclaimPolicy Volume has unrecognized PersistentVolumeReclaimPolicy'], test: 'syncVolume',
    },
  ]);

  it('provisioned volume with the claim bound elsewhere is released (dynamically provisioned, Delete)', async () => {
    const cluster = await runSyncTest({
      name: '', test: 'syncVolume',
      initialVolumes: arr(newVolume('pvc-y', '1Gi', 'uid-y', 'claim-y', 'Bound', 'Delete', 'fast', AnnDynamicallyProvisioned)),
      expectedVolumes: arr(newVolume('pvc-y', '1Gi', 'uid-y', 'claim-y', 'Released', 'Delete', 'fast', AnnDynamicallyProvisioned)),
      initialClaims: arr(newClaim('claim-y', 'uid-y', '1Gi', 'other', 'Bound', 'fast')),
      expectedClaims: arr(newClaim('claim-y', 'uid-y', '1Gi', 'other', 'Bound', 'fast')),
      expectedEvents: noevents,
    });
    assert.equal(cluster.volumes.get('pvc-y')!.status!.lastPhaseTransitionTime, '2024-01-02T03:04:05Z');
  });

  it('syncVolume enqueues the claim of a volume a provisioner created for it', async () => {
    const cluster = await runSyncTest({
      name: '', test: 'syncVolume',
      initialVolumes: arr(newVolume('pvc-z', '1Gi', 'uid-z', 'claim-z', '', 'Delete', 'fast', AnnDynamicallyProvisioned)),
      expectedVolumes: arr(newVolume('pvc-z', '1Gi', 'uid-z', 'claim-z', '', 'Delete', 'fast', AnnDynamicallyProvisioned)),
      initialClaims: arr(newClaim('claim-z', 'uid-z', '1Gi', '', 'Pending', 'fast')),
      expectedClaims: arr(newClaim('claim-z', 'uid-z', '1Gi', '', 'Pending', 'fast')),
      expectedEvents: noevents,
    });
    assert.deepEqual(cluster.enqueuedClaims, [`${testNamespace}/claim-z`]);
  });
});

describe('injected API errors', () => {
  it('bind stops at a failed PV update and a later sync completes it', async () => {
    const cluster = new FakeCluster({
      volumes: arr(newVolume('volume-e', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      claims: arr(newClaim('claim-e', 'uid-e', '1Gi', '', 'Pending', undefined)),
      errors: [{ verb: 'updateStatus', resource: 'persistentvolumes', error: new ApiError(500, 'Mock update error') }],
    });
    const binder = new PersistentVolumeBinder(cluster.deps());
    await assert.rejects(binder.syncClaim(structuredClone(cluster.claims.get(`${testNamespace}/claim-e`)!)), /Mock update error/);
    // The claimRef was saved before the failure: the volume is reserved for the claim.
    assert.equal(cluster.volumes.get('volume-e')!.spec.claimRef?.uid, 'uid-e');
    assert.equal(cluster.volumes.get('volume-e')!.status?.phase, 'Available');
    await binder.syncClaim(structuredClone(cluster.claims.get(`${testNamespace}/claim-e`)!));
    assert.deepEqual(normalize(cluster.volumes.values()), normalize(arr(newVolume('volume-e', '1Gi', 'uid-e', 'claim-e', 'Bound', 'Retain', classEmpty, AnnBoundByController))));
    assert.deepEqual(normalize(cluster.claims.values()), normalize(arr(newClaim('claim-e', 'uid-e', '1Gi', 'volume-e', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))));
  });

  it('a stale claim conflicts and nothing is half-written on the claim', async () => {
    const cluster = new FakeCluster({
      volumes: arr(newVolume('volume-c', '1Gi', '', '', 'Available', 'Retain', classEmpty)),
      claims: arr(newClaim('claim-c', 'uid-c', '1Gi', '', 'Pending', undefined)),
    });
    const stale = structuredClone(cluster.claims.get(`${testNamespace}/claim-c`)!);
    stale.metadata.resourceVersion = '0';
    await assert.rejects(new PersistentVolumeBinder(cluster.deps()).syncClaim(stale), (err: ApiError) => err.code === 409);
    assert.equal(cluster.claims.get(`${testNamespace}/claim-c`)!.spec.volumeName, undefined);
  });
});

describe('TestMultiSync', () => {
  async function runMultiSync(cluster: FakeCluster): Promise<void> {
    const binder = new PersistentVolumeBinder(cluster.deps());
    for (let round = 0; round < 20; round++) {
      const before = cluster.writes;
      for (const claim of [...cluster.claims.values()]) await binder.syncClaim(structuredClone(claim));
      for (const pv of [...cluster.volumes.values()]) await binder.syncVolume(structuredClone(pv));
      if (cluster.writes === before) return;
    }
    assert.fail('no steady state after 20 rounds');
  }

  it('10-1 - successful bind', async () => {
    const cluster = new FakeCluster({
      volumes: arr(newVolume('volume10-1', '1Gi', '', '', 'Pending', 'Retain', classEmpty)),
      claims: arr(newClaim('claim10-1', 'uid10-1', '1Gi', '', 'Pending', undefined)),
    });
    await runMultiSync(cluster);
    assert.deepEqual(normalize(cluster.volumes.values()), normalize(arr(newVolume('volume10-1', '1Gi', 'uid10-1', 'claim10-1', 'Bound', 'Retain', classEmpty, AnnBoundByController))));
    assert.deepEqual(normalize(cluster.claims.values()), normalize(arr(newClaim('claim10-1', 'uid10-1', '1Gi', 'volume10-1', 'Bound', undefined, AnnBoundByController, AnnBindCompleted))));
  });

  it('10-2 - bind PV race', async () => {
    const cluster = new FakeCluster({
      volumes: [
        newVolume('volume10-2-1', '1Gi', 'uid10-2', 'claim10-2', 'Bound', 'Retain', classEmpty, AnnBoundByController),
        newVolume('volume10-2-2', '1Gi', 'uid10-2', 'claim10-2', 'Bound', 'Retain', classEmpty, AnnBoundByController),
      ],
      claims: arr(newClaim('claim10-2', 'uid10-2', '1Gi', 'volume10-2-1', 'Bound', undefined, AnnBoundByController, AnnBindCompleted)),
    });
    await runMultiSync(cluster);
    assert.deepEqual(normalize(cluster.volumes.values()), normalize([
      newVolume('volume10-2-1', '1Gi', 'uid10-2', 'claim10-2', 'Bound', 'Retain', classEmpty, AnnBoundByController),
      newVolume('volume10-2-2', '1Gi', '', '', 'Available', 'Retain', classEmpty),
    ]));
  });

  it('12-1 - successful provision (external provisioner creates the PV, the binder binds it)', async () => {
    const cluster = new FakeCluster({
      claims: arr(newClaim('claim12-1', 'uid12-1', '1Gi', '', 'Pending', classExternal)),
      classes: [externalClass],
    });
    await runMultiSync(cluster);
    assert.equal(cluster.claims.get(`${testNamespace}/claim12-1`)!.metadata.annotations![AnnStorageProvisioner], 'vendor.com/my-volume');
    // The external provisioner's PV: claimRef with the UID, no bound-by-controller.
    const claim = cluster.claims.get(`${testNamespace}/claim12-1`)!;
    const pv = newVolume('pvc-uid12-1', '1Gi', 'uid12-1', 'claim12-1', '', 'Delete', classExternal, AnnDynamicallyProvisioned);
    cluster.volumes.set(pv.metadata.name!, pv);
    await runMultiSync(cluster);
    assert.deepEqual(normalize(cluster.volumes.values()), normalize(arr(newVolume('pvc-uid12-1', '1Gi', 'uid12-1', 'claim12-1', 'Bound', 'Delete', classExternal, AnnDynamicallyProvisioned))));
    const bound = cluster.claims.get(`${testNamespace}/claim12-1`)!;
    assert.equal(bound.spec.volumeName, 'pvc-uid12-1');
    assert.equal(bound.status?.phase, 'Bound');
    assert.equal(bound.metadata.annotations![AnnBindCompleted], 'yes');
    assert.equal(bound.metadata.annotations![AnnBoundByController], 'yes');
    assert.ok(claim);
  });
});
