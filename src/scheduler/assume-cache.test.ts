import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume } from '../api/types.ts';
import { AssumeCache } from './assume-cache.ts';
import { ClusterObjects, volumeHostnames } from './cluster-objects.ts';
import { makeCapacity, makeNode, makePV, makePVC } from './testing.ts';

const withRV = (pv: PersistentVolume, rv: string, claim?: string): PersistentVolume => ({
  ...pv,
  metadata: { ...pv.metadata, resourceVersion: rv },
  spec: { ...pv.spec, ...(claim ? { claimRef: { name: claim, namespace: 'default' } } : {}) },
});

test('assumed objects shadow the informer until it delivers a newer version', () => {
  const cache = new AssumeCache<PersistentVolume>('v1.PersistentVolume', { class: (pv) => [pv.spec.storageClassName ?? ''] });
  const pv = makePV('pv1', '1Gi', { rv: '5' });
  cache.add(pv);
  cache.assume(withRV(pv, '5', 'claim-a'));
  assert.equal(cache.get('pv1')!.spec.claimRef?.name, 'claim-a');
  assert.equal(cache.getAPIObj('pv1')!.spec.claimRef, undefined);
  // A resync with the same version keeps the assumption.
  cache.add(withRV(pv, '5'));
  assert.equal(cache.get('pv1')!.spec.claimRef?.name, 'claim-a');
  assert.deepEqual(cache.byIndex('class', 'wait').map((p) => p.spec.claimRef?.name), ['claim-a']);
  // A newer version replaces it.
  cache.add(withRV(pv, '6', 'claim-b'));
  assert.equal(cache.get('pv1')!.spec.claimRef?.name, 'claim-b');
  assert.equal(cache.getAPIObj('pv1')!.spec.claimRef?.name, 'claim-b');
});

test('restore drops the assumption; errors use upstream text', () => {
  const cache = new AssumeCache<PersistentVolume>('v1.PersistentVolume');
  const pv = makePV('pv1', '1Gi', { rv: '5' });
  cache.add(pv);
  cache.assume(withRV(pv, '5', 'claim-a'));
  cache.restore('pv1');
  assert.equal(cache.get('pv1')!.spec.claimRef, undefined);
  assert.throws(() => cache.assume(withRV(pv, '4')), { message: 'v1.PersistentVolume "pv1" is out of sync (stored: 5, assume: 4)' });
  assert.throws(() => cache.assume(makePV('nope', '1Gi')), { message: 'could not find v1.PersistentVolume "nope"' });
  assert.throws(() => cache.add(withRV(pv, 'abc')), /error parsing ResourceVersion "abc" for v1.PersistentVolume "pv1"/);
  cache.delete(pv);
  assert.equal(cache.get('pv1'), undefined);
  cache.restore('pv1');
});

test('PVs confined by hostname are listed for their node only; the others for every node', () => {
  const objects = new ClusterObjects();
  const local1 = makePV('local-1', '1Gi', { className: 'local', node: 'host-1' });
  const local2 = makePV('local-2', '1Gi', { className: 'local', node: 'host-2' });
  const zonal = makePV('zonal', '1Gi', { className: 'local', zone: 'zone-a' });
  const other = makePV('other-class', '1Gi', { className: 'other', node: 'host-1' });
  const twoHosts = makePV('two-hosts', '1Gi', { className: 'local' });
  twoHosts.spec.nodeAffinity = { required: { nodeSelectorTerms: [
    { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['host-1'] }, { key: 'rack', operator: 'Exists' }] },
    { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['host-3'] }] },
  ] } };
  for (const pv of [local1, local2, zonal, other, twoHosts]) objects.apply('PersistentVolume', 'Add', pv);
  assert.deepEqual(volumeHostnames(twoHosts), ['host-1', 'host-3']);
  assert.equal(volumeHostnames(zonal), undefined);
  const claim = makePVC('x', '1Gi', { className: 'local' });
  const names = (node: ReturnType<typeof makeNode>, c = claim) => objects.candidatePVs(c, node).map((pv) => pv.metadata.name).sort();
  // The hostname label decides, not the node name (k8s #125336).
  assert.deepEqual(names(makeNode('node-a', { 'kubernetes.io/hostname': 'host-1' })), ['local-1', 'two-hosts', 'zonal']);
  assert.deepEqual(names(makeNode('host-2')), ['local-2', 'zonal']);
  assert.deepEqual(names(makeNode('host-3')), ['two-hosts', 'zonal']);
  assert.deepEqual(objects.listPVs('local').map((pv) => pv.metadata.name).sort(), ['local-1', 'local-2', 'two-hosts', 'zonal']);
  // An assumed version with a claimRef is a candidate of that claim only, and comes first; a deleted PV leaves.
  objects.pvCache.assume({ ...local1, spec: { ...local1.spec, claimRef: { name: 'c', namespace: 'default' } } });
  assert.deepEqual(names(makeNode('host-1')), ['two-hosts', 'zonal']);
  const reserved = objects.candidatePVs(makePVC('c', '1Gi', { className: 'local' }), makeNode('host-1'));
  assert.deepEqual(reserved.map((pv) => [pv.metadata.name, pv.spec.claimRef?.name]), [['local-1', 'c'], ['two-hosts', undefined], ['zonal', undefined]]);
  assert.deepEqual(names(makeNode('host-2'), makePVC('c', '1Gi', { className: 'local' })), ['local-2', 'zonal']);
  objects.apply('PersistentVolume', 'Delete', local1);
  assert.deepEqual(names(makeNode('host-1')), ['two-hosts', 'zonal']);
});

test('accessible capacities follow capacity updates, and node label and topology changes', () => {
  const objects = new ClusterObjects();
  const node = makeNode('n1', { zone: 'a' });
  objects.apply('Node', 'Add', node);
  const zoneA = makeCapacity('cap-a', 'fast', '10Gi', { zone: 'a' });
  objects.apply('CSIStorageCapacity', 'Add', zoneA);
  objects.apply('CSIStorageCapacity', 'Add', makeCapacity('cap-b', 'fast', '10Gi', { zone: 'b' }));
  objects.apply('CSIStorageCapacity', 'Add', makeCapacity('cap-other', 'slow', '10Gi', { zone: 'a' }));
  const names = (n = node) => objects.accessibleCapacities('fast', n).map((c) => `${c.metadata.name}=${c.capacity}`);
  assert.deepEqual(names(), ['cap-a=10Gi']);
  // A new capacity figure is seen at once.
  objects.apply('CSIStorageCapacity', 'Update', { ...zoneA, capacity: '1Gi' });
  assert.deepEqual(names(), ['cap-a=1Gi']);
  const relabelled = makeNode('n1', { zone: 'b' });
  objects.apply('Node', 'Update', relabelled);
  assert.deepEqual(names(relabelled), ['cap-b=10Gi']);
  objects.apply('CSIStorageCapacity', 'Update', { ...zoneA, nodeTopology: { matchLabels: { zone: 'b' } } });
  assert.deepEqual(names(relabelled), ['cap-a=10Gi', 'cap-b=10Gi']);
  objects.apply('CSIStorageCapacity', 'Delete', zoneA);
  assert.deepEqual(names(relabelled), ['cap-b=10Gi']);
});
