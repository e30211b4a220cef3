// bench/scheduler, scheduler_perf-like, as issue #4 asks. Three scenarios, each on a fresh system:
//   (1) 1,000 nodes in 3 zones, 5,000 pods whose claims are bound to CSI PVs with zone affinity;
//   (2) 500 nodes, 2,000 unbound local PVs (4 per node, hostname affinity, no-provisioner, WaitForFirstConsumer) and
//       2,000 pods each with its own claim, every claim must end Bound;
//   (3) 500 nodes, 2,000 pods with WaitForFirstConsumer claims provisioned by the real provisioner and driver.
// For each: pods/s, and p50/p99 from pod creation to scheduled (spec.nodeName set) and to Running.
//
// The real components run as processes: `strata apiserver` (SQLite), `strata csi-driver` (controller plugin),
// `strata controller-manager` (pv-binder, provisioner) and `strata scheduler`. Nodes are hollow, as in kubemark or
// KWOK: 500–1,000 real node agents (each a pod watch, a log server, a CSI node plugin and heartbeats) would measure the
// machine rather than the scheduler. So this process registers each Node and CSINode with the node agent's own
// registration code (registerNode; registerCsiDriver with the driver's topology), and one hollow kubelet watching all
// pods posts, for every pod bound to a node, the status the node agent posts once its containers run (podPhase and
// podConditions of src/node/status.ts) through pods/status. Hollow nodes mount no volumes and start no process, so
// "Running" is the control plane's part of the path; volume publishing and real containers are covered by
// test/e2e/scheduling.test.ts. Pods are created 32 at a time, as fast as the API server takes them.
//
// Run: node bench/scheduler/scheduler.bench.ts [scale] [scenario...]   (scale 0.1 for a quick run; scenarios 1 2 3)
// To profile the components: BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" (passed to each as NODE_OPTIONS).
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseClusterFile, type ClusterSpec } from '../../src/api/cluster.ts';
import type { ContainerStatus, PersistentVolume, PersistentVolumeClaim, Pod } from '../../src/api/types.ts';
import { EventRecorder, Informer, KubeClient, Resources } from '../../src/client/index.ts';
import type { Logger } from '../../src/client/logger.ts';
import { DriverName } from '../../src/driver/driver.ts';
import { nodeTopology } from '../../src/driver/topology.ts';
import { metaTime } from '../../src/api/time.ts';
import { registerCsiDriver, registerNode, type NodeStatusInput } from '../../src/node/registration.ts';
import { podConditions, podPhase } from '../../src/node/status.ts';
import { startApiServerProcess, startStrata, tempDir, type ApiServerProcess, type StrataProcess } from '../../test/helpers/processes.ts';
import { fmt, inParallel as inParallelOf, machineLine, percentile, processCpuMs, requestCounts, requestsPer } from '../lib/machine.ts';

const scale = Number(process.argv[2] ?? 1);
const chosen = new Set(process.argv.slice(3).map(Number));
const concurrency = 32;
const namespace = 'bench';
const zones = ['zone-a', 'zone-b', 'zone-c'];
const scenarioTimeoutMs = 600_000;
const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger;

const inParallel = (n: number, fn: (i: number) => Promise<unknown>): Promise<void> => inParallelOf(n, concurrency, fn);

/** CPU time each component and this process (the pod creator and hollow kubelet) spend, between two calls. */
async function cpuMeter(s: System): Promise<(pods: number) => Promise<string>> {
  const components: Array<[string, number]> = [['apiserver', s.api.pid], ['scheduler', s.processes[2]!.pid], ['controller-manager', s.processes[1]!.pid], ['csi-driver', s.processes[0]!.pid]];
  const before = components.map(([, pid]) => processCpuMs(pid));
  const requestsBefore = requestCounts((await s.api.request('GET', '/metrics')).body);
  const benchBefore = process.cpuUsage();
  return async (pods) => {
    const bench = process.cpuUsage(benchBefore);
    const used = components.map(([name, pid], i) => `${name} ${fmt(processCpuMs(pid) - before[i]!, 0)}`);
    const requests = requestsPer(requestsBefore, requestCounts((await s.api.request('GET', '/metrics')).body), pods);
    return `CPU ms: ${used.join(', ')}, bench ${fmt((bench.user + bench.system) / 1000, 0)} (for ${pods} pods)\n  requests/pod: ${requests}`;
  };
}

/** The cluster file the driver reads: the nodes round-robin over the zones, each zone a large zonal pool. */
function clusterFileText(nodes: number): string {
  return [
    'apiVersion: strata.io/v1alpha1', 'kind: Cluster', 'metadata: {name: bench}', 'spec:', '  region: region-1', '  zones:',
    ...zones.map((z) => `    - {name: ${z}, zonalPool: 100Ti}`),
    '  nodes:',
    ...Array.from({ length: nodes }, (_, i) => `    - {name: node-${i}, zone: ${zones[i % zones.length]}}`),
  ].join('\n');
}

interface System {
  api: ApiServerProcess;
  client: KubeClient;
  cluster: ClusterSpec;
  processes: StrataProcess[];
  dir: string;
}

async function startSystem(nodes: number): Promise<System> {
  const dir = tempDir('strata-scheduler-bench-');
  const text = clusterFileText(nodes);
  const cluster = parseClusterFile(text);
  const clusterFile = join(dir, 'cluster.yaml');
  writeFileSync(clusterFile, text);
  const env = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : undefined;
  const nodeOptions = process.env.NODE_OPTIONS;
  if (env) process.env.NODE_OPTIONS = env.NODE_OPTIONS;
  const api = await startApiServerProcess().catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  process.env.NODE_OPTIONS = nodeOptions;
  const endpoint = `unix://${join(dir, 'csi.sock')}`;
  const processes = [
    startStrata(['csi-driver', '--endpoint', endpoint, '--mode', 'controller', '--data-dir', join(dir, 'driver'), '--cluster', clusterFile, '--log-level', 'warn'], { env }),
    startStrata(['controller-manager', '--kubeconfig', api.kubeconfig, '--csi-endpoint', endpoint, '--log-level', 'warn'], { env }),
    startStrata(['scheduler', '--kubeconfig', api.kubeconfig, '--log-level', 'warn'], { env }),
  ];
  // This process plays the users: over HTTPS, as kubectl comes (the components use the API server's local socket).
  const client = KubeClient.fromKubeconfig(api.kubeconfig, { userAgent: 'strata-bench', localSocket: false });
  await client.resource(Resources.namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  await registerHollowNodes(client, cluster);
  return { api, client, cluster, processes, dir };
}

async function stopSystem(s: System): Promise<void> {
  s.client.close();
  for (const p of [...s.processes].reverse()) await p.stop();
  await s.api.cleanup();
  await rm(s.dir, { recursive: true, force: true });
}

/** Each node registered as its node agent registers it: the Node with its labels and status, then the CSINode. */
async function registerHollowNodes(client: KubeClient, cluster: ClusterSpec): Promise<void> {
  const recorder = new EventRecorder(client, { component: 'kubelet', logger: quietLogger });
  await inParallel(cluster.nodes.length, async (i) => {
    const node = cluster.nodes[i]!;
    const input: NodeStatusInput = {
      cluster, node, logPort: 0, storageBytes: 100n * 2n ** 30n, bootId: `boot-${node.name}`, machineId: node.name,
      kernelVersion: 'hollow', osImage: 'hollow',
    };
    await registerNode(client, cluster, node, input, recorder);
    await registerCsiDriver(client, node.name, DriverName, { node_id: node.name, max_volumes_per_node: String(node.maxVolumesPerNode), accessible_topology: nodeTopology(cluster, node) });
  });
  await recorder.flush();
  recorder.close();
}

/**
 * Watches every pod: notes when each is created, scheduled and Running, and plays the kubelet of every hollow node —
 * a pod bound to a node gets the node agent's Running status with all its containers started.
 */
class PodTracker {
  readonly createdAt = new Map<string, number>();
  readonly scheduledAt = new Map<string, number>();
  readonly runningAt = new Map<string, number>();
  private readonly informer: Informer<Pod>;
  private readonly client: KubeClient;
  private readonly starting = new Set<string>();
  private readonly toStart: Pod[] = [];
  private workers = 0;
  private waiters: Array<() => void> = [];

  constructor(client: KubeClient) {
    this.client = client;
    this.informer = new Informer<Pod>(client.resource(Resources.pods), { namespace, logger: quietLogger });
    this.informer.onAdd((pod) => this.observe(pod));
    this.informer.onUpdate((_old, pod) => this.observe(pod));
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  stop(): void {
    this.informer.stop();
  }

  private observe(pod: Pod): void {
    const name = pod.metadata.name!;
    const now = performance.now();
    if (pod.spec.nodeName && !this.scheduledAt.has(name)) this.scheduledAt.set(name, now);
    if (pod.status?.phase === 'Running' && !this.runningAt.has(name)) this.runningAt.set(name, now);
    if (pod.spec.nodeName && pod.status?.phase === 'Pending' && !this.starting.has(name)) {
      this.starting.add(name);
      this.toStart.push(pod);
      this.startWorkers();
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** A few status writers at a time, as a few busy kubelets; a failed write is retried. */
  private startWorkers(): void {
    while (this.workers < concurrency && this.toStart.length > 0) {
      this.workers++;
      void (async () => {
        for (let pod = this.toStart.shift(); pod; pod = this.toStart.shift()) {
          await this.runContainers(pod).catch((err: unknown) => {
            console.error(`hollow kubelet: ${pod!.metadata.name}: ${(err as Error).message}; retrying`);
            this.toStart.push(pod!);
          });
        }
        this.workers--;
      })();
    }
  }

  private async runContainers(pod: Pod): Promise<void> {
    const startedAt = metaTime();
    const statuses: ContainerStatus[] = pod.spec.containers.map((c) => ({
      name: c.name, image: c.image ?? '', imageID: '', containerID: `hollow://${pod.metadata.uid}/${c.name}`, ready: true,
      restartCount: 0, started: true, state: { running: { startedAt } },
    }) as ContainerStatus);
    const phase = podPhase(pod, [], statuses);
    const conditions = podConditions(pod, [], statuses, phase, true, pod.status?.conditions ?? [], startedAt);
    await this.client.resource(Resources.pods).patch(pod.metadata.name!, {
      status: { phase, conditions, containerStatuses: statuses, hostIP: '127.0.0.1', podIP: '127.0.0.1', startTime: startedAt },
    }, 'merge', namespace, { subresource: 'status' });
  }

  /** Resolves once `done()` holds (checked on every pod event), or after the timeout. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) return false;
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 1000).unref();
      });
    }
    return true;
  }
}

function podWithClaim(name: string, claimName: string): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace },
    spec: {
      containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100m', memory: '100Mi' } } }],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }],
    },
  } as Pod;
}

function claimSpec(name: string, className: string, volumeName?: string): PersistentVolumeClaim {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace },
    spec: { storageClassName: className, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...(volumeName ? { volumeName } : {}) },
  };
}

function hostnameAffinity(key: string, value: string): PersistentVolume['spec']['nodeAffinity'] {
  return { required: { nodeSelectorTerms: [{ matchExpressions: [{ key, operator: 'In', values: [value] }] }] } };
}

/** Polls count() every 500 ms until it reaches target or the time is up; the last count. */
async function waitForCount(count: () => Promise<number>, target: number, timeoutMs = scenarioTimeoutMs): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await count();
    if (n >= target || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const boundClaims = async (client: KubeClient) => (await client.resource(Resources.pvc).list({ namespace })).items.filter((c) => c.status?.phase === 'Bound').length;
const availableVolumes = async (client: KubeClient) => (await client.resource(Resources.pv).list()).items.filter((pv) => pv.status?.phase === 'Available').length;
const publishedCapacities = async (client: KubeClient, className: string) =>
  (await client.resource(Resources.csiStorageCapacities).list()).items.filter((c) => c.storageClassName === className).length;

/** Creates the pods and reports throughput and latencies once all are Running (or the time is up). */
async function measurePods(s: System, count: number, claimOf: (i: number) => string): Promise<string[]> {
  const tracker = new PodTracker(s.client);
  await tracker.start();
  const pods = s.client.resource(Resources.pods);
  const cpu = await cpuMeter(s);
  const t0 = performance.now();
  await inParallel(count, async (i) => {
    const name = `pod-${i}`;
    tracker.createdAt.set(name, performance.now());
    await pods.create(podWithClaim(name, claimOf(i)));
  });
  const created = performance.now();
  const allRunning = await tracker.until(() => tracker.runningAt.size >= count, scenarioTimeoutMs);
  const cpuUsed = await cpu(count);
  tracker.stop();
  // Retries cost the scheduler (and the API server) a cycle each: a healthy run has none.
  const events = (await s.client.resource(Resources.events).list({ namespace })).items;
  const failedScheduling = events.filter((e) => e.reason === 'FailedScheduling').reduce((n, e) => n + (e.count ?? 1), 0);
  const latencies = (at: Map<string, number>) => [...at].map(([n, t]) => t - tracker.createdAt.get(n)!).sort((a, b) => a - b);
  const seconds = (ms: number) => `${fmt(ms / 1000, 3)} s`;
  const lastScheduled = Math.max(...tracker.scheduledAt.values());
  const lastRunning = Math.max(...tracker.runningAt.values());
  const [toScheduled, toRunning] = [latencies(tracker.scheduledAt), latencies(tracker.runningAt)];
  return [
    `${tracker.scheduledAt.size}/${count} scheduled, ${tracker.runningAt.size}/${count} Running${allRunning ? '' : ' (timed out)'}; creating the pods took ${fmt((created - t0) / 1000, 2)} s`,
    `scheduled: ${fmt(tracker.scheduledAt.size / ((lastScheduled - t0) / 1000), 0)} pods/s, creation to scheduled p50 ${seconds(percentile(toScheduled, 50))}, p99 ${seconds(percentile(toScheduled, 99))}`,
    `Running:   ${fmt(tracker.runningAt.size / ((lastRunning - t0) / 1000), 0)} pods/s, creation to Running p50 ${seconds(percentile(toRunning, 50))}, p99 ${seconds(percentile(toRunning, 99))}`,
    `${failedScheduling} FailedScheduling events; ${cpuUsed}`,
  ];
}

/** Creates an unbound claim of the class per pod, measures the pods, and reports how many claims ended Bound. */
async function measureClaimedPods(s: System, count: number, className: string): Promise<string[]> {
  await inParallel(count, (i) => s.client.resource(Resources.pvc).create(claimSpec(`claim-${i}`, className)));
  const lines = await measurePods(s, count, (i) => `claim-${i}`);
  const bound = await waitForCount(() => boundClaims(s.client), count, 60_000);
  return [...lines, `${bound}/${count} claims Bound`];
}

/** (1) Claims bound to CSI PVs with zone affinity. */
async function boundCsiPVs(nodes: number, count: number): Promise<string[]> {
  const s = await startSystem(nodes);
  try {
    await inParallel(count, async (i) => {
      await s.client.resource(Resources.pv).create({
        apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `pv-${i}` },
        spec: {
          capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'csi-bound',
          csi: { driver: DriverName, volumeHandle: `vol-${i}` }, claimRef: { namespace, name: `claim-${i}` },
          nodeAffinity: hostnameAffinity('topology.kubernetes.io/zone', zones[i % zones.length]!),
        },
      } as PersistentVolume);
      await s.client.resource(Resources.pvc).create(claimSpec(`claim-${i}`, 'csi-bound', `pv-${i}`));
    });
    const bound = await waitForCount(() => boundClaims(s.client), count);
    if (bound !== count) throw new Error(`only ${bound}/${count} pre-bound claims Bound before the pods`);
    return await measurePods(s, count, (i) => `claim-${i}`);
  } finally {
    await stopSystem(s);
  }
}

/** (2) Unbound local PVs, 4 per node, WaitForFirstConsumer without a provisioner. */
async function localPVs(nodes: number, count: number): Promise<string[]> {
  const s = await startSystem(nodes);
  try {
    await s.client.resource(Resources.storageClasses).create({
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local-storage' },
      provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer',
    });
    await inParallel(count, (i) => s.client.resource(Resources.pv).create({
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `local-${i}` },
      spec: {
        capacity: { storage: '10Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'local-storage',
        local: { path: `/mnt/disks/vol${Math.floor(i / nodes)}` }, nodeAffinity: hostnameAffinity('kubernetes.io/hostname', `node-${i % nodes}`),
      },
    } as PersistentVolume));
    // The scheduler only matches Available PVs (upstream's FindMatchingVolume): the PV controller has to see them first.
    const available = await waitForCount(() => availableVolumes(s.client), count);
    if (available !== count) throw new Error(`only ${available}/${count} local PVs Available before the claims`);
    return await measureClaimedPods(s, count, 'local-storage');
  } finally {
    await stopSystem(s);
  }
}

/** (3) WaitForFirstConsumer claims provisioned by the provisioner through the driver, in the scheduled node's zone. */
async function dynamicProvisioning(nodes: number, count: number): Promise<string[]> {
  const s = await startSystem(nodes);
  try {
    await s.client.resource(Resources.storageClasses).create({
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'zonal-wffc' },
      provisioner: DriverName, parameters: { type: 'zonal' }, reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer',
    });
    // The driver publishes capacity (CSIDriver storageCapacity): until the provisioner has published every node's
    // segment, VolumeBinding rightly finds no room there. A cluster has them long before its pods; so does the bench.
    const published = await waitForCount(() => publishedCapacities(s.client, 'zonal-wffc'), nodes);
    if (published < nodes) throw new Error(`only ${published}/${nodes} CSIStorageCapacities published before the pods`);
    return await measureClaimedPods(s, count, 'zonal-wffc');
  } finally {
    await stopSystem(s);
  }
}

async function main(): Promise<void> {
  console.log(machineLine());
  console.log(`scale ${scale}; strata apiserver (SQLite), csi-driver, controller-manager and scheduler processes; hollow nodes; ${concurrency} concurrent creates`);
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  const scenarios: Array<[number, string, () => Promise<string[]>]> = [
    [1, `(1) ${n(1000)} nodes in 3 zones, ${n(5000)} pods with claims bound to zonal CSI PVs`, () => boundCsiPVs(n(1000), n(5000))],
    [2, `(2) ${n(500)} nodes, ${n(2000)} unbound local PVs (4 per node), ${n(2000)} pods each with its own WaitForFirstConsumer claim`, () => localPVs(n(500), n(2000))],
    [3, `(3) ${n(500)} nodes, ${n(2000)} pods with WaitForFirstConsumer claims provisioned by the provisioner and driver`, () => dynamicProvisioning(n(500), n(2000))],
  ];
  for (const [id, title, run] of scenarios) {
    if (chosen.size > 0 && !chosen.has(id)) continue;
    console.log(title);
    const started = performance.now();
    for (const line of await run()) console.log(`  ${line}`);
    console.log(`  (scenario took ${fmt((performance.now() - started) / 1000, 0)} s with setup)`);
  }
}

await main();
