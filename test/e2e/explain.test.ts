// `strata explain` against a running `strata up` on the lecture's lab: every node with the plugin that refused the
// pod and why, in text and JSON, for taints, selectors, volume node affinity, no PV to bind, allowedTopologies and
// storage capacity; PVCs and VolumeSnapshots waiting on something.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LECTURE_LAB, startUp, type UpProcess } from '../helpers/cluster.ts';
import { eventually, startStrata } from '../helpers/processes.ts';

let up: UpProcess;

async function explain(args: string[]): Promise<string> {
  const proc = startStrata(['explain', ...args, '--kubeconfig', up.kubeconfig]);
  const code = await proc.exited;
  assert.equal(code, 0, proc.output());
  return proc.output();
}

interface Verdict { node: string; plugin?: string; reasons: string[]; details: string[] }

async function explainJson(kind: string, name: string): Promise<{ state: string; reasons: string[]; fixes: string[]; nodes: Verdict[] }> {
  return JSON.parse(await explain([kind, name, '-o', 'json']));
}

const pod = (name: string, claim?: string, nodeSelector?: Record<string, string>) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  ${nodeSelector ? `nodeSelector: ${JSON.stringify(nodeSelector)}` : ''}
  containers: [{name: c, image: busybox, command: [sleep, "3600"]${claim ? ', volumeMounts: [{name: v, mountPath: /data}]' : ''}}]
  ${claim ? `volumes: [{name: v, persistentVolumeClaim: {claimName: ${claim}}}]` : ''}
`;
const pvc = (name: string, className: string, size: string, volumeName?: string) => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}}
spec: {accessModes: [ReadWriteOnce], storageClassName: ${className}, resources: {requests: {storage: ${size}}}${volumeName ? `, volumeName: ${volumeName}` : ''}}
`;
const localPV = (name: string, node: string, size: string, className: string) => `apiVersion: v1
kind: PersistentVolume
metadata: {name: ${name}}
spec:
  capacity: {storage: ${size}}
  accessModes: [ReadWriteOnce]
  storageClassName: ${className}
  local: {path: /mnt/disks/${name}}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${node}]}]}]}}
`;
const noProvisionerClass = (name: string) => `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ${name}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
`;

/** Waits until the scheduler has recorded a diagnosis whose message matches. */
async function unschedulable(name: string, message: RegExp): Promise<void> {
  let last = '';
  await eventually(async () => {
    const pod = JSON.parse(await up.ok(['get', 'pod', name, '-o', 'json']));
    last = JSON.stringify(pod.metadata.annotations ?? {}) + JSON.stringify(pod.status ?? {});
    const diagnosis = pod.metadata.annotations?.['strata.io/scheduling-diagnosis'];
    return diagnosis && message.test(JSON.parse(diagnosis).message);
  }, { timeoutMs: 30_000, what: `pod ${name} unschedulable with ${message}` }).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${last}`);
  });
}

describe('strata explain', () => {
  before(async () => {
    up = await startUp({ cluster: LECTURE_LAB });
  });
  after(async () => {
    await up?.cleanup();
  });

  it('allowedTopologies and taint (the lecture), text and JSON', async () => {
    await up.ok(['apply', '-f', 'examples/topology/storageclass-zone-d.yaml', '-f', 'examples/topology/pvc.yaml', '-f', 'examples/topology/pod.yaml']);
    await unschedulable('disk-pod', /2 node\(s\) didn't find available persistent volumes to bind/);
    const text = await explain(['pod', 'disk-pod']);
    assert.match(text, /^Pod default\/disk-pod: Unschedulable$/m);
    assert.match(text, /^ {2}master\s+cn-hangzhou-b\s+rejected\s+TaintToleration\s+node\(s\) had untolerated taint \{node-role.kubernetes.io\/master: \}$/m);
    assert.match(text, /^ {4}- taint node-role.kubernetes.io\/master:NoSchedule is not tolerated by the pod$/m);
    assert.ok(text.includes('  - StorageClass csi-disk-topology allows topology.kubernetes.io/zone in [cn-hangzhou-d]; no schedulable node is in cn-hangzhou-d (node1, node2 are in cn-hangzhou-b)'), text);
    const json = await explainJson('pod', 'disk-pod');
    assert.deepEqual(json.nodes.map((n) => [n.node, n.plugin]), [['master', 'TaintToleration'], ['node1', 'VolumeBinding'], ['node2', 'VolumeBinding']]);
    assert.deepEqual(json.nodes[1].details, ['StorageClass csi-disk-topology allows topology.kubernetes.io/zone in [cn-hangzhou-d]; this node has topology.kubernetes.io/zone=cn-hangzhou-b']);

    const claim = await explain(['pvc', 'disk-pvc']);
    assert.match(claim, /waiting for first consumer: StorageClass csi-disk-topology has volumeBindingMode WaitForFirstConsumer/);
    assert.match(claim, /pod disk-pod uses it and is not scheduled: 0\/3 nodes are available/);
  });

  it('selector: the label each node has instead', async () => {
    await up.ok(['apply', '-f', '-'], pod('picky', undefined, { rack: 'rack3' }));
    await unschedulable('picky', /node affinity\/selector/);
    const json = await explainJson('pod', 'picky');
    assert.deepEqual(json.nodes.find((n) => n.node === 'node2')!.details, ['nodeSelector rack=rack3: the node has rack=rack2']);
    assert.ok(json.reasons.includes("node1, node2 are ruled out by the pod's nodeSelector rack=rack3"), json.reasons.join('\n'));
    assert.match(await explain(['pod', 'picky']), /To fix:\n {2}- label a node to match \(kubectl label node NAME rack=rack3\)/);
  });

  it('volume node affinity conflict: the bound PV and where it is reachable', async () => {
    await up.ok(['apply', '-f', '-'], [noProvisionerClass('local-explain'), localPV('pv-on-node1', 'node1', '10Gi', 'local-explain'), pvc('pinned', 'local-explain', '1Gi', 'pv-on-node1')].join('---\n'));
    await eventually(async () => (await up.ok(['get', 'pvc', 'pinned', '-o', 'jsonpath={.status.phase}'])) === 'Bound', { timeoutMs: 30_000, what: 'pinned Bound' });
    await up.ok(['apply', '-f', '-'], pod('forced', 'pinned', { 'kubernetes.io/hostname': 'node2' }));
    await unschedulable('forced', /1 node\(s\) had volume node affinity conflict/);
    const json = await explainJson('pod', 'forced');
    const node2 = json.nodes.find((n) => n.node === 'node2')!;
    assert.deepEqual(node2.reasons, ['node(s) had volume node affinity conflict']);
    assert.deepEqual(node2.details, ['PVC default/pinned is bound to PV pv-on-node1, whose node affinity kubernetes.io/hostname in [node1] does not match this node (kubernetes.io/hostname=node2)']);
    assert.match(json.reasons[0], /reachable only from nodes where kubernetes.io\/hostname in \[node1\] \(node1\)/);
  });

  it('no PV to bind: each candidate and why', async () => {
    await up.ok(['apply', '-f', '-'], [noProvisionerClass('local-small'), localPV('small-pv', 'node1', '1Gi', 'local-small'), pvc('wants-5gi', 'local-small', '5Gi')].join('---\n'));
    await up.ok(['apply', '-f', '-'], pod('needs-pv', 'wants-5gi'));
    await unschedulable('needs-pv', /2 node\(s\) didn't find available persistent volumes to bind/);
    const text = await explain(['pod', 'needs-pv']);
    assert.ok(text.includes('PV small-pv cannot serve PVC default/wants-5gi: capacity 1Gi is less than the requested 5Gi'), text);
    assert.ok(text.includes('no PV can serve PVC default/wants-5gi on a schedulable node (node1, node2), and StorageClass local-small has no provisioner (kubernetes.io/no-provisioner)'), text);
    const claim = await explain(['pvc', 'wants-5gi']);
    assert.match(claim, /PV small-pv cannot serve it: capacity 1Gi is less than the requested 5Gi/);
  });

  it('not enough storage: the request and the capacity the nodes can reach', async () => {
    await up.ok(['apply', '-f', '-'], `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: csi-zonal}
provisioner: csi.strata.io
parameters: {type: zonal}
volumeBindingMode: WaitForFirstConsumer
---
${pvc('huge', 'csi-zonal', '1000Gi')}`);
    await up.ok(['apply', '-f', '-'], pod('greedy', 'huge'));
    await unschedulable('greedy', /2 node\(s\) did not have enough free storage/);
    // Once the provisioner has published the class's capacity, the diagnosis names it.
    const json = await eventually(async () => {
      const j = await explainJson('pod', 'greedy');
      return j.reasons.some((r) => r.includes('the most any schedulable node can get is')) ? j : undefined;
    }, { timeoutMs: 30_000, what: 'capacity in the diagnosis' });
    assert.match(json.reasons[0], /^PVC default\/huge requests 1000Gi of StorageClass csi-zonal; the most any schedulable node can get is \S+$/);
    assert.match(json.nodes.find((n) => n.node === 'node1')!.details[0], /^PVC default\/huge requests 1000Gi; CSIStorageCapacity \S+ has (capacity|maximumVolumeSize) \S+$/);
  });

  it('volumesnapshot: the step it waits on', async () => {
    await up.ok(['apply', '-f', '-'], `apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: orphan}
spec: {volumeSnapshotClassName: none, source: {persistentVolumeClaimName: nope}}
`);
    const text = await eventually(async () => {
      const t = await explain(['volumesnapshot', 'orphan']);
      return /: Error\n/.test(t) ? t : undefined;
    }, { what: 'the snapshot controller reporting an error' });
    assert.match(text, /^ {2}error: Failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io "none" not found$/m);
    assert.match(text, /^ {2}- waiting for the source PVC nope, which does not exist$/m);
    assert.match(text, /^ {2}- create PVC nope in namespace default/m);
    const missing = startStrata(['explain', 'pod', 'nope', '--kubeconfig', up.kubeconfig]);
    assert.equal(await missing.exited, 1);
    assert.match(missing.output(), /strata: pods "nope" not found/);
  });
});
