// Topology-aware scheduling on the real system (`strata up` with three nodes in three zones), driven with kubectl:
// local PVs pinned by hostname, WaitForFirstConsumer provisioning in each pod's zone, a pod's volume and logs, pod
// deletion, and a stale selected-node annotation (k8s #100485). The lecture's own demonstration is in demos.test.ts.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startUp, type UpProcess } from '../helpers/cluster.ts';
import { eventually, tempDir } from '../helpers/processes.ts';

const clusterFile = `
apiVersion: strata.io/v1alpha1
kind: Cluster
metadata: {name: three-zones}
spec:
  region: region-1
  zones:
    - {name: zone-a, zonalPool: 100Gi}
    - {name: zone-b, zonalPool: 100Gi}
    - {name: zone-c, zonalPool: 100Gi}
  nodes:
    - {name: node1, zone: zone-a}
    - {name: node2, zone: zone-b}
    - {name: node3, zone: zone-c}
`;

const localClass = `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-storage}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
`;

const zonalClass = `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: zonal-wffc}
provisioner: csi.strata.io
parameters: {type: zonal}
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
`;

function localPV(name: string, node: string, path: string): string {
  return `
apiVersion: v1
kind: PersistentVolume
metadata: {name: ${name}}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local-storage
  local: {path: ${path}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${node}]}]
`;
}

function claim(name: string, className: string, extra: { volumeName?: string; selectedNode?: string } = {}): string {
  return `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${name}
${extra.selectedNode ? `  annotations: {volume.kubernetes.io/selected-node: ${extra.selectedNode}}\n` : ''}spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ${className}
  resources: {requests: {storage: 1Gi}}
${extra.volumeName ? `  volumeName: ${extra.volumeName}\n` : ''}`;
}

// The container writes into its volume, says so on stdout, and records SIGTERM in the volume before it exits.
const writerScript = `trap 'echo got SIGTERM > /data/term.txt; exit 0' TERM; echo "written by $POD_NAME" > /data/out.txt; cat /data/out.txt; while true; do sleep 0.2; done`;

function pod(name: string, claimName: string, nodeSelector: Record<string, string>): string {
  return `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 10
  nodeSelector: ${JSON.stringify(nodeSelector)}
  containers:
    - name: app
      image: busybox
      command: [sh, -c, ${JSON.stringify(writerScript)}]
      env: [{name: POD_NAME, value: ${name}}]
      volumeMounts: [{name: data, mountPath: /data}]
  volumes:
    - name: data
      persistentVolumeClaim: {claimName: ${claimName}}
`;
}

const hostname = (node: string) => ({ 'kubernetes.io/hostname': node });

describe('topology-aware scheduling on strata up', () => {
  const dir = tempDir('strata-scheduling-');
  const diskOf = { node1: join(dir, 'disk-node1'), node2: join(dir, 'disk-node2'), node3: join(dir, 'disk-node3') };
  let up: UpProcess;

  const jsonpath = (args: string[], path: string) => up.ok([...args, '-o', `jsonpath=${path}`]);
  const waitRunning = (name: string) =>
    eventually(async () => (await jsonpath(['get', 'pod', name], '{.status.phase}')) === 'Running', { timeoutMs: 30_000, what: `pod ${name} Running` });
  const failedScheduling = async (name: string): Promise<string[]> => {
    const events = JSON.parse(await up.ok(['get', 'events', '-o', 'json'])) as { items: Array<{ reason: string; message: string; involvedObject: { name: string } }> };
    return events.items.filter((e) => e.reason === 'FailedScheduling' && e.involvedObject.name === name).map((e) => e.message);
  };
  /** The mount points on the host under a pod's directory on its node. */
  const podMounts = (node: string, uid: string): string[] => {
    const podDir = join(up.dataDir, 'nodes', node, 'pods', uid);
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(podDir));
  };

  before(async () => {
    for (const d of Object.values(diskOf)) mkdirSync(d);
    writeFileSync(join(dir, 'cluster.yaml'), clusterFile);
    up = await startUp({ cluster: join(dir, 'cluster.yaml') });
    await up.ok(['apply', '-f', '-'], [localClass, zonalClass, localPV('local-pv-node1', 'node1', diskOf.node1), localPV('local-pv-node2', 'node2', diskOf.node2)].join('---\n'));
  });
  after(async () => {
    await up?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('local PVs: a pod pinned to node2 gets node2\'s PV and runs; one whose claim is bound to node1\'s PV cannot go to node2', async () => {
    await up.ok(['apply', '-f', '-'], [claim('local-a', 'local-storage'), pod('local-pod', 'local-a', hostname('node2'))].join('---\n'));
    await waitRunning('local-pod');
    assert.equal(await jsonpath(['get', 'pod', 'local-pod'], '{.spec.nodeName}'), 'node2');
    assert.equal(await jsonpath(['get', 'pvc', 'local-a'], '{.spec.volumeName}'), 'local-pv-node2');
    await eventually(() => existsSync(join(diskOf.node2, 'out.txt')), { what: 'out.txt on node2\'s disk' });
    assert.equal(readFileSync(join(diskOf.node2, 'out.txt'), 'utf8'), 'written by local-pod\n');

    // Pre-bound by the user to node1's disk, then forced onto node2.
    await up.ok(['apply', '-f', '-'], claim('local-b', 'local-storage', { volumeName: 'local-pv-node1' }));
    await eventually(async () => (await jsonpath(['get', 'pvc', 'local-b'], '{.status.phase}')) === 'Bound', { what: 'local-b Bound' });
    await up.ok(['apply', '-f', '-'], pod('misplaced', 'local-b', hostname('node2')));
    const expected = "0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    await eventually(async () => (await failedScheduling('misplaced')).includes(expected), { timeoutMs: 15_000, what: 'FailedScheduling for misplaced' });
    assert.deepEqual([...new Set(await failedScheduling('misplaced'))], [expected]);
    assert.equal(await jsonpath(['get', 'pod', 'misplaced'], '{.status.phase}'), 'Pending');
    assert.equal(await jsonpath(['get', 'pod', 'misplaced'], '{.spec.nodeName}'), '');
    assert.equal(await jsonpath(['get', 'pod', 'misplaced'], '{.status.conditions[?(@.type=="PodScheduled")].message}'), expected);
    await up.ok(['delete', 'pod', 'misplaced', '--wait=true']);
  });

  it('three zones: WaitForFirstConsumer claims are provisioned in the zone of the node their pod runs on', async () => {
    const zones = ['zone-a', 'zone-b', 'zone-c'];
    await up.ok(['apply', '-f', '-'], zones.flatMap((z) => [claim(`disk-${z}`, 'zonal-wffc'), pod(`app-${z}`, `disk-${z}`, { 'topology.kubernetes.io/zone': z })]).join('---\n'));
    const nodeOf: Record<string, string> = { 'zone-a': 'node1', 'zone-b': 'node2', 'zone-c': 'node3' };
    for (const z of zones) {
      await waitRunning(`app-${z}`);
      assert.equal(await jsonpath(['get', 'pod', `app-${z}`], '{.spec.nodeName}'), nodeOf[z]);
      const pvc = JSON.parse(await up.ok(['get', 'pvc', `disk-${z}`, '-o', 'json'])) as { spec: { volumeName: string }; metadata: { annotations: Record<string, string> } };
      assert.equal(pvc.metadata.annotations['volume.kubernetes.io/selected-node'], nodeOf[z]);
      const affinity = JSON.parse(await jsonpath(['get', 'pv', pvc.spec.volumeName], '{.spec.nodeAffinity.required.nodeSelectorTerms}')) as Array<{ matchExpressions: Array<{ key: string; values: string[] }> }>;
      const zoneTerms = affinity.flatMap((t) => t.matchExpressions).filter((e) => e.key === 'topology.kubernetes.io/zone');
      assert.deepEqual(zoneTerms.map((e) => e.values), [[z]], `PV of disk-${z}: ${JSON.stringify(affinity)}`);
    }
  });

  it('the container\'s output is its log (pods/log through the node agent); deletion sends SIGTERM, unpublishes and removes the pod', async () => {
    assert.equal(await up.ok(['logs', 'local-pod']), 'written by local-pod\n');
    assert.equal(await up.ok(['logs', 'app-zone-b', '-c', 'app']), 'written by app-zone-b\n');
    const uids = { 'local-pod': await jsonpath(['get', 'pod', 'local-pod'], '{.metadata.uid}'), 'app-zone-b': await jsonpath(['get', 'pod', 'app-zone-b'], '{.metadata.uid}') };
    const localMounts = podMounts('node2', uids['local-pod']);
    const csiMounts = podMounts('node2', uids['app-zone-b']);
    assert.ok(localMounts.some((m) => m.endsWith('/kubernetes.io~local-volume/local-pv-node2')), localMounts.join('\n'));
    assert.ok(csiMounts.some((m) => m.includes('/kubernetes.io~csi/') && m.endsWith('/mount')), csiMounts.join('\n'));

    await up.ok(['delete', 'pod', 'local-pod', 'app-zone-b', '--wait=true', '--timeout=30s']);
    assert.equal((await up.kubectl(['get', 'pod', 'local-pod'])).code, 1);
    assert.equal(readFileSync(join(diskOf.node2, 'term.txt'), 'utf8'), 'got SIGTERM\n');
    assert.deepEqual(podMounts('node2', uids['local-pod']), []);
    assert.deepEqual(podMounts('node2', uids['app-zone-b']), []);
    assert.equal(existsSync(join(up.dataDir, 'nodes', 'node2', 'pods', uids['app-zone-b'])), false);
  });

  it('a selected-node naming a node that no longer exists is cleared, and the claim is placed again (k8s #100485)', async () => {
    // Upstream keeps such a claim pinned to the missing node, and its pod Pending, forever.
    await up.ok(['apply', '-f', '-'], [claim('stale', 'local-storage', { selectedNode: 'node-gone' }), pod('stale-pod', 'stale', hostname('node3'))].join('---\n'));
    const selectedNode = () => jsonpath(['get', 'pvc', 'stale'], '{.metadata.annotations.volume\\.kubernetes\\.io/selected-node}');
    await eventually(async () => (await selectedNode()) === '', { timeoutMs: 15_000, what: 'selected-node cleared' });
    assert.equal(await jsonpath(['get', 'pod', 'stale-pod'], '{.status.phase}'), 'Pending');
    // node3 has no local PV yet; one appears and the pod is placed with it.
    await up.ok(['apply', '-f', '-'], localPV('local-pv-node3', 'node3', diskOf.node3));
    await waitRunning('stale-pod');
    assert.equal(await jsonpath(['get', 'pod', 'stale-pod'], '{.spec.nodeName}'), 'node3');
    await eventually(async () => (await jsonpath(['get', 'pvc', 'stale'], '{.status.phase}')) === 'Bound', { what: 'stale Bound' });
    assert.equal(await jsonpath(['get', 'pvc', 'stale'], '{.spec.volumeName}'), 'local-pv-node3');
  });
});
