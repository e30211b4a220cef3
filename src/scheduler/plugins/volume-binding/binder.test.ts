import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CSIDriver, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass, CSIStorageCapacity, Node } from '../../../api/types.ts';
import { AnnBoundByController, AnnSelectedNode } from '../../../api/well-known.ts';
import { ClusterObjects } from '../../cluster-objects.ts';
import { makeCapacity, makeClass, makeNode, makePod, makePV, makePVC } from '../../testing.ts';
import {
  ErrReasonBindConflict,
  ErrReasonNodeConflict,
  ErrReasonNotEnoughSpace,
  ErrReasonPVNotExist,
  VolumeBinder,
  type PodVolumes,
} from './binder.ts';

// The fixtures of binder_test.go: node1 and node2 by hostname; "wait" is a WaitForFirstConsumer class without
// provisioner, "wait-provisioned" one with a provisioner, "immediate" an Immediate one.
const node1 = makeNode('node1', { 'topology.kubernetes.io/zone': 'zone-a' });
const waitClass = makeClass('wait', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner');
const provisionedClass = makeClass('wait-provisioned', 'WaitForFirstConsumer', 'csi.strata.io');
const immediateClass = makeClass('immediate', 'Immediate');
const topologyClass = makeClass('topology', 'WaitForFirstConsumer', 'csi.strata.io', [
  { matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['zone-b'] }] },
]);

const unboundPVC = makePVC('unbound-pvc', '1G');
const unboundPVC2 = makePVC('unbound-pvc2', '5G');
const preboundPVC = makePVC('prebound-pvc', '1G', { volumeName: 'pv-node1a' });
const boundPVC = makePVC('bound-pvc', '1G', { volumeName: 'pv-bound', bound: true });
const boundPVCNode2 = makePVC('bound-pvc-node2', '1G', { volumeName: 'pv-node2', bound: true });
const boundPVCMissing = makePVC('bound-pvc-missing', '1G', { volumeName: 'pv-missing', bound: true });
const immediateUnboundPVC = makePVC('immediate-unbound-pvc', '1G', { className: 'immediate' });
const immediateBoundPVC = makePVC('immediate-bound-pvc', '1G', { className: 'immediate', volumeName: 'pv-bound-immediate', bound: true });
const provisionedPVC = makePVC('provisioned-pvc', '1Gi', { className: 'wait-provisioned' });
const provisionedPVC2 = makePVC('provisioned-pvc2', '1Gi', { className: 'wait-provisioned' });
const selectedNodePVC = makePVC('selected-node-pvc', '1Gi', { className: 'wait-provisioned', selectedNode: 'node1' });
const noProvisionerPVC = makePVC('no-provisioner-pvc', '1Gi', { className: 'wait' });
const topologyPVC = makePVC('topology-pvc', '1Gi', { className: 'topology' });

const pvNode1a = makePV('pv-node1a', '5G', { node: 'node1' });
const pvNode1b = makePV('pv-node1b', '10G', { node: 'node1' });
const pvNode1c = makePV('pv-node1c', '5G', { node: 'node1' });
const pvNode2 = makePV('pv-node2', '1G', { node: 'node2', claim: boundPVCNode2 });
const pvBound = makePV('pv-bound', '1G', { node: 'node1', claim: boundPVC });
const pvBoundImmediate = makePV('pv-bound-immediate', '1G', { node: 'node1', className: 'immediate', claim: immediateBoundPVC });
const pvNode2Unbound = makePV('pv-node2-unbound', '1G', { node: 'node2' });

interface Case {
  name: string;
  pvcs?: PersistentVolumeClaim[];
  pvs?: PersistentVolume[];
  pod?: Pod;
  classes?: StorageClass[];
  drivers?: CSIDriver[];
  capacities?: CSIStorageCapacity[];
  node?: Node;
  reasons?: string[];
  staticBindings?: Array<[string, string]>;
  provisions?: string[];
  immediate?: string[];
  error?: RegExp;
}

function run(c: Omit<Case, 'name'>) {
  const objects = new ClusterObjects();
  for (const sc of c.classes ?? [waitClass, provisionedClass, immediateClass, topologyClass]) objects.apply('StorageClass', 'Add', sc);
  for (const pvc of c.pvcs ?? []) objects.apply('PersistentVolumeClaim', 'Add', pvc);
  for (const pv of c.pvs ?? []) objects.apply('PersistentVolume', 'Add', pv);
  for (const d of c.drivers ?? []) objects.apply('CSIDriver', 'Add', d);
  for (const cap of c.capacities ?? []) objects.apply('CSIStorageCapacity', 'Add', cap);
  objects.apply('Node', 'Add', node1);
  const binder = new VolumeBinder(objects, { updatePV: async (pv) => pv, updatePVC: async (pvc) => pvc });
  const pod = c.pod ?? makePod('pod', (c.pvcs ?? []).map((p) => p.metadata.name!));
  return { binder, pod, objects };
}

function check(c: Case) {
  const { binder, pod } = run(c);
  if (c.error) {
    assert.throws(() => binder.findPodVolumes(pod, binder.getPodVolumeClaims(pod), c.node ?? node1), c.error);
    return;
  }
  const claims = binder.getPodVolumeClaims(pod);
  assert.deepEqual(claims.unboundClaimsImmediate.map((p) => p.metadata.name), c.immediate ?? []);
  if (c.immediate) return;
  const { podVolumes, reasons } = binder.findPodVolumes(pod, claims, c.node ?? node1);
  assert.deepEqual(reasons, c.reasons ?? []);
  assert.deepEqual(podVolumes.staticBindings.map((b) => [b.pvc.metadata.name, b.pv.metadata.name]), c.staticBindings ?? []);
  assert.deepEqual(podVolumes.dynamicProvisions.map((p) => p.pvc.metadata.name), c.provisions ?? []);
}

const withoutProvisioning: Case[] = [
  { name: 'no-volumes', pod: makePod('pod') },
  { name: 'no-pvcs', pod: { ...makePod('pod'), spec: { containers: [{ name: 'c' }], volumes: [{ name: 'v', emptyDir: {} }] } } },
  { name: 'pvc-not-found', pod: makePod('pod', ['unbound-pvc']), error: /error getting PVC "default\/unbound-pvc": could not find v1.PersistentVolumeClaim "default\/unbound-pvc"/ },
  { name: 'bound-pvc', pvcs: [boundPVC], pvs: [pvBound] },
  { name: 'bound-pvc,pv-not-exists', pvcs: [boundPVCMissing], reasons: [ErrReasonPVNotExist] },
  { name: 'prebound-pvc', pvcs: [preboundPVC], pvs: [pvNode1a], immediate: ['prebound-pvc'] },
  { name: 'unbound-pvc,pv-same-node', pvcs: [unboundPVC], pvs: [pvNode2, pvNode1a, pvNode1b], staticBindings: [['unbound-pvc', 'pv-node1a']] },
  { name: 'unbound-pvc,pv-different-node', pvcs: [unboundPVC], pvs: [pvNode2, pvNode2Unbound], reasons: [ErrReasonBindConflict] },
  {
    name: 'two-unbound-pvcs',
    pvcs: [unboundPVC, unboundPVC2],
    pvs: [pvNode1a, pvNode1b],
    staticBindings: [['unbound-pvc', 'pv-node1a'], ['unbound-pvc2', 'pv-node1b']],
  },
  {
    name: 'two-unbound-pvcs,order-by-size',
    pvcs: [unboundPVC2, unboundPVC],
    pvs: [pvNode1a, pvNode1b],
    staticBindings: [['unbound-pvc', 'pv-node1a'], ['unbound-pvc2', 'pv-node1b']],
  },
  { name: 'two-unbound-pvcs,partial-match', pvcs: [unboundPVC, unboundPVC2], pvs: [pvNode1a], reasons: [ErrReasonBindConflict], staticBindings: [['unbound-pvc', 'pv-node1a']] },
  { name: 'one-bound,one-unbound', pvcs: [unboundPVC, boundPVC], pvs: [pvBound, pvNode1a], staticBindings: [['unbound-pvc', 'pv-node1a']] },
  { name: 'one-bound,one-unbound,no-match', pvcs: [unboundPVC, boundPVC], pvs: [pvBound, pvNode2Unbound], reasons: [ErrReasonBindConflict] },
  { name: 'one-prebound,one-unbound', pvcs: [unboundPVC, preboundPVC], pvs: [pvNode1a, pvNode1b], immediate: ['prebound-pvc'] },
  { name: 'immediate-bound-pvc', pvcs: [immediateBoundPVC], pvs: [pvBoundImmediate] },
  { name: 'immediate-bound-pvc-wrong-node', pvcs: [immediateBoundPVC], pvs: [pvBoundImmediate], node: makeNode('node2'), reasons: [ErrReasonNodeConflict] },
  { name: 'immediate-unbound-pvc', pvcs: [immediateUnboundPVC], immediate: ['immediate-unbound-pvc'] },
  { name: 'immediate-unbound-pvc,delayed-mode-bound', pvcs: [immediateUnboundPVC, boundPVC], pvs: [pvBound], immediate: ['immediate-unbound-pvc'] },
  { name: 'immediate-unbound-pvc,delayed-mode-unbound', pvcs: [immediateUnboundPVC, unboundPVC], immediate: ['immediate-unbound-pvc'] },
  { name: 'bound-pvc,pv-wrong-node', pvcs: [boundPVCNode2], pvs: [pvNode2], reasons: [ErrReasonNodeConflict] },
];

for (const c of withoutProvisioning) test(`TestFindPodVolumesWithoutProvisioning/${c.name}`, () => check(c));

const withProvisioning: Case[] = [
  { name: 'one-provisioned', pvcs: [provisionedPVC], provisions: ['provisioned-pvc'] },
  { name: 'two-unbound-pvcs,one-matched,one-provisioned', pvcs: [unboundPVC, provisionedPVC], pvs: [pvNode1a], staticBindings: [['unbound-pvc', 'pv-node1a']], provisions: ['provisioned-pvc'] },
  { name: 'one-bound,one-provisioned', pvcs: [boundPVC, provisionedPVC], pvs: [pvBound], provisions: ['provisioned-pvc'] },
  { name: 'one-binding,one-selected-node', pvcs: [boundPVC, selectedNodePVC], pvs: [pvBound], provisions: ['selected-node-pvc'] },
  { name: 'selected-node-other-node', pvcs: [selectedNodePVC], node: makeNode('node2'), reasons: [ErrReasonBindConflict] },
  { name: 'immediate-unbound-pvc', pvcs: [immediateUnboundPVC], immediate: ['immediate-unbound-pvc'] },
  { name: 'one-immediate-bound,one-provisioned', pvcs: [immediateBoundPVC, provisionedPVC], pvs: [pvBoundImmediate], provisions: ['provisioned-pvc'] },
  { name: 'invalid-provisioner', pvcs: [noProvisionerPVC], reasons: [ErrReasonBindConflict] },
  { name: 'volume-topology-unsatisfied', pvcs: [topologyPVC], reasons: [ErrReasonBindConflict] },
  { name: 'volume-topology-satisfied', pvcs: [topologyPVC], node: makeNode('node1', { 'topology.kubernetes.io/zone': 'zone-b' }), provisions: ['topology-pvc'] },
  { name: 'two-provisioned', pvcs: [provisionedPVC, provisionedPVC2], provisions: ['provisioned-pvc', 'provisioned-pvc2'] },
  {
    name: 'missing-class',
    pvcs: [makePVC('orphan', '1Gi', { className: 'gone' })],
    classes: [makeClass('gone', 'WaitForFirstConsumer')],
    pod: makePod('pod', ['orphan']),
    // The class disappears between classification and filtering.
    error: /failed to find storage class "gone"/,
  },
];

for (const c of withProvisioning) {
  if (c.name === 'missing-class') {
    test(`TestFindPodVolumesWithProvisioning/${c.name}`, () => {
      const { binder, pod, objects } = run(c);
      const claims = binder.getPodVolumeClaims(pod);
      objects.apply('StorageClass', 'Delete', c.classes![0]!);
      assert.throws(() => binder.findPodVolumes(pod, claims, node1), c.error!);
    });
    continue;
  }
  test(`TestFindPodVolumesWithProvisioning/${c.name}`, () => check(c));
}

const driver = (storageCapacity: boolean): CSIDriver => ({ metadata: { name: 'csi.strata.io' }, spec: { storageCapacity } });
const node1Topology = { 'kubernetes.io/hostname': 'node1' };
const capacityCases: Case[] = [
  { name: 'network-attached', capacities: [makeCapacity('net', 'wait-provisioned', '1Ti', {})], provisions: ['provisioned-pvc'] },
  { name: 'local-storage', capacities: [makeCapacity('local', 'wait-provisioned', '1Gi', node1Topology)], provisions: ['provisioned-pvc'] },
  { name: 'multiple', capacities: [makeCapacity('small', 'wait-provisioned', '1Mi', node1Topology), makeCapacity('big', 'wait-provisioned', '2Gi', node1Topology)], provisions: ['provisioned-pvc'] },
  { name: 'no-storage', capacities: [], reasons: [ErrReasonNotEnoughSpace] },
  { name: 'wrong-node', capacities: [makeCapacity('other', 'wait-provisioned', '1Ti', { 'kubernetes.io/hostname': 'node2' })], reasons: [ErrReasonNotEnoughSpace] },
  { name: 'wrong-storage-class', capacities: [makeCapacity('other', 'wait', '1Ti', node1Topology)], reasons: [ErrReasonNotEnoughSpace] },
  { name: 'insufficient-storage', capacities: [makeCapacity('small', 'wait-provisioned', '1Mi', node1Topology)], reasons: [ErrReasonNotEnoughSpace] },
  { name: 'insufficient-volume-size', capacities: [makeCapacity('pool', 'wait-provisioned', '1Ti', node1Topology, '1Mi')], reasons: [ErrReasonNotEnoughSpace] },
  { name: 'capacity-disabled', drivers: [driver(false)], capacities: [], provisions: ['provisioned-pvc'] },
];

for (const c of capacityCases) {
  test(`TestCapacity/${c.name}`, () => check({ drivers: [driver(true)], pvcs: [provisionedPVC], ...c }));
}

test('AssumePodVolumes sets claimRef and bound-by-controller, or selected-node; RevertAssumedPodVolumes undoes it', () => {
  const { binder, pod, objects } = run({ pvcs: [unboundPVC, provisionedPVC], pvs: [pvNode1a] });
  const claims = binder.getPodVolumeClaims(pod);
  const { podVolumes } = binder.findPodVolumes(pod, claims, node1);
  assert.equal(binder.assumePodVolumes(pod, 'node1', podVolumes), false);
  const assumedPV = objects.pvCache.get('pv-node1a')!;
  assert.deepEqual(assumedPV.spec.claimRef, {
    kind: 'PersistentVolumeClaim', namespace: 'default', name: 'unbound-pvc', uid: 'pvc-uid-unbound-pvc', apiVersion: 'v1', resourceVersion: '1',
  });
  assert.equal(assumedPV.metadata.annotations?.[AnnBoundByController], 'yes');
  assert.equal(objects.pvcCache.get('default/provisioned-pvc')!.metadata.annotations?.[AnnSelectedNode], 'node1');
  // The informer's objects are untouched.
  assert.equal(objects.getPV('pv-node1a')!.spec.claimRef, undefined);
  // The next pod does not get the same PV.
  const other = makePod('other', ['unbound-pvc2']);
  objects.apply('PersistentVolumeClaim', 'Add', makePVC('unbound-pvc2', '1G'));
  const found = binder.findPodVolumes(other, binder.getPodVolumeClaims(other), node1);
  assert.deepEqual(found.reasons, [ErrReasonBindConflict]);
  binder.revertAssumedPodVolumes(podVolumes);
  binder.revertAssumedPodVolumes(podVolumes);
  assert.equal(objects.pvCache.get('pv-node1a')!.spec.claimRef, undefined);
  assert.equal(objects.pvcCache.get('default/provisioned-pvc')!.metadata.annotations?.[AnnSelectedNode], undefined);
});

test('AssumePodVolumes reports all-bound when every claim is bound', () => {
  const { binder, pod } = run({ pvcs: [boundPVC], pvs: [pvBound] });
  assert.equal(binder.assumePodVolumes(pod, 'node1', { staticBindings: [], dynamicProvisions: [] }), true);
});

test('stale selected-node naming a deleted node is ignored and reported', () => {
  const stale = makePVC('stale', '1Gi', { className: 'wait-provisioned', selectedNode: 'gone-node' });
  const objects = new ClusterObjects();
  objects.apply('StorageClass', 'Add', provisionedClass);
  objects.apply('PersistentVolumeClaim', 'Add', stale);
  objects.apply('Node', 'Add', node1);
  const reported: string[] = [];
  const binder = new VolumeBinder(objects, { updatePV: async (pv) => pv, updatePVC: async (pvc) => pvc }, {
    onStaleSelectedNode: (pvc) => reported.push(pvc.metadata.name!),
  });
  const pod = makePod('pod', ['stale']);
  const { reasons, podVolumes } = binder.findPodVolumes(pod, binder.getPodVolumeClaims(pod), node1);
  assert.deepEqual(reasons, []);
  assert.deepEqual(podVolumes.dynamicProvisions.map((p) => p.pvc.metadata.name), ['stale']);
  assert.deepEqual(reported, ['stale']);
});

// A generous deadline, so that a loaded machine does not time out the scenarios that should finish.
async function bindScenario(mutate: (objects: ClusterObjects, written: PodVolumes) => void, bindTimeoutMs = 10_000) {
  const { pod, objects } = run({ pvcs: [provisionedPVC] });
  objects.apply('Pod', 'Add', pod);
  const writes: string[] = [];
  const api = {
    updatePV: async (pv: PersistentVolume) => pv,
    updatePVC: async (pvc: PersistentVolumeClaim) => {
      writes.push(pvc.metadata.name!);
      return { ...pvc, metadata: { ...pvc.metadata, resourceVersion: '2' } };
    },
  };
  const fast = new VolumeBinder(objects, api, { pollIntervalMs: 5, bindTimeoutMs });
  const { podVolumes } = fast.findPodVolumes(pod, fast.getPodVolumeClaims(pod), node1);
  fast.assumePodVolumes(pod, 'node1', podVolumes);
  const result = fast.bindPodVolumes(pod, 'node1', podVolumes, new AbortController().signal);
  setTimeout(() => {
    mutate(objects, podVolumes);
    fast.notifyChange();
  }, 10);
  return { result, writes };
}

test('BindPodVolumes: the provisioned claim becomes bound', async () => {
  const { result, writes } = await bindScenario((objects) => {
    objects.apply('PersistentVolume', 'Add', makePV('pvc-new', '1Gi', { className: 'wait-provisioned', node: 'node1', claim: provisionedPVC }));
    const bound = makePVC('provisioned-pvc', '1Gi', { className: 'wait-provisioned', selectedNode: 'node1', volumeName: 'pvc-new', bound: true, rv: '3' });
    objects.apply('PersistentVolumeClaim', 'Update', bound);
  });
  await result;
  assert.deepEqual(writes, ['provisioned-pvc']);
});

test('BindPodVolumes: provisioning failed when the provisioner drops selected-node', async () => {
  const { result } = await bindScenario((objects) => {
    objects.apply('PersistentVolumeClaim', 'Update', makePVC('provisioned-pvc', '1Gi', { className: 'wait-provisioned', rv: '3' }));
  });
  await assert.rejects(result, { message: 'binding volumes: provisioning failed for PVC "provisioned-pvc"' });
});

test('BindPodVolumes: pod deleted while waiting', async () => {
  const { result } = await bindScenario((objects) => objects.apply('Pod', 'Delete', makePod('pod', ['provisioned-pvc'])));
  await assert.rejects(result, { message: 'binding volumes: pod does not exist any more: pod "pod" not found' });
});

test('BindPodVolumes: times out', async () => {
  const { result } = await bindScenario(() => {}, 200);
  await assert.rejects(result, { message: 'binding volumes: context deadline exceeded' });
});

test('checkBindings: ClaimRef got reset', () => {
  const { pod, objects } = run({ pvcs: [unboundPVC], pvs: [pvNode1a] });
  objects.apply('Pod', 'Add', pod);
  const binder = new VolumeBinder(objects, { updatePV: async (pv) => pv, updatePVC: async (pvc) => pvc });
  const { podVolumes } = binder.findPodVolumes(pod, binder.getPodVolumeClaims(pod), node1);
  binder.assumePodVolumes(pod, 'node1', podVolumes);
  // The PV controller unbound the volume (claimRef without UID).
  objects.apply('PersistentVolume', 'Update', { ...pvNode1a, metadata: { ...pvNode1a.metadata, resourceVersion: '5' }, spec: { ...pvNode1a.spec, claimRef: { name: 'unbound-pvc', namespace: 'default' } } });
  assert.throws(() => binder.checkBindings(pod, 'node1', podVolumes), { message: 'ClaimRef got reset for pv "pv-node1a"' });
});
