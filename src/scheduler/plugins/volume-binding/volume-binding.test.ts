import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim, Pod } from '../../../api/types.ts';
import { ClusterObjects } from '../../cluster-objects.ts';
import { CycleState } from '../../framework/interfaces.ts';
import { NodeInfo } from '../../framework/node-info.ts';
import { makeClass, makeNode, makePod, makePV, makePVC } from '../../testing.ts';
import type { FunctionShapePoint } from '../helper.ts';
import { VolumeBindingPlugin, ErrReasonUnboundImmediate } from './volume-binding.ts';
import { ErrReasonBindConflict } from './binder.ts';

const nodes = ['node-a', 'node-b', 'node-c'].map((n) => new NodeInfo(makeNode(n)));

function setup(pvcs: PersistentVolumeClaim[], pvs: PersistentVolume[], shape?: FunctionShapePoint[]) {
  const objects = new ClusterObjects();
  objects.apply('StorageClass', 'Add', makeClass('wait', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner'));
  objects.apply('StorageClass', 'Add', makeClass('wait-hdd', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner'));
  objects.apply('StorageClass', 'Add', makeClass('immediate', 'Immediate'));
  for (const pvc of pvcs) objects.apply('PersistentVolumeClaim', 'Add', pvc);
  for (const pv of pvs) objects.apply('PersistentVolume', 'Add', pv);
  const plugin = new VolumeBindingPlugin(objects, { updatePV: async (pv) => pv, updatePVC: async (pvc) => pvc }, shape ? { shape } : {});
  return { plugin, objects };
}

function scores(plugin: VolumeBindingPlugin, pod: Pod): Record<string, number | string> {
  const state = new CycleState();
  assert.equal(plugin.preFilter(state, pod), undefined);
  const result: Record<string, number | string> = {};
  const feasible = nodes.filter((n) => {
    const s = plugin.filter(state, pod, n);
    if (s) result[n.name] = s.message();
    return !s;
  });
  assert.equal(plugin.preScore(state), undefined);
  for (const n of feasible) result[n.name] = plugin.score(state, pod, n);
  return result;
}

// volume_binding_test.go: "[VolumeCapacityPriority] ..." cases, with the default shape (0,0),(100,10).
test('TestVolumeBinding/VolumeCapacityPriority: one claim, PVs of 200Gi and 100Gi, a node without PV => 25/50/0', () => {
  const claim = makePVC('pvc-a', '50Gi');
  const { plugin } = setup([claim], [makePV('pv-a', '200Gi', { node: 'node-a' }), makePV('pv-b', '100Gi', { node: 'node-b' })]);
  assert.deepEqual(scores(plugin, makePod('pod', ['pvc-a'])), { 'node-a': 25, 'node-b': 50, 'node-c': ErrReasonBindConflict });
});

test('TestVolumeBinding/VolumeCapacityPriority: one node without PV still scores 0', () => {
  const claim = makePVC('pvc-a', '50Gi');
  const { plugin } = setup([claim], [makePV('pv-a', '200Gi', { node: 'node-a' })]);
  const state = new CycleState();
  const pod = makePod('pod', ['pvc-a']);
  plugin.preFilter(state, pod);
  plugin.filter(state, pod, nodes[0]!);
  assert.equal(plugin.score(state, pod, nodes[2]!), 0);
});

test('TestVolumeBinding/VolumeCapacityPriority: two claims of two classes => 38/75', () => {
  const pvcs = [makePVC('pvc-a', '50Gi'), makePVC('pvc-b', '50Gi', { className: 'wait-hdd' })];
  const { plugin } = setup(pvcs, [
    makePV('pv-a-0', '200Gi', { node: 'node-a' }),
    makePV('pv-a-1', '100Gi', { node: 'node-a', className: 'wait-hdd' }),
    makePV('pv-b-0', '100Gi', { node: 'node-b' }),
    makePV('pv-b-1', '50Gi', { node: 'node-b', className: 'wait-hdd' }),
  ]);
  const result = scores(plugin, makePod('pod', ['pvc-a', 'pvc-b']));
  assert.equal(result['node-a'], 38);
  assert.equal(result['node-b'], 75);
});

test('TestVolumeBinding/VolumeCapacityPriority: custom shape (0,0),(50,3),(100,5) => 15/30', () => {
  const claim = makePVC('pvc-a', '50Gi');
  const shape = [{ utilization: 0, score: 0 }, { utilization: 50, score: 3 }, { utilization: 100, score: 5 }];
  const { plugin } = setup([claim], [makePV('pv-a', '200Gi', { node: 'node-a' }), makePV('pv-b', '100Gi', { node: 'node-b' })], shape);
  const result = scores(plugin, makePod('pod', ['pvc-a']));
  assert.equal(result['node-a'], 15);
  assert.equal(result['node-b'], 30);
});

test('PreFilter errors', () => {
  const { plugin, objects } = setup([makePVC('imm', '1Gi', { className: 'immediate' })], []);
  const state = new CycleState();
  assert.equal(plugin.preFilter(state, makePod('p', ['missing']))?.message(), 'persistentvolumeclaim "missing" not found');
  assert.equal(plugin.preFilter(state, makePod('p', ['imm']))?.message(), ErrReasonUnboundImmediate);
  assert.equal(plugin.preFilter(state, makePod('p', ['imm']))?.code, 'UnschedulableAndUnresolvable');
  const ephemeralPod: Pod = { ...makePod('p'), spec: { containers: [{ name: 'c' }], volumes: [{ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: {} } } }] } };
  assert.equal(plugin.preFilter(state, ephemeralPod)?.message(), 'waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch"');
  objects.apply('PersistentVolumeClaim', 'Add', makePVC('p-scratch', '1Gi'));
  assert.equal(plugin.preFilter(state, ephemeralPod)?.message(), 'PVC default/p-scratch was not created for pod default/p (pod is not owner)');
  const lost = makePVC('lost', '1Gi', { volumeName: 'gone' });
  lost.status = { phase: 'Lost' };
  objects.apply('PersistentVolumeClaim', 'Add', lost);
  assert.equal(plugin.preFilter(state, makePod('p', ['lost']))?.message(), 'persistentvolumeclaim "lost" bound to non-existent persistentvolume "gone"');
  const deleting = makePVC('deleting', '1Gi');
  deleting.metadata.deletionTimestamp = '2024-01-01T00:00:00Z';
  objects.apply('PersistentVolumeClaim', 'Add', deleting);
  assert.equal(plugin.preFilter(state, makePod('p', ['deleting']))?.message(), 'persistentvolumeclaim "deleting" is being deleted');
  assert.equal(plugin.preFilter(state, makePod('p'))?.code, 'Skip');
});

test('explainFilter names the rejected PVs and why', () => {
  const { plugin } = setup([makePVC('pvc-a', '50Gi')], [makePV('small', '10Gi', { node: 'node-c' }), makePV('far', '100Gi', { node: 'node-a' })]);
  const state = new CycleState();
  const pod = makePod('pod', ['pvc-a']);
  plugin.preFilter(state, pod);
  assert.ok(plugin.filter(state, pod, nodes[2]!));
  const detail = plugin.explainFilter(state, pod, nodes[2]!) as { claims: Array<{ candidates: Array<{ volume: string; rejections: Array<{ reason: string }> }>; provisioning: { problem: string } }> };
  const byVolume = Object.fromEntries(detail.claims[0]!.candidates.map((c) => [c.volume, c.rejections.map((r) => r.reason)]));
  assert.deepEqual(byVolume, { small: ['TooSmall'], far: ['NodeAffinityConflict'] });
  assert.equal(detail.claims[0]!.provisioning.problem, 'NoProvisioner');
});

test('all claims bound: Filter checks the PVs node affinity, Reserve finds them bound, PreBind writes nothing', async () => {
  const claim = makePVC('bound', '1Gi', { className: 'wait', volumeName: 'pv-a', bound: true });
  const { objects } = setup([claim], [makePV('pv-a', '1Gi', { className: 'wait', node: 'node-a', claim })]);
  const noWrites = async (): Promise<never> => {
    throw new Error('no API write expected');
  };
  const plugin = new VolumeBindingPlugin(objects, { updatePV: noWrites, updatePVC: noWrites });
  const pod = makePod('p', ['bound']);
  const state = new CycleState();
  assert.equal(plugin.preFilter(state, pod), undefined);
  const [a, b, c] = nodes.map((n) => plugin.filter(state, pod, n));
  assert.equal(a, undefined);
  assert.deepEqual([b?.code, b?.reasons], ['UnschedulableAndUnresolvable', ['node(s) had volume node affinity conflict']]);
  assert.deepEqual(c?.reasons, ['node(s) had volume node affinity conflict']);
  assert.equal(plugin.preScore(state)?.code, 'Skip');
  assert.equal(plugin.reserve(state, pod, 'node-a'), undefined);
  assert.equal(await plugin.preBind(state, pod, 'node-a', new AbortController().signal), undefined);
});
