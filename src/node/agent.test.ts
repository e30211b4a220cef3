// The node agent against the real API server and the real CSI driver: registration, a pod whose command writes into
// its CSI volume, logs, graceful deletion, FailedMount, CrashLoopBackOff, restart with a changed cluster file, and
// cleanup of pods deleted while the agent was down.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseClusterFile, type ClusterSpec } from '../api/cluster.ts';
import type { CSINode, Node, PersistentVolume, PersistentVolumeClaim, Pod } from '../api/types.ts';
import { startApiServer, type RunningApiServer } from '../apiserver/server.ts';
import { isNotFound } from '../client/errors.ts';
import { Resources } from '../client/resources.ts';
import { KubeClient } from '../client/rest.ts';
import { connectCsi, type CsiClient } from '../csi/grpc.ts';
import { startCsiDriver, type RunningCsiDriver } from '../driver/driver.ts';
import { findWriters, isMountPoint, processStartTime } from '../driver/files.ts';
import { startNodeAgent, type RunningNodeAgent } from './agent.ts';

const clusterYaml = (rack: string, taint: string) => `
apiVersion: strata.io/v1alpha1
kind: Cluster
metadata: {name: node-test}
spec:
  region: region-1
  zones: [{name: zone-a, zonalPool: 1Gi}]
  nodes:
    - name: node1
      zone: zone-a
      capacity: {cpu: "2", memory: 4Gi, pods: "20"}
      labels: {rack: ${rack}}
      taints: [{key: ${taint}, effect: NoSchedule}]
`;

let base: string;
let api: RunningApiServer;
let client: KubeClient;
let driver: RunningCsiDriver;
let csi: CsiClient;
let cluster: ClusterSpec;
let agent: RunningNodeAgent;
const endpoint = () => `unix://${join(base, 'csi.sock')}`;
const nodeDir = () => join(base, 'node1');

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startAgent(): Promise<RunningNodeAgent> {
  return startNodeAgent({
    client, name: 'node1', cluster, csiEndpoint: endpoint(), dataDir: nodeDir(),
    logTokenCheck: (t) => t === api.token, volumeWaitTimeoutMs: 1000, backOffInitialMs: 300, backOffMaxMs: 1200, heartbeatIntervalMs: 1000,
  });
}

/** A CSI volume, and a PV and PVC pre-bound to each other (no binder runs here). Returns the volume's id. */
async function boundClaim(name: string): Promise<string> {
  const vol = await csi.createVolume({
    name: `pvc-${name}`,
    capacity_range: { required_bytes: 1024 * 1024 },
    volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
    accessibility_requirements: { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'zone-a' } }] },
  });
  const pvc = await client.resource(Resources.pvc).create({
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'default', annotations: { 'pv.kubernetes.io/bind-completed': 'yes' } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } }, volumeName: `pv-${name}`, storageClassName: '' },
  });
  await client.resource(Resources.pv).create({
    apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `pv-${name}` },
    spec: {
      capacity: { storage: '1Mi' }, accessModes: ['ReadWriteOnce'], storageClassName: '',
      claimRef: { kind: 'PersistentVolumeClaim', namespace: 'default', name, uid: pvc.metadata.uid, apiVersion: 'v1' },
      csi: { driver: 'csi.strata.io', volumeHandle: vol.volume.volume_id, volumeAttributes: vol.volume.volume_context },
    },
  } as PersistentVolume);
  await client.resource(Resources.pvc).patch(name, { status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Mi' } } }, 'merge', 'default', { subresource: 'status' });
  return vol.volume.volume_id;
}

function podWithClaim(name: string, claim: string, command: string, restartPolicy: Pod['spec']['restartPolicy'], extra: Partial<Pod['spec']> = {}): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
    spec: {
      nodeName: 'node1', restartPolicy, terminationGracePeriodSeconds: 5,
      containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', command], env: [{ name: 'GREETING', value: 'hello' }], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }],
      ...extra,
    },
  };
}

const getPod = (name: string) => client.resource(Resources.pods).get(name, 'default');
const podGone = (name: string) => getPod(name).then(() => false, (err) => isNotFound(err));
const volumeDir = (id: string) => join(base, 'driver', 'volumes', id);
const csiTarget = (uid: string, pv: string) => join(nodeDir(), 'pods', uid, 'volumes', 'kubernetes.io~csi', pv, 'mount');

async function events(name: string): Promise<Array<{ reason?: string; message?: string; type?: string }>> {
  const list = await client.resource(Resources.events).list({ namespace: 'default' });
  return list.items.filter((e) => e.involvedObject.name === name);
}

async function logs(pod: string, query = '', token = api.token): Promise<{ status: number; body: string }> {
  const node = await client.resource(Resources.nodes).get('node1');
  const port = node.status!.daemonEndpoints!.kubeletEndpoint!.Port;
  const res = await fetch(`http://127.0.0.1:${port}/containerLogs/default/${pod}/main${query}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.text() };
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'strata-node-test-'));
  api = await startApiServer({ dataDir: join(base, 'api'), port: 0, storage: 'memory' });
  client = KubeClient.fromKubeconfig(api.kubeconfigPath);
  cluster = parseClusterFile(clusterYaml('r1', 'dedicated'));
  driver = await startCsiDriver({ endpoint: endpoint(), nodeId: 'node1', mode: 'all', dataDir: join(base, 'driver'), cluster });
  csi = connectCsi(endpoint());
  agent = await startAgent();
});

after(async () => {
  await agent?.close();
  csi?.close();
  await driver?.close();
  client?.close();
  await api?.close();
  await rm(base, { recursive: true, force: true });
});

describe('registration', () => {
  test('the Node carries the kubelet labels, the cluster file labels and taints, capacity and Ready', async () => {
    const node = await client.resource(Resources.nodes).get('node1');
    const labels = node.metadata.labels!;
    assert.equal(labels['kubernetes.io/hostname'], 'node1');
    assert.equal(labels['kubernetes.io/os'], 'linux');
    assert.equal(labels['topology.kubernetes.io/zone'], 'zone-a');
    assert.equal(labels['topology.kubernetes.io/region'], 'region-1');
    assert.equal(labels['failure-domain.beta.kubernetes.io/zone'], 'zone-a');
    assert.equal(labels['failure-domain.beta.kubernetes.io/region'], 'region-1');
    assert.equal(labels.rack, 'r1');
    assert.deepEqual(node.spec?.taints, [{ key: 'dedicated', effect: 'NoSchedule' }]);
    assert.equal(node.status?.capacity?.cpu, '2');
    assert.equal(node.status?.capacity?.memory, '4Gi');
    assert.equal(node.status?.allocatable?.memory, '3996Mi');
    assert.equal(node.status?.capacity?.pods, '20');
    assert.match(node.status?.capacity?.['ephemeral-storage'] ?? '', /^\d+Ki$/);
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason, ready?.message], ['True', 'KubeletReady', 'kubelet is posting ready status']);
    assert.deepEqual(node.status?.conditions?.map((c) => `${c.type}=${c.status}:${c.reason}`), [
      'MemoryPressure=False:KubeletHasSufficientMemory', 'DiskPressure=False:KubeletHasNoDiskPressure',
      'PIDPressure=False:KubeletHasSufficientPID', 'Ready=True:KubeletReady',
    ]);
    assert.deepEqual(node.status?.addresses, [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: 'node1' }]);
    assert.equal(node.status?.daemonEndpoints?.kubeletEndpoint?.Port, agent.logPort);
  });

  test('a Lease in kube-node-lease is renewed', async () => {
    const first = await client.resource(Resources.leases).get('node1', 'kube-node-lease');
    assert.equal(first.spec?.holderIdentity, 'node1');
    assert.equal(first.spec?.leaseDurationSeconds, 40);
    await eventually('lease renewal', async () => {
      const l = await client.resource(Resources.leases).get('node1', 'kube-node-lease');
      return l.spec?.renewTime !== first.spec?.renewTime;
    });
  });

  test('the CSINode lists the driver with its topology keys and volume limit', async () => {
    const csiNode: CSINode = await eventually('CSINode', () => client.resource(Resources.csiNodes).get('node1'));
    assert.deepEqual(csiNode.spec.drivers, [{
      name: 'csi.strata.io', nodeID: 'node1', allocatable: { count: 128 },
      topologyKeys: ['kubernetes.io/hostname', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone'],
    }]);
    const node = await client.resource(Resources.nodes).get('node1');
    assert.equal(node.metadata.annotations?.['csi.volume.kubernetes.io/nodeid'], '{"csi.strata.io":"node1"}');
  });
});

describe('pods', () => {
  test('a pod writes into its CSI volume, succeeds, serves its logs, and leaves the host untouched', async () => {
    const volumeId = await boundClaim('writer-data');
    assert.equal(existsSync('/data/out.txt'), false);
    const created = await client.resource(Resources.pods).create(
      podWithClaim('writer', 'writer-data', 'echo oops >&2; sleep 0.2; echo "$GREETING from $HOSTNAME"; echo written > /data/out.txt; pwd', 'Never', {
        initContainers: [{ name: 'init', image: 'busybox:1.36', command: ['sh', '-c', 'echo init > /data/init.txt'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      }),
    );
    const done: Pod = await eventually('pod Succeeded', async () => {
      const p = await getPod('writer');
      return p.status?.phase === 'Succeeded' ? p : undefined;
    });
    assert.equal(await readFile(join(volumeDir(volumeId), 'out.txt'), 'utf8'), 'written\n');
    assert.equal(await readFile(join(volumeDir(volumeId), 'init.txt'), 'utf8'), 'init\n');
    assert.equal(existsSync('/data'), false, 'the mountPath was created on the host');

    const main = done.status!.containerStatuses![0] as unknown as { state: { terminated: { exitCode: number; reason: string } }; containerID: string; restartCount: number };
    assert.deepEqual([main.state.terminated.exitCode, main.state.terminated.reason, main.restartCount], [0, 'Completed', 0]);
    assert.match(main.containerID, /^strata:\/\/[0-9a-f]{64}$/);
    assert.equal((done.status!.initContainerStatuses![0] as { ready: boolean }).ready, true);
    const conds = Object.fromEntries(done.status!.conditions!.map((c) => [c.type, `${c.status}${c.reason ? `:${c.reason}` : ''}`]));
    assert.deepEqual(conds, {
      PodReadyToStartContainers: 'False', Initialized: 'True:PodCompleted', Ready: 'False:PodCompleted', ContainersReady: 'False:PodCompleted', PodScheduled: 'True',
    });
    assert.equal(done.status?.podIP, '127.0.0.1');
    assert.ok(done.status?.startTime);

    assert.deepEqual(await logs('writer'), { status: 200, body: 'oops\nhello from writer\n/\n' });
    const stamped = await logs('writer', '?timestamps=true&tailLines=1');
    assert.match(stamped.body, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z \/\n$/);
    assert.equal((await logs('writer', '', 'wrong-token')).status, 401);
    assert.deepEqual(await logs('nope'), { status: 404, body: 'pod "nope" does not exist' });

    const reasons = (await events('writer')).map((e) => e.reason);
    for (const r of ['Pulling', 'Pulled', 'Created', 'Started']) assert.ok(reasons.includes(r), `${r} in ${reasons.join(',')}`);
    // A terminated pod's volumes are unpublished.
    await eventually('volume unpublished', async () => !(await isMountPoint(csiTarget(created.metadata.uid!, 'pv-writer-data'))));
    await client.resource(Resources.pods).delete('writer', 'default');
    await eventually('pod dir removed', async () => !existsSync(join(nodeDir(), 'pods', created.metadata.uid!)));
  });

  test('a running pod is frozen-visible, then deleted gracefully: SIGTERM, unpublish, pod gone', async () => {
    const volumeId = await boundClaim('server-data');
    const created = await client.resource(Resources.pods).create(
      podWithClaim('server', 'server-data', 'trap "echo got TERM; exit 0" TERM; echo up > /data/up; while true; do sleep 0.1; done', 'Always'),
    );
    const running: Pod = await eventually('pod Ready', async () => {
      const p = await getPod('server');
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    });
    assert.equal(running.status?.phase, 'Running');
    const target = csiTarget(created.metadata.uid!, 'pv-server-data');
    assert.equal(await isMountPoint(target), true);
    await eventually('file written', async () => existsSync(join(volumeDir(volumeId), 'up')));
    // The CSI driver's freeze finds the container through its mount namespace.
    const pidFile = JSON.parse(await readFile(join(nodeDir(), 'pods', created.metadata.uid!, 'containers', 'main', 'pid'), 'utf8')) as { pid: number };
    assert.ok((await findWriters(volumeDir(volumeId), [target])).includes(pidFile.pid));

    // Following the log from before the deletion shows the SIGTERM reaching the command; the stream ends with it.
    const followed = logs('server', '?follow=true');
    await new Promise((r) => setTimeout(r, 300));
    await client.resource(Resources.pods).delete('server', 'default');
    assert.deepEqual(await followed, { status: 200, body: 'got TERM\n' });
    await eventually('pod gone', () => podGone('server'));
    assert.equal(await processStartTime(pidFile.pid), undefined);
    assert.equal(await isMountPoint(target), false);
    const evs = await events('server');
    assert.ok(evs.some((e) => e.reason === 'Killing' && e.message === 'Stopping container main'));
    // As the kubelet, the agent removes the pod's directory (its logs with it) after the final delete, not before.
    await eventually('pod dir removed', async () => !existsSync(join(nodeDir(), 'pods', created.metadata.uid!)));
  });

  test('unbound claims: FailedMount after the timeout, then the pod starts once the claim binds', async () => {
    await client.resource(Resources.pods).create(podWithClaim('waiter', 'late-data', 'cat /data/x', 'Never'));
    const ev = await eventually('FailedMount', async () => (await events('waiter')).find((e) => e.reason === 'FailedMount'));
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.message,
      'Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process volumes=[data]: ' +
      'error processing PVC default/late-data: failed to fetch PVC from API server: persistentvolumeclaims "late-data" not found');
    const pending = await getPod('waiter');
    assert.equal(pending.status?.phase, 'Pending');
    assert.equal((pending.status?.containerStatuses?.[0] as unknown as { state: { waiting: { reason: string } } }).state.waiting.reason, 'ContainerCreating');
    const volumeId = await boundClaim('late-data');
    await writeFile(join(volumeDir(volumeId), 'x'), 'late\n');
    await eventually('pod Succeeded', async () => (await getPod('waiter')).status?.phase === 'Succeeded');
    assert.equal((await logs('waiter')).body, 'late\n');
    await client.resource(Resources.pods).delete('waiter', 'default');
    await eventually('pod gone', () => podGone('waiter'));
  });

  test('CrashLoopBackOff: restarts with back-off, restartCount, previous logs', async () => {
    await client.resource(Resources.pods).create({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'crasher', namespace: 'default' },
      spec: { nodeName: 'node1', restartPolicy: 'Always', containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'echo run; exit 3'] }] },
    });
    const looping: Pod = await eventually('CrashLoopBackOff', async () => {
      const p = await getPod('crasher');
      const s = p.status?.containerStatuses?.[0] as { restartCount: number; state: { waiting?: { reason: string } } } | undefined;
      return s && s.restartCount >= 2 && s.state.waiting?.reason === 'CrashLoopBackOff' ? p : undefined;
    });
    const s = looping.status!.containerStatuses![0] as unknown as { lastState: { terminated: { exitCode: number; reason: string } }; state: { waiting: { message: string } } };
    assert.deepEqual([s.lastState.terminated.exitCode, s.lastState.terminated.reason], [3, 'Error']);
    assert.match(s.state.waiting.message, new RegExp(`^back-off (\\d+ms|[\\d.]+s) restarting failed container=main pod=crasher_default\\(${looping.metadata.uid}\\)$`));
    assert.equal(looping.status?.phase, 'Running');
    const previous = await logs('crasher', '?previous=true');
    assert.equal(previous.body, 'run\n');
    assert.ok((await events('crasher')).some((e) => e.reason === 'BackOff' && e.message === `Back-off restarting failed container main in pod crasher_default(${looping.metadata.uid})`));
    await client.resource(Resources.pods).delete('crasher', 'default');
    await eventually('pod gone', () => podGone('crasher'));
  });
});

describe('restart', () => {
  test('a changed cluster file updates the agent\'s labels and taints, user labels stay; pods deleted meanwhile are cleaned up', async () => {
    const volumeId = await boundClaim('orphan-data');
    const created = await client.resource(Resources.pods).create(podWithClaim('orphan', 'orphan-data', 'sleep 1000', 'Always', {
      containers: [
        { name: 'main', image: 'busybox', command: ['sleep', '1000'], volumeMounts: [{ name: 'data', mountPath: '/data' }] },
        { name: 'web', image: 'nginx' },
      ],
    }));
    await eventually('pod Running', async () => (await getPod('orphan')).status?.phase === 'Running');
    const target = csiTarget(created.metadata.uid!, 'pv-orphan-data');
    assert.equal(await isMountPoint(target), true);
    const nodes = client.resource(Resources.nodes);
    const node: Node = await nodes.get('node1');
    await nodes.update({ ...node, metadata: { ...node.metadata, labels: { ...node.metadata.labels, team: 'storage' } }, spec: { ...node.spec, taints: [...node.spec!.taints!, { key: 'user', effect: 'NoExecute' }] } });

    await agent.close();
    // A process an earlier run left behind (its pid file names it), and a pid file whose pid is not ours any more.
    const stray = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
    const strayExited = new Promise((r) => stray.once('exit', () => r(true)));
    const strayDir = join(nodeDir(), 'pods', 'stray-uid', 'containers', 'c');
    await mkdir(strayDir, { recursive: true });
    await writeFile(join(strayDir, 'pid'), JSON.stringify({ pid: stray.pid, startTime: await processStartTime(stray.pid!) }));
    const otherDir = join(nodeDir(), 'pods', 'other-uid', 'containers', 'c');
    await mkdir(otherDir, { recursive: true });
    await writeFile(join(otherDir, 'pid'), JSON.stringify({ pid: process.pid, startTime: 'not-this' }));
    await client.resource(Resources.pods).delete('orphan', 'default', { gracePeriodSeconds: 0 });

    cluster = parseClusterFile(clusterYaml('r2', 'special'));
    agent = await startAgent();
    const exited = await Promise.race([strayExited, new Promise((r) => setTimeout(() => r(false), 5000))]);
    assert.equal(exited, true, 'the leftover process was killed');
    await eventually('orphan volume unpublished', async () => !(await isMountPoint(target)) && !existsSync(join(nodeDir(), 'pods', created.metadata.uid!)));
    assert.ok(existsSync(volumeDir(volumeId)), 'the volume itself stays');
    const after: Node = await nodes.get('node1');
    assert.equal(after.metadata.labels?.rack, 'r2');
    assert.equal(after.metadata.labels?.team, 'storage');
    assert.deepEqual(after.spec?.taints?.map((t) => `${t.key}:${t.effect}`).sort(), ['special:NoSchedule', 'user:NoExecute']);
  });
});

describe('claims of other namespaces', () => {
  test('a pod whose claim is not bound reports "PVC is not bound"', async () => {
    await client.resource(Resources.pvc).create({
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pending-data', namespace: 'default' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } } },
    } as PersistentVolumeClaim);
    await client.resource(Resources.pods).create(podWithClaim('pending', 'pending-data', 'true', 'Never'));
    const ev = await eventually('FailedMount', async () => (await events('pending')).find((e) => e.reason === 'FailedMount'));
    assert.match(ev.message!, /failed to process volumes=\[data\]: error processing PVC default\/pending-data: PVC is not bound$/);
    await client.resource(Resources.pods).delete('pending', 'default');
    await eventually('pod gone', () => podGone('pending'));
  });
});
