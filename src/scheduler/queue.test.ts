import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnqueueExtensions } from './framework/interfaces.ts';
import { SchedulingQueue } from './queue.ts';
import { makePod } from './testing.ts';
import { VolumeBindingPlugin } from './plugins/volume-binding/volume-binding.ts';
import { NodeResourcesFitPlugin } from './plugins/node-resources/fit.ts';
import { ClusterObjects } from './cluster-objects.ts';
import { makeClass, makePVC } from './testing.ts';

function newQueue() {
  let now = 1000;
  const plugins: EnqueueExtensions[] = [
    new VolumeBindingPlugin(new ClusterObjects(), { updatePV: async (pv) => pv, updatePVC: async (pvc) => pvc }),
    new NodeResourcesFitPlugin(),
  ];
  const queue = new SchedulingQueue(plugins, { now: () => now });
  return { queue, advance: (ms: number) => (now += ms) };
}

test('activeQ: higher priority first, then earlier', async () => {
  const { queue, advance } = newQueue();
  queue.add(makePod('low'));
  advance(1);
  queue.add(makePod('high', [], { priority: 10 }));
  advance(1);
  queue.add(makePod('low2'));
  const order = [];
  for (let i = 0; i < 3; i++) order.push((await queue.pop())!.pod.metadata.name);
  assert.deepEqual(order, ['high', 'low', 'low2']);
});

test('backoff doubles from 1 s to at most 10 s', () => {
  const { queue } = newQueue();
  const info = { pod: makePod('p'), timestamp: 0, attempts: 0, unschedulablePlugins: new Set<string>() };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((attempts) => queue.backoffDuration({ ...info, attempts })), [0, 1000, 2000, 4000, 8000, 10000, 10000]);
});

test('unschedulable pods wait for an event their rejecting plugin registered', async () => {
  const { queue, advance } = newQueue();
  queue.add(makePod('vol', ['data']));
  queue.add(makePod('cpu'));
  const vol = (await queue.pop())!;
  vol.unschedulablePlugins = new Set(['VolumeBinding']);
  queue.addUnschedulableIfNotPresent(vol);
  const cpu = (await queue.pop())!;
  cpu.unschedulablePlugins = new Set(['NodeResourcesFit']);
  queue.addUnschedulableIfNotPresent(cpu);
  assert.deepEqual(queue.pendingPods().unschedulable, ['default/vol', 'default/cpu']);

  // A StorageClass update that leaves allowedTopologies alone helps nobody.
  const sc = makeClass('c', 'WaitForFirstConsumer');
  queue.moveAllToActiveOrBackoffQueue({ resource: 'StorageClass', action: 'Update', label: 'StorageClassUpdate' }, sc, { ...sc, parameters: { a: 'b' } });
  // Another pod's claim neither.
  queue.moveAllToActiveOrBackoffQueue({ resource: 'PersistentVolumeClaim', action: 'Add', label: 'PVCAdd' }, undefined, makePVC('unrelated', '1Gi'));
  assert.deepEqual(queue.pendingPods().unschedulable, ['default/vol', 'default/cpu']);
  // Its own claim does: still backing off, it goes to backoffQ, then to activeQ.
  queue.moveAllToActiveOrBackoffQueue({ resource: 'PersistentVolumeClaim', action: 'Update', label: 'PVCUpdate' }, undefined, makePVC('data', '1Gi'));
  assert.deepEqual(queue.pendingPods(), { active: [], backoff: ['default/vol'], unschedulable: ['default/cpu'] });
  advance(1000);
  queue.flushBackoffQCompleted();
  assert.deepEqual(queue.pendingPods().active, ['default/vol']);
  // A deleted assigned pod frees resources.
  queue.moveAllToActiveOrBackoffQueue({ resource: 'AssignedPod', action: 'Delete', label: 'AssignedPodDelete' });
  assert.deepEqual(queue.pendingPods().unschedulable, []);
});

test('an event during the attempt sends the pod to backoffQ, not to the unschedulable pods', async () => {
  const { queue } = newQueue();
  queue.add(makePod('vol', ['data']));
  const vol = (await queue.pop())!;
  queue.moveAllToActiveOrBackoffQueue({ resource: 'PersistentVolume', action: 'Add', label: 'PVAdd' });
  vol.unschedulablePlugins = new Set(['VolumeBinding']);
  queue.addUnschedulableIfNotPresent(vol);
  assert.deepEqual(queue.pendingPods().backoff, ['default/vol']);
});

test('unschedulable pods are retried after 5 minutes anyway; errors go to backoffQ', async () => {
  const { queue, advance } = newQueue();
  queue.add(makePod('p'));
  const p = (await queue.pop())!;
  p.unschedulablePlugins = new Set(['NodeResourcesFit']);
  queue.addUnschedulableIfNotPresent(p);
  advance(5 * 60_000);
  queue.flushUnschedulablePodsLeftover();
  assert.deepEqual(queue.pendingPods().unschedulable, ['default/p']);
  advance(1);
  queue.flushUnschedulablePodsLeftover();
  assert.deepEqual(queue.pendingPods().active, ['default/p']);
  const again = (await queue.pop())!;
  again.unschedulablePlugins = new Set();
  queue.addUnschedulableIfNotPresent(again);
  assert.deepEqual(queue.pendingPods().backoff, ['default/p']);
});

test('a spec update of an unschedulable pod retries it; a status update does not', async () => {
  const { queue, advance } = newQueue();
  const pod = makePod('p');
  queue.add(pod);
  const p = (await queue.pop())!;
  p.unschedulablePlugins = new Set(['NodeResourcesFit']);
  queue.addUnschedulableIfNotPresent(p);
  queue.update(pod, { ...pod, status: { phase: 'Pending' }, metadata: { ...pod.metadata, resourceVersion: '9' } });
  assert.deepEqual(queue.pendingPods().unschedulable, ['default/p']);
  advance(2000);
  queue.update(pod, { ...pod, metadata: { ...pod.metadata, labels: { a: 'b' } } });
  assert.deepEqual(queue.pendingPods().active, ['default/p']);
});

test('in-flight events: a pod sees the events since it was popped, not earlier ones, however many pods are binding', async () => {
  const { queue } = newQueue();
  for (let i = 0; i < 3000; i++) queue.add(makePod(`binding-${i}`));
  // Thousands of pods stay in flight (binding) while events pass; each is recorded once.
  for (let i = 0; i < 3000; i++) await queue.pop();
  for (let i = 0; i < 3000; i++) queue.moveAllToActiveOrBackoffQueue({ resource: 'Node', action: 'Add', label: 'NodeAdd' });
  queue.add(makePod('early', ['data']));
  const early = (await queue.pop())!;
  queue.moveAllToActiveOrBackoffQueue({ resource: 'PersistentVolume', action: 'Add', label: 'PVAdd' });
  queue.add(makePod('late', ['data']));
  const late = (await queue.pop())!;
  for (let i = 0; i < 3000; i++) queue.done(makePod(`binding-${i}`));
  for (const info of [early, late]) {
    info.unschedulablePlugins = new Set(['VolumeBinding']);
    queue.addUnschedulableIfNotPresent(info);
  }
  // The PV was added while "early" was in flight: it may help, so backoffQ; "late" waits for the next event.
  assert.deepEqual(queue.pendingPods(), { active: [], backoff: ['default/early'], unschedulable: ['default/late'] });
});
