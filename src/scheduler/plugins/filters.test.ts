// Each filter plugin's reasons and codes, and the default profile's order and weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../api/types.ts';
import { ClusterObjects } from '../cluster-objects.ts';
import { defaultScoreWeights, newDefaultFramework } from '../default-plugins.ts';
import { CycleState } from '../framework/interfaces.ts';
import { NodeInfo } from '../framework/node-info.ts';
import { makeClass, makeNode, makePod, makePV, makePVC } from '../testing.ts';

function framework(objects = new ClusterObjects()) {
  return newDefaultFramework({
    objects,
    volumeApi: { updatePV: async (pv) => pv, updatePVC: async (pvc) => pvc },
    bindPod: async () => {},
    preemptionHandle: { nodeInfos: () => [], runFilterPlugins: () => undefined },
  });
}

function filter(pod: Pod, nodeInfo: NodeInfo, objects = new ClusterObjects()) {
  const fwk = framework(objects);
  const state = new CycleState();
  const pre = fwk.runPreFilterPlugins(state, pod, [nodeInfo]);
  if (pre.status) return { plugin: pre.status.plugin, code: pre.status.code, reasons: pre.status.reasons };
  const s = fwk.runFilterPlugins(state, pod, nodeInfo);
  return s ? { plugin: s.plugin, code: s.code, reasons: s.reasons } : undefined;
}

test('default profile: filter order and score weights', () => {
  const fwk = framework();
  assert.deepEqual(fwk.filterPlugins.map((p) => p.name), [
    'NodeUnschedulable', 'NodeName', 'TaintToleration', 'NodeAffinity', 'NodePorts', 'NodeResourcesFit',
    'VolumeRestrictions', 'NodeVolumeLimits', 'VolumeBinding', 'VolumeZone',
  ]);
  assert.deepEqual(Object.fromEntries(fwk.scorePlugins.map((p) => [p.plugin.name, p.weight])), {
    TaintToleration: 3, NodeAffinity: 2, NodeResourcesFit: 1, VolumeBinding: 1, NodeResourcesBalancedAllocation: 1,
  });
  assert.equal(defaultScoreWeights.TaintToleration, 3);
});

test('NodeUnschedulable', () => {
  const node = makeNode('n');
  node.spec = { unschedulable: true };
  assert.deepEqual(filter(makePod('p'), new NodeInfo(node)), { plugin: 'NodeUnschedulable', code: 'UnschedulableAndUnresolvable', reasons: ['node(s) were unschedulable'] });
  const tolerating = makePod('p', [], { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] });
  assert.equal(filter(tolerating, new NodeInfo(node)), undefined);
});

test('NodeName', () => {
  assert.deepEqual(filter(makePod('p', [], { nodeName: 'other' }), new NodeInfo(makeNode('n'))), {
    plugin: 'NodeName', code: 'UnschedulableAndUnresolvable', reasons: ["node(s) didn't match the requested node name"],
  });
});

test('TaintToleration', () => {
  const node = makeNode('n', {}, [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }]);
  assert.deepEqual(filter(makePod('p'), new NodeInfo(node)), {
    plugin: 'TaintToleration', code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {dedicated: gpu}'],
  });
  const soft = makeNode('n', {}, [{ key: 'soft', effect: 'PreferNoSchedule' }]);
  assert.equal(filter(makePod('p'), new NodeInfo(soft)), undefined);
});

test('NodeAffinity', () => {
  assert.deepEqual(filter(makePod('p', [], { nodeSelector: { disk: 'ssd' } }), new NodeInfo(makeNode('n'))), {
    plugin: 'NodeAffinity', code: 'UnschedulableAndUnresolvable', reasons: ["node(s) didn't match Pod's node affinity/selector"],
  });
});

test('NodePorts', () => {
  const info = new NodeInfo(makeNode('n'));
  const withPort = (name: string, hostIP?: string): Pod => makePod(name, [], { containers: [{ name: 'c', ports: [{ containerPort: 80, hostPort: 8080, ...(hostIP ? { hostIP } : {}) }] }] });
  info.addPod(withPort('existing', '10.0.0.1'));
  assert.deepEqual(filter(withPort('p'), info), { plugin: 'NodePorts', code: 'Unschedulable', reasons: ["node(s) didn't have free ports for the requested pod ports"] });
  assert.deepEqual(filter(withPort('p', '10.0.0.1'), info)?.plugin, 'NodePorts');
  assert.equal(filter(withPort('p', '10.0.0.2'), info), undefined);
});

test('NodeResourcesFit: Too many pods, Insufficient cpu/memory; unresolvable beyond allocatable', () => {
  const info = new NodeInfo(makeNode('n', {}, undefined, { cpu: '2', memory: '1Gi', pods: '1' }));
  info.addPod(makePod('existing', [], { containers: [{ name: 'c', resources: { requests: { cpu: '1500m', memory: '512Mi' } } }] }));
  const pod = makePod('p', [], { containers: [{ name: 'c', resources: { requests: { cpu: '1', memory: '600Mi' } } }] });
  assert.deepEqual(filter(pod, info), { plugin: 'NodeResourcesFit', code: 'Unschedulable', reasons: ['Too many pods', 'Insufficient cpu', 'Insufficient memory'] });
  const huge = makePod('p', [], { containers: [{ name: 'c', resources: { requests: { cpu: '3' } } }] });
  assert.equal(filter(huge, info)?.code, 'UnschedulableAndUnresolvable');
  // Init containers count by their maximum, overhead adds.
  const init = makePod('p', [], {
    containers: [{ name: 'c', resources: { requests: { cpu: '100m' } } }],
    initContainers: [{ name: 'i', resources: { requests: { cpu: '2500m' } } }],
  });
  assert.deepEqual(filter(init, new NodeInfo(makeNode('m', {}, undefined, { cpu: '2', memory: '1Gi', pods: '10' })))?.reasons, ['Insufficient cpu']);
});

test('VolumeRestrictions: ReadWriteOncePod claim in use', () => {
  const objects = new ClusterObjects();
  objects.apply('StorageClass', 'Add', makeClass('wait', 'WaitForFirstConsumer', 'csi.strata.io'));
  objects.apply('PersistentVolumeClaim', 'Add', makePVC('solo', '1Gi', { accessModes: ['ReadWriteOncePod'] }));
  const info = new NodeInfo(makeNode('n'));
  info.addPod(makePod('holder', ['solo'], { nodeName: 'n' }));
  assert.deepEqual(filter(makePod('p', ['solo']), info, objects), {
    plugin: 'VolumeRestrictions', code: 'Unschedulable', reasons: ['node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode'],
  });
});

test('NodeVolumeLimits: CSINode allocatable count', () => {
  const objects = new ClusterObjects();
  objects.apply('StorageClass', 'Add', makeClass('wait', 'WaitForFirstConsumer', 'csi.strata.io'));
  objects.apply('CSINode', 'Add', { metadata: { name: 'n' }, spec: { drivers: [{ name: 'csi.strata.io', nodeID: 'n', allocatable: { count: 1 } }] } });
  for (const name of ['a', 'b']) {
    const claim = makePVC(name, '1Gi', { volumeName: `pv-${name}`, bound: true });
    objects.apply('PersistentVolumeClaim', 'Add', claim);
    objects.apply('PersistentVolume', 'Add', makePV(`pv-${name}`, '1Gi', { claim }));
  }
  const info = new NodeInfo(makeNode('n'));
  info.addPod(makePod('holder', ['a'], { nodeName: 'n' }));
  assert.deepEqual(filter(makePod('p', ['b']), info, objects), { plugin: 'NodeVolumeLimits', code: 'Unschedulable', reasons: ['node(s) exceed max volume count'] });
  // Sharing the already attached volume needs no new attachment.
  assert.equal(filter(makePod('p', ['a']), info, objects), undefined);
});

test('NodeVolumeLimits: counts at the limit, whether or not the node\'s claims could all be attached', () => {
  const objects = new ClusterObjects();
  objects.apply('StorageClass', 'Add', makeClass('wait', 'WaitForFirstConsumer', 'csi.strata.io'));
  objects.apply('CSINode', 'Add', { metadata: { name: 'n' }, spec: { drivers: [{ name: 'csi.strata.io', nodeID: 'n', allocatable: { count: 2 } }] } });
  for (const name of ['a', 'b', 'c']) {
    const claim = makePVC(name, '1Gi', { volumeName: `pv-${name}`, bound: true });
    objects.apply('PersistentVolumeClaim', 'Add', claim);
    objects.apply('PersistentVolume', 'Add', makePV(`pv-${name}`, '1Gi', { claim }));
  }
  // A claim of a pod on the node that is gone (not found) attaches nothing: b still fits beside a.
  const info = new NodeInfo(makeNode('n'));
  info.addPod(makePod('holder', ['a', 'gone'], { nodeName: 'n' }));
  assert.equal(filter(makePod('p', ['b']), info, objects), undefined);
  info.addPod(makePod('holder2', ['b'], { nodeName: 'n' }));
  assert.deepEqual(filter(makePod('p', ['c']), info, objects), { plugin: 'NodeVolumeLimits', code: 'Unschedulable', reasons: ['node(s) exceed max volume count'] });
  assert.equal(filter(makePod('p', ['b']), info, objects), undefined);
});

test('VolumeZone: PV zone labels, "__" separated, beta label against GA node label', () => {
  const objects = new ClusterObjects();
  const claim = makePVC('z', '1Gi', { className: 'immediate', volumeName: 'pv-z', bound: true });
  objects.apply('StorageClass', 'Add', makeClass('immediate', 'Immediate'));
  objects.apply('PersistentVolumeClaim', 'Add', claim);
  const pv = makePV('pv-z', '1Gi', { className: 'immediate', claim });
  pv.metadata.labels = { 'failure-domain.beta.kubernetes.io/zone': 'zone-a__zone-b' };
  objects.apply('PersistentVolume', 'Add', pv);
  const inZone = (zone: string) => new NodeInfo(makeNode('n', { 'topology.kubernetes.io/zone': zone }));
  assert.equal(filter(makePod('p', ['z']), inZone('zone-b'), objects), undefined);
  assert.deepEqual(filter(makePod('p', ['z']), inZone('zone-c'), objects), { plugin: 'VolumeZone', code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had no available volume zone'] });
  assert.equal(filter(makePod('p', ['z']), new NodeInfo({ ...makeNode('bare'), metadata: { name: 'bare' } }), objects), undefined);
});

test('VolumeBinding reasons come in upstream order', () => {
  const objects = new ClusterObjects();
  objects.apply('StorageClass', 'Add', makeClass('wait', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner'));
  const bound = makePVC('bound', '1Gi', { volumeName: 'pv-other-node', bound: true });
  objects.apply('PersistentVolumeClaim', 'Add', bound);
  objects.apply('PersistentVolumeClaim', 'Add', makePVC('unbound', '1Gi'));
  objects.apply('PersistentVolume', 'Add', makePV('pv-other-node', '1Gi', { node: 'elsewhere', claim: bound }));
  assert.deepEqual(filter(makePod('p', ['bound', 'unbound']), new NodeInfo(makeNode('n')), objects), {
    plugin: 'VolumeBinding',
    code: 'UnschedulableAndUnresolvable',
    reasons: ['node(s) had volume node affinity conflict', "node(s) didn't find available persistent volumes to bind"],
  });
});
