import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnnSelectedNode } from '../api/well-known.ts';
import { AnnSchedulingDiagnosis, Scheduler, type SchedulingDiagnosis } from './scheduler.ts';
import { makeClass, makeNode, makePod, makePV, makePVC, RecordingSchedulerApi } from './testing.ts';

const zone = 'topology.kubernetes.io/zone';

function newScheduler() {
  const api = new RecordingSchedulerApi();
  const scheduler = new Scheduler({
    api,
    queue: { podInitialBackoffMs: 1, podMaxBackoffMs: 1 },
    volumeBinding: { pollIntervalMs: 5, bindTimeoutMs: 2000 },
    random: () => 0,
  });
  api.scheduler = scheduler;
  return { api, scheduler };
}

/** The lecture's cluster: a tainted master and two workers in cn-hangzhou-b. */
function lectureCluster() {
  const { api, scheduler } = newScheduler();
  scheduler.handleEvent('Node', 'Add', makeNode('master', { [zone]: 'cn-hangzhou-b' }, [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }]));
  scheduler.handleEvent('Node', 'Add', makeNode('node1', { [zone]: 'cn-hangzhou-b' }));
  scheduler.handleEvent('Node', 'Add', makeNode('node2', { [zone]: 'cn-hangzhou-b' }));
  return { api, scheduler };
}

const topology = (value: string) => [{ matchLabelExpressions: [{ key: zone, values: [value] }] }];

test('the lecture: WaitForFirstConsumer class in another zone, then fixed', async () => {
  const { api, scheduler } = lectureCluster();
  scheduler.handleEvent('StorageClass', 'Add', makeClass('csi-disk-topology', 'WaitForFirstConsumer', 'diskplugin.csi.alibabacloud.com', topology('cn-hangzhou-d')));
  scheduler.handleEvent('PersistentVolumeClaim', 'Add', makePVC('disk-pvc', '30Gi', { className: 'csi-disk-topology' }));
  scheduler.handleEvent('Pod', 'Add', makePod('disk-pod', ['disk-pvc']));

  assert.equal(await scheduler.scheduleOne(), true);
  const expected =
    "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 2 node(s) didn't find available persistent volumes to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
  assert.deepEqual(api.events, [{ object: 'default/disk-pod', type: 'Warning', reason: 'FailedScheduling', message: expected }]);
  assert.deepEqual(api.conditions[0]!.condition, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: expected });
  assert.deepEqual(scheduler.queue.pendingPods().unschedulable, ['default/disk-pod']);

  const diagnosis = JSON.parse(api.annotations.get('default/disk-pod')![AnnSchedulingDiagnosis]!) as SchedulingDiagnosis;
  assert.equal(diagnosis.message, expected);
  assert.deepEqual(diagnosis.nodes.master, { plugin: 'TaintToleration', reasons: ['node(s) had untolerated taint {node-role.kubernetes.io/master: }'] });
  const node1 = diagnosis.nodes.node1!;
  assert.equal(node1.plugin, 'VolumeBinding');
  assert.deepEqual(node1.detail, {
    claims: [{
      claim: 'default/disk-pvc',
      storageClass: 'csi-disk-topology',
      binding: 'WaitForFirstConsumer',
      candidates: [],
      provisioning: {
        provisioner: 'diskplugin.csi.alibabacloud.com',
        allowedTopologies: topology('cn-hangzhou-d'),
        nodeLabels: { [zone]: 'cn-hangzhou-b' },
        problem: 'TopologyMismatch',
      },
    }],
  });

  // An unrelated PVC does not wake the pod; the class being recreated does.
  scheduler.handleEvent('PersistentVolumeClaim', 'Add', makePVC('other', '1Gi', { className: 'csi-disk-topology' }));
  assert.deepEqual(scheduler.queue.pendingPods().unschedulable, ['default/disk-pod']);
  scheduler.handleEvent('StorageClass', 'Add', makeClass('csi-disk-topology', 'WaitForFirstConsumer', 'diskplugin.csi.alibabacloud.com', topology('cn-hangzhou-b')));
  assert.deepEqual(scheduler.queue.pendingPods().unschedulable, []);
  await new Promise((r) => setTimeout(r, 5));
  scheduler.queue.flushBackoffQCompleted();
  assert.equal(await scheduler.scheduleOne(), true);

  // PreBind wrote selected-node; the "provisioner" now creates the PV and the PV controller binds.
  const written = api.pvcWrites.at(-1)!;
  const host = written.metadata.annotations![AnnSelectedNode]!;
  assert.ok(host === 'node1' || host === 'node2');
  const claim = scheduler.objects.getPVC('default', 'disk-pvc')!;
  scheduler.handleEvent('PersistentVolume', 'Add', makePV('pvc-1', '30Gi', { className: 'csi-disk-topology', zone: 'cn-hangzhou-b', claim }));
  scheduler.handleEvent('PersistentVolumeClaim', 'Update', {
    ...claim,
    metadata: { ...claim.metadata, resourceVersion: '999', annotations: { ...claim.metadata.annotations, 'pv.kubernetes.io/bind-completed': 'yes' } },
    spec: { ...claim.spec, volumeName: 'pvc-1' },
  });
  await scheduler.waitForBindings();
  assert.deepEqual(api.bindings, [{ pod: 'default/disk-pod', node: host }]);
  assert.deepEqual(api.events.at(-1), { object: 'default/disk-pod', type: 'Normal', reason: 'Scheduled', message: `Successfully assigned default/disk-pod to ${host}` });
  assert.equal(scheduler.cache.isAssumedPod(makePod('disk-pod')), false);
  assert.equal(scheduler.cache.getNodeInfo(host)!.pods.length, 1);
});

test('PreFilter rejection: the message is the PreFilter one', async () => {
  const { api, scheduler } = lectureCluster();
  scheduler.handleEvent('StorageClass', 'Add', makeClass('fast', 'Immediate'));
  scheduler.handleEvent('PersistentVolumeClaim', 'Add', makePVC('data', '1Gi', { className: 'fast' }));
  scheduler.handleEvent('Pod', 'Add', makePod('web', ['data']));
  await scheduler.scheduleOne();
  assert.equal(
    api.events[0]!.message,
    '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
  );
  const diagnosis = JSON.parse(api.annotations.get('default/web')![AnnSchedulingDiagnosis]!) as SchedulingDiagnosis;
  assert.deepEqual(diagnosis.preFilter, { plugin: 'VolumeBinding', message: 'pod has unbound immediate PersistentVolumeClaims' });
  // The PV controller binding the claim re-queues the pod.
  scheduler.handleEvent('PersistentVolumeClaim', 'Update', makePVC('data', '1Gi', { className: 'fast', volumeName: 'pv', bound: true, rv: '2' }));
  assert.deepEqual(scheduler.queue.pendingPods().unschedulable, []);
});

test('local PVs: a bound PV on node1 conflicts with a pod forced elsewhere', async () => {
  const { api, scheduler } = lectureCluster();
  scheduler.handleEvent('StorageClass', 'Add', makeClass('local', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner'));
  const claim = makePVC('local-claim', '1Gi', { className: 'local', volumeName: 'local-pv-node1', bound: true });
  scheduler.handleEvent('PersistentVolumeClaim', 'Add', claim);
  scheduler.handleEvent('PersistentVolume', 'Add', makePV('local-pv-node1', '10Gi', { className: 'local', node: 'node1', claim }));
  scheduler.handleEvent('Pod', 'Add', makePod('forced', ['local-claim'], { nodeSelector: { 'kubernetes.io/hostname': 'node2' } }));
  await scheduler.scheduleOne();
  assert.equal(
    api.events[0]!.message,
    "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 1 node(s) had volume node affinity conflict. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
  );
});

test('static binding: the pod gets the PV of the node its selector names, then binds', async () => {
  const { api, scheduler } = lectureCluster();
  scheduler.handleEvent('StorageClass', 'Add', makeClass('local', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner'));
  scheduler.handleEvent('PersistentVolume', 'Add', makePV('pv-node1', '10Gi', { className: 'local', node: 'node1' }));
  scheduler.handleEvent('PersistentVolume', 'Add', makePV('pv-node2', '10Gi', { className: 'local', node: 'node2' }));
  scheduler.handleEvent('PersistentVolumeClaim', 'Add', makePVC('c', '1Gi', { className: 'local' }));
  scheduler.handleEvent('Pod', 'Add', makePod('p', ['c'], { nodeSelector: { 'kubernetes.io/hostname': 'node2' } }));
  await scheduler.scheduleOne();
  assert.equal(api.pvWrites.length, 1);
  const pv = api.pvWrites[0]!;
  assert.equal(pv.metadata.name, 'pv-node2');
  assert.equal(pv.spec.claimRef?.name, 'c');
  // The PV controller completes the binding.
  const claim = scheduler.objects.getPVC('default', 'c')!;
  scheduler.handleEvent('PersistentVolumeClaim', 'Update', makePVC('c', '1Gi', { className: 'local', volumeName: 'pv-node2', bound: true, rv: '500' }), claim);
  await scheduler.waitForBindings();
  assert.deepEqual(api.bindings, [{ pod: 'default/p', node: 'node2' }]);
});

test('resources: Insufficient cpu without lower-priority pods has no preemption victims', async () => {
  const { api, scheduler } = newScheduler();
  scheduler.handleEvent('Node', 'Add', makeNode('small', {}, undefined, { cpu: '1', memory: '1Gi', pods: '10' }));
  scheduler.handleEvent('Pod', 'Add', makePod('big', [], { containers: [{ name: 'c', resources: { requests: { cpu: '500m' } } }] }));
  scheduler.handleEvent('Pod', 'Add', { ...makePod('running', [], { nodeName: 'small', containers: [{ name: 'c', resources: { requests: { cpu: '800m' } } }] }) });
  await scheduler.scheduleOne();
  assert.equal(
    api.events[0]!.message,
    '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
  );
  // Deleting the running pod frees the cpu and re-queues the pod.
  scheduler.handleEvent('Pod', 'Delete', makePod('running', [], { nodeName: 'small' }));
  assert.deepEqual(scheduler.queue.pendingPods().unschedulable, []);
});

test('pods of another scheduler, bound pods and no nodes', async () => {
  const { api, scheduler } = newScheduler();
  scheduler.handleEvent('Pod', 'Add', makePod('other', [], { schedulerName: 'someone-else' }));
  assert.deepEqual(scheduler.queue.pendingPods().active, []);
  scheduler.handleEvent('Pod', 'Add', makePod('lonely'));
  await scheduler.scheduleOne();
  assert.equal(api.events[0]!.message, 'no nodes available to schedule pods');
  assert.equal(api.conditions[0]!.condition.reason, 'SchedulerError');
});

test('stale selected-node of a deleted node: ignored when placing, cleared when the pod cannot be placed', async () => {
  const { api, scheduler } = lectureCluster();
  scheduler.handleEvent('StorageClass', 'Add', makeClass('wffc', 'WaitForFirstConsumer', 'csi.strata.io'));
  scheduler.handleEvent('PersistentVolumeClaim', 'Add', makePVC('pinned', '1Gi', { className: 'wffc', selectedNode: 'node-gone' }));
  scheduler.handleEvent('Pod', 'Add', makePod('p', ['pinned']));
  await scheduler.scheduleOne();
  // Placed in the same cycle: PreBind replaced the stale selected-node.
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(api.pvcWrites.length, 1);
  assert.match(api.pvcWrites[0]!.metadata.annotations![AnnSelectedNode]!, /^node[12]$/);
  // The pod goes away: the binding cycle gives up.
  scheduler.handleEvent('Pod', 'Delete', makePod('p', ['pinned']));
  await scheduler.waitForBindings();
  assert.equal(api.events.at(-1)!.message, 'running PreBind plugin "VolumeBinding": binding volumes: pod does not exist any more: pod "p" not found');

  // A pod that fits nowhere else: the stale annotation is removed through the API.
  scheduler.handleEvent('PersistentVolumeClaim', 'Add', makePVC('pinned2', '1Gi', { className: 'wffc', selectedNode: 'node-gone' }));
  scheduler.handleEvent('Pod', 'Add', makePod('q', ['pinned2'], { nodeSelector: { nowhere: 'true' } }));
  await scheduler.scheduleOne();
  const cleared = api.pvcWrites.at(-1)!;
  assert.equal(cleared.metadata.name, 'pinned2');
  assert.equal(AnnSelectedNode in (cleared.metadata.annotations ?? {}), false);
});
