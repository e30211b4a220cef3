// `strata explain`'s logic over the diagnosis the real scheduler writes (run in memory) and live objects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CSIDriver, CoreEvent, KubeObject, Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass, VolumeSnapshot, VolumeSnapshotContent } from '../api/types.ts';
import type { ObjectKind } from '../scheduler/cluster-objects.ts';
import { AnnSchedulingDiagnosis, Scheduler } from '../scheduler/scheduler.ts';
import { makeCapacity, makeClass, makeNode, makePod, makePV, makePVC, RecordingSchedulerApi } from '../scheduler/testing.ts';
import { renderText } from './format.ts';
import { explainPod } from './pod.ts';
import { explainClaim } from './pvc.ts';
import { explainVolumeSnapshot } from './snapshot.ts';

const zone = 'topology.kubernetes.io/zone';
const masterTaint = { key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' as const };

/** The lecture's lab: a tainted master and two workers in cn-hangzhou-b. */
function lectureNodes(): Node[] {
  return [
    makeNode('master', { [zone]: 'cn-hangzhou-b' }, [masterTaint]),
    makeNode('node1', { [zone]: 'cn-hangzhou-b', rack: 'rack1' }),
    makeNode('node2', { [zone]: 'cn-hangzhou-b', rack: 'rack2' }),
  ];
}

interface World {
  nodes?: Node[];
  classes?: StorageClass[];
  claims?: PersistentVolumeClaim[];
  volumes?: PersistentVolume[];
  extra?: Array<[ObjectKind, KubeObject]>;
  pod: Pod;
}

/** Runs one scheduling attempt of the real scheduler and returns the pod with the diagnosis it recorded. */
async function diagnose(w: World): Promise<{ pod: Pod; message: string; input: Parameters<typeof explainPod>[0] }> {
  const api = new RecordingSchedulerApi();
  const scheduler = new Scheduler({ api, queue: { podInitialBackoffMs: 1, podMaxBackoffMs: 1 }, random: () => 0 });
  api.scheduler = scheduler;
  const nodes = w.nodes ?? lectureNodes();
  for (const n of nodes) scheduler.handleEvent('Node', 'Add', n);
  for (const sc of w.classes ?? []) scheduler.handleEvent('StorageClass', 'Add', sc);
  for (const [kind, obj] of w.extra ?? []) scheduler.handleEvent(kind, 'Add', obj);
  for (const pv of w.volumes ?? []) scheduler.handleEvent('PersistentVolume', 'Add', pv);
  for (const pvc of w.claims ?? []) scheduler.handleEvent('PersistentVolumeClaim', 'Add', pvc);
  scheduler.handleEvent('Pod', 'Add', w.pod);
  await scheduler.scheduleOne();
  const annotations = api.annotations.get(`default/${w.pod.metadata.name}`);
  assert.ok(annotations?.[AnnSchedulingDiagnosis], 'the scheduler recorded a diagnosis');
  const pod = { ...w.pod, metadata: { ...w.pod.metadata, annotations } };
  return {
    pod,
    message: api.events[0]!.message,
    input: { pod, nodes, claims: w.claims ?? [], volumes: w.volumes ?? [], storageClasses: w.classes ?? [] },
  };
}

const verdict = (e: ReturnType<typeof explainPod>, node: string) => e.nodes!.find((n) => n.node === node)!;

describe('explain pod', () => {
  it('allowedTopologies: names the class term, the nodes and their zone, and the fix (the lecture)', async () => {
    const { input, message } = await diagnose({
      classes: [makeClass('csi-disk-topology', 'WaitForFirstConsumer', 'csi.strata.io', [{ matchLabelExpressions: [{ key: zone, values: ['cn-hangzhou-d'] }] }])],
      claims: [makePVC('disk-pvc', '30Gi', { className: 'csi-disk-topology' })],
      pod: makePod('disk-pod', ['disk-pvc']),
    });
    const e = explainPod(input);
    assert.equal(e.state, 'Unschedulable');
    assert.equal(e.summary, message);
    assert.deepEqual(e.reasons[0], 'StorageClass csi-disk-topology allows topology.kubernetes.io/zone in [cn-hangzhou-d]; no schedulable node is in cn-hangzhou-d (node1, node2 are in cn-hangzhou-b)');
    assert.match(e.fixes[0], /recreate StorageClass csi-disk-topology with allowedTopologies naming topology.kubernetes.io\/zone cn-hangzhou-b/);
    assert.deepEqual(verdict(e, 'node1').details, ['StorageClass csi-disk-topology allows topology.kubernetes.io/zone in [cn-hangzhou-d]; this node has topology.kubernetes.io/zone=cn-hangzhou-b']);
    assert.deepEqual(verdict(e, 'master'), {
      node: 'master', zone: 'cn-hangzhou-b', fits: false, plugin: 'TaintToleration',
      reasons: ['node(s) had untolerated taint {node-role.kubernetes.io/master: }'],
      details: ['taint node-role.kubernetes.io/master:NoSchedule is not tolerated by the pod'],
    });
    const text = renderText(e);
    assert.match(text, /^Pod default\/disk-pod: Unschedulable\n/);
    assert.match(text, /master\s+cn-hangzhou-b\s+rejected\s+TaintToleration\s+node\(s\) had untolerated taint/);
    assert.match(text, /Why:\n {2}- StorageClass csi-disk-topology allows/);
  });

  it('taint: every node tainted, the fix is a toleration', async () => {
    const taint = { key: 'dedicated', value: 'db', effect: 'NoSchedule' as const };
    const { input } = await diagnose({
      nodes: [makeNode('a', { [zone]: 'z1' }, [taint]), makeNode('b', { [zone]: 'z2' }, [taint])],
      pod: makePod('web'),
    });
    const e = explainPod(input);
    assert.deepEqual(verdict(e, 'a').details, ['taint dedicated=db:NoSchedule is not tolerated by the pod']);
    assert.deepEqual(e.reasons, ['a, b are ruled out by taints the pod does not tolerate (dedicated=db:NoSchedule)']);
    assert.deepEqual(e.fixes, ['add tolerations for those taints to the pod, or remove the taints from a node']);
  });

  it('selector: shows the label each node has instead', async () => {
    const { input } = await diagnose({ pod: makePod('web', [], { nodeSelector: { rack: 'rack3' } }) });
    const e = explainPod(input);
    assert.deepEqual(verdict(e, 'node1').details, ['nodeSelector rack=rack3: the node has rack=rack1']);
    assert.deepEqual(verdict(e, 'master').plugin, 'TaintToleration');
    assert.ok(e.reasons.includes('node1, node2 are ruled out by the pod\'s nodeSelector rack=rack3'), e.reasons.join('\n'));
    assert.deepEqual(e.fixes, ["label a node to match (kubectl label node NAME rack=rack3) or change the pod's node selection"]);
  });

  it('volume node affinity conflict: the bound PV, its affinity and where it is reachable', async () => {
    const claim = makePVC('local-claim', '1Gi', { className: 'local', volumeName: 'local-pv-node1', bound: true });
    const { input } = await diagnose({
      classes: [makeClass('local', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner')],
      claims: [claim],
      volumes: [makePV('local-pv-node1', '10Gi', { className: 'local', node: 'node1', claim })],
      pod: makePod('forced', ['local-claim'], { nodeSelector: { 'kubernetes.io/hostname': 'node2' } }),
    });
    const e = explainPod(input);
    const node1 = verdict(e, 'node1');
    assert.equal(node1.plugin, 'NodeAffinity');
    const node2 = verdict(e, 'node2');
    assert.equal(node2.plugin, 'VolumeBinding');
    assert.deepEqual(node2.reasons, ['node(s) had volume node affinity conflict']);
    assert.deepEqual(node2.details, ['PVC default/local-claim is bound to PV local-pv-node1, whose node affinity kubernetes.io/hostname in [node1] does not match this node (kubernetes.io/hostname=node2)']);
    assert.equal(e.reasons[0], 'PVC default/local-claim is bound to PV local-pv-node1, reachable only from nodes where kubernetes.io/hostname in [node1] (node1); the pod cannot run on any of them');
    assert.match(e.fixes[0], /^let the pod run on node1/);
  });

  it('no PV to bind: each candidate PV and why, and the PV that would fix it', async () => {
    const { input, message } = await diagnose({
      classes: [makeClass('local', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner')],
      claims: [makePVC('big', '50Gi', { className: 'local' })],
      volumes: [makePV('pv-node1', '10Gi', { className: 'local', node: 'node1' }), makePV('pv-node2', '20Gi', { className: 'local', node: 'node2' })],
      pod: makePod('p', ['big']),
    });
    assert.match(message, /2 node\(s\) didn't find available persistent volumes to bind/);
    const e = explainPod(input);
    const node1 = verdict(e, 'node1').details;
    assert.ok(node1.includes('PV pv-node1 cannot serve PVC default/big: capacity 10Gi is less than the requested 50Gi'), node1.join('\n'));
    assert.ok(node1.includes('PV pv-node2 cannot serve PVC default/big: capacity 20Gi is less than the requested 50Gi; its node affinity kubernetes.io/hostname in [node2] does not match this node'), node1.join('\n'));
    assert.ok(node1.includes('StorageClass local has no provisioner (kubernetes.io/no-provisioner): only an existing PV can serve PVC default/big, and none on this node does'));
    assert.equal(e.reasons[0], 'no PV can serve PVC default/big on a schedulable node (node1, node2), and StorageClass local has no provisioner (kubernetes.io/no-provisioner)');
    assert.equal(e.fixes[0], 'create a PV with storageClassName local, capacity ≥ 50Gi, access modes [ReadWriteOnce] and node affinity to one of node1, node2');
  });

  it('not enough storage: the requested size and the capacity reachable from each node', async () => {
    const driver: CSIDriver = { metadata: { name: 'csi.strata.io', resourceVersion: '1' }, spec: { storageCapacity: true } } as CSIDriver;
    const { input, message } = await diagnose({
      classes: [makeClass('zonal', 'WaitForFirstConsumer')],
      claims: [makePVC('huge', '300Gi', { className: 'zonal' })],
      extra: [
        ['CSIDriver', driver],
        ['CSIStorageCapacity', makeCapacity('cap-b', 'zonal', '100Gi', { [zone]: 'cn-hangzhou-b' })],
      ],
      pod: makePod('p', ['huge']),
    });
    assert.match(message, /2 node\(s\) did not have enough free storage/);
    const e = explainPod(input);
    assert.deepEqual(verdict(e, 'node2').details, ['PVC default/huge requests 300Gi; CSIStorageCapacity kube-system/cap-b has capacity 100Gi']);
    assert.equal(e.reasons[0], 'PVC default/huge requests 300Gi of StorageClass zonal; the most any schedulable node can get is 100Gi');
    assert.equal(e.fixes[0], "request at most 100Gi, or free space in the class's pools");
  });

  it('PreFilter rejection and scheduled pods', async () => {
    const { input } = await diagnose({
      classes: [makeClass('fast', 'Immediate')],
      claims: [makePVC('data', '1Gi', { className: 'fast' })],
      pod: makePod('web', ['data']),
    });
    const e = explainPod(input);
    assert.deepEqual(e.reasons, ['VolumeBinding rejected the pod before looking at nodes: pod has unbound immediate PersistentVolumeClaims']);
    const running = explainPod({ ...input, pod: { ...input.pod, spec: { ...input.pod.spec, nodeName: 'node1' }, status: { phase: 'Running' } } });
    assert.equal(running.summary, 'scheduled to node node1 in cn-hangzhou-b; phase Running');
  });

  it('JSON form carries every node verdict', async () => {
    const { input } = await diagnose({ pod: makePod('web', [], { nodeSelector: { rack: 'rack3' } }) });
    const json = JSON.parse(JSON.stringify(explainPod(input)));
    assert.deepEqual(json.nodes.map((n: { node: string; plugin: string }) => [n.node, n.plugin]), [['master', 'TaintToleration'], ['node1', 'NodeAffinity'], ['node2', 'NodeAffinity']]);
  });
});

const event = (reason: string, message: string, time: string, type: 'Warning' | 'Normal' = 'Warning'): CoreEvent =>
  ({ metadata: { name: reason }, involvedObject: {}, reason, message, type, lastTimestamp: time }) as CoreEvent;

describe('explain pvc', () => {
  const wffc = makeClass('local', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner');
  it('waiting for a consumer, with the pod that uses it', () => {
    const claim = makePVC('c', '1Gi', { className: 'local' });
    const pod = makePod('p', ['c']);
    pod.status = { conditions: [{ type: 'PodScheduled', status: 'False', message: '0/3 nodes are available: …' }] };
    const e = explainClaim({ claim, storageClass: wffc, volumes: [], pods: [pod], events: [] });
    assert.match(e.summary, /^waiting for first consumer: StorageClass local has volumeBindingMode WaitForFirstConsumer/);
    assert.deepEqual(e.reasons, ['pod p uses it and is not scheduled: 0/3 nodes are available: …']);
    assert.deepEqual(e.fixes, ['see why pod p cannot be placed: strata explain pod p -n default']);
    const alone = explainClaim({ claim, storageClass: wffc, volumes: [], pods: [], events: [] });
    assert.deepEqual(alone.reasons, ['no pod uses it yet']);
  });

  it('no matching PV: every candidate and why', () => {
    const immediate = makeClass('manual', 'Immediate', 'kubernetes.io/no-provisioner');
    const claim = makePVC('c', '5Gi', { className: 'manual' });
    const other = makePVC('x', '1Gi');
    const e = explainClaim({
      claim,
      storageClass: immediate,
      volumes: [makePV('small', '1Gi', { className: 'manual' }), makePV('taken', '10Gi', { className: 'manual', claim: other })],
      pods: [],
      events: [event('FailedBinding', 'no persistent volumes available for this claim and no storage class is set', '2026-01-01T00:00:00Z')],
    });
    assert.equal(e.summary, 'no PV matches it, and nothing provisions one');
    assert.deepEqual(e.reasons, [
      'PV small cannot serve it: capacity 1Gi is less than the requested 5Gi',
      '1 other PV(s) are bound to other claims',
      'event FailedBinding: no persistent volumes available for this claim and no storage class is set',
    ]);
    assert.equal(e.fixes[0], 'create a PV with storageClassName "manual", capacity ≥ 5Gi and access modes [ReadWriteOnce]');
  });

  it('provisioning errors from events, latest per reason', () => {
    const claim = makePVC('c', '1Gi', { className: 'fast', selectedNode: 'node1' });
    const e = explainClaim({
      claim,
      storageClass: makeClass('fast', 'WaitForFirstConsumer'),
      volumes: [],
      pods: [],
      events: [
        event('ProvisioningFailed', 'old', '2026-01-01T00:00:00Z'),
        event('ProvisioningFailed', 'failed to provision volume with StorageClass "fast": rpc error: code = ResourceExhausted desc = no zonal pool', '2026-01-01T00:01:00Z'),
        event('Provisioning', 'External provisioner is provisioning volume', '2026-01-01T00:01:00Z', 'Normal'),
      ],
    });
    assert.equal(e.summary, 'waiting for provisioner csi.strata.io to create a volume for node node1');
    assert.deepEqual(e.reasons, ['event ProvisioningFailed: failed to provision volume with StorageClass "fast": rpc error: code = ResourceExhausted desc = no zonal pool']);
  });

  it('bound, missing class', () => {
    assert.equal(explainClaim({ claim: makePVC('c', '1Gi', { volumeName: 'pv-1', bound: true }), volumes: [], pods: [], events: [] }).summary, 'bound to PV pv-1 (?)');
    assert.equal(explainClaim({ claim: makePVC('c', '1Gi', { className: 'nope' }), volumes: [], pods: [], events: [] }).summary, 'StorageClass nope does not exist');
  });
});

describe('explain volumesnapshot', () => {
  const snap = (status?: VolumeSnapshot['status']): VolumeSnapshot => ({
    metadata: { name: 's', namespace: 'default', uid: 'u1' },
    spec: { source: { persistentVolumeClaimName: 'data' }, volumeSnapshotClassName: 'vsc' },
    ...(status ? { status } : {}),
  });
  const cls = { metadata: { name: 'vsc' }, driver: 'csi.strata.io', deletionPolicy: 'Delete' as const };
  const bound = makePVC('data', '1Gi', { volumeName: 'pv', bound: true });
  const content = (status?: VolumeSnapshotContent['status']): VolumeSnapshotContent => ({
    metadata: { name: 'snapcontent-u1' },
    spec: { volumeSnapshotRef: { name: 's', namespace: 'default' }, deletionPolicy: 'Delete', driver: 'csi.strata.io', source: { volumeHandle: 'vol-1' } },
    ...(status ? { status } : {}),
  });
  const cases: Array<{ name: string; input: Parameters<typeof explainVolumeSnapshot>[0]; state: string; summary: string }> = [
    { name: 'source PVC missing', input: { snapshot: snap(), classes: [cls], events: [] }, state: 'Pending', summary: 'waiting for the source PVC data, which does not exist' },
    { name: 'source PVC pending', input: { snapshot: snap(), classes: [cls], sourceClaim: makePVC('data', '1Gi'), events: [] }, state: 'Pending', summary: 'waiting for the source PVC data to be bound (it is Pending)' },
    { name: 'class missing', input: { snapshot: snap(), classes: [], sourceClaim: bound, events: [] }, state: 'Pending', summary: 'VolumeSnapshotClass vsc does not exist' },
    { name: 'content not created', input: { snapshot: snap(), classes: [cls], sourceClaim: bound, events: [] }, state: 'Pending', summary: 'waiting for the snapshot controller to create VolumeSnapshotContent snapcontent-u1' },
    { name: 'driver cutting', input: { snapshot: snap({ boundVolumeSnapshotContentName: 'snapcontent-u1', readyToUse: false }), content: content(), classes: [cls], sourceClaim: bound, events: [] }, state: 'Pending', summary: 'waiting for driver csi.strata.io to cut the snapshot (VolumeSnapshotContent snapcontent-u1)' },
    { name: 'error', input: { snapshot: snap({ readyToUse: false, error: { message: 'Failed to check and update snapshot content: boom' } }), classes: [cls], sourceClaim: bound, events: [] }, state: 'Error', summary: 'error: Failed to check and update snapshot content: boom' },
    {
      name: 'ready',
      input: { snapshot: snap({ boundVolumeSnapshotContentName: 'snapcontent-u1', readyToUse: true, restoreSize: '1Gi', creationTime: '2026-01-01T00:00:00Z' }), content: content({ snapshotHandle: 'snap-1', readyToUse: true }), classes: [cls], sourceClaim: bound, events: [] },
      state: 'Ready',
      summary: 'ready to use: VolumeSnapshotContent snapcontent-u1, snapshotHandle snap-1, restoreSize 1Gi, created 2026-01-01T00:00:00Z',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = explainVolumeSnapshot(c.input);
      assert.equal(e.state, c.state);
      assert.equal(e.summary, c.summary);
    });
  }
});
