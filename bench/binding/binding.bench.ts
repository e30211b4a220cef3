// bench/binding, as issue #3 asks: 1,000 static PV/PVC pairs → binds/s and p50/p99 time to Bound; 1,000 PVCs
// dynamically provisioned (Immediate) → time until all Bound, p50/p99 per claim. Each component is its own process:
// `strata apiserver` (SQLite), `strata csi-driver` and `strata controller-manager`; this process only creates objects and
// watches them. Run: node bench/binding/binding.bench.ts [count] [static,dynamic,wffc]. To profile the components, set
// BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" (passed to each as NODE_OPTIONS). Each part also prints the p50
// of each step on the way to Bound, each component's CPU ms per claim (and how much of it in the kernel) and the API
// requests per claim. BENCH_PV_WATCH=1 adds the PV milestones (a second watch, off by default so as not to load the
// API server with what a cluster would not have); BENCH_TIMELINE=1 prints how many claims reached each step per 200 ms.
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PersistentVolume, PersistentVolumeClaim } from '../../src/api/types.ts';
import { AnnSelectedNode, AnnStorageProvisioner } from '../../src/api/well-known.ts';
import { KubeClient, Resources } from '../../src/client/index.ts';
import type { ApiServerProcess } from '../../test/helpers/processes.ts';
import { eventually, startApiServerProcess, startStrata, tempDir } from '../../test/helpers/processes.ts';
import { fmt, inParallel, machineLine, percentile, processCpuSplitMs, requestCounts, requestsPer } from '../lib/machine.ts';

const count = Number(process.argv[2] ?? 1000);
// Which parts to run: static, dynamic (default: both) and wffc: WaitForFirstConsumer claims on BENCH_WFFC_NODES nodes
// (500, as scheduler scenario 3) whose selected-node this process sets right after creating them, as the scheduler
// would: the provisioner's share of scenario 3 without the scheduler. With wffc the cluster has those nodes
// instead of two, so every CreateVolume carries their topologies (as in scenario 3; Immediate claims too).
const phases = (process.argv[3] ?? 'static,dynamic').split(',');
const nodeNames = phases.includes('wffc')
  ? Array.from({ length: Number(process.env.BENCH_WFFC_NODES ?? 500) }, (_, i) => `node-${i}`)
  : ['n1', 'n2'];
const zones = ['zone-a', 'zone-b', 'zone-c'];
const zoneOf = (i: number) => zones[i % (nodeNames.length > 2 ? 3 : 2)]!;
const concurrency = 32;

const clusterFile = `
apiVersion: strata.io/v1alpha1
kind: Cluster
metadata: {name: bench}
spec:
  region: region-1
  zones:
    - {name: zone-a, zonalPool: 4Ti}
    - {name: zone-b, zonalPool: 4Ti}
    - {name: zone-c, zonalPool: 4Ti}
  nodes:
${nodeNames.map((name, i) => `    - {name: ${name}, zone: ${zoneOf(i)}}`).join('\n')}
`;


/** Runs a phase and prints what it cost: CPU ms per claim of each component, API writes per claim. */
async function measured<T>(srv: ApiServerProcess, processes: Record<string, number>, run: () => Promise<T>): Promise<[T, string]> {
  const all = { ...processes, 'this bench (creates, watches)': process.pid };
  const cpu0 = Object.fromEntries(Object.entries(all).map(([name, pid]) => [name, processCpuSplitMs(pid)]));
  const writes0 = requestCounts((await srv.request('GET', '/metrics')).body);
  const result = await run();
  const cpu = Object.entries(all).map(([name, pid]) => {
    const { user, kernel } = processCpuSplitMs(pid);
    const was = cpu0[name]!;
    return `${name} ${fmt((user + kernel - was.user - was.kernel) / count, 2)} (kernel ${fmt((kernel - was.kernel) / count, 2)})`;
  });
  const writes = requestsPer(writes0, requestCounts((await srv.request('GET', '/metrics')).body), count);
  return [result, `    CPU ms/claim: ${cpu.join(', ')}\n    requests/claim: ${writes}`];
}

/** What the watches saw of each claim's way to Bound, in order (the binder's four writes, after provisioning). */
const milestones = ['claim seen', 'provisioner asked', 'PV names claim', 'PV Bound', 'claim names PV', 'claim Bound'] as const;
type Milestone = (typeof milestones)[number];

/**
 * Creates `count` claims and measures, from just before each create, how long until the watch sees it Bound, and the
 * p50 of each milestone on the way (where claims wait: before the binder's first write, or between its writes).
 */
async function measureClaims(
  client: KubeClient,
  namespace: string,
  claim: (name: string) => PersistentVolumeClaim,
  afterCreate?: (name: string) => Promise<unknown>,
): Promise<string> {
  const pvcs = client.resource(Resources.pvc);
  const createdAt = new Map<string, number>();
  const seen = new Map<Milestone, Map<string, number>>(milestones.map((m) => [m, new Map()]));
  const mark = (milestone: Milestone, name: string) => {
    const at = seen.get(milestone)!;
    if (!at.has(name)) at.set(name, performance.now());
  };
  const boundAt = seen.get('claim Bound')!;
  const start = (await pvcs.list({ namespace })).metadata.resourceVersion;
  let allBound!: () => void;
  const done = new Promise<void>((r) => (allBound = r));
  const watch = pvcs.watch({ namespace, resourceVersion: start }, (_type, pvc) => {
    const name = pvc.metadata.name!;
    mark('claim seen', name);
    if (pvc.metadata.annotations?.[AnnStorageProvisioner]) mark('provisioner asked', name);
    if (pvc.spec.volumeName) mark('claim names PV', name);
    if (pvc.status?.phase === 'Bound' && !boundAt.has(name)) {
      mark('claim Bound', name);
      if (boundAt.size === count) allBound();
    }
  }, (err) => err && console.error('watch ended:', err.message));
  // The PV milestones cost a second watch (its events are sent, decoded and matched here): only when asked for.
  const pvWatch = process.env.BENCH_PV_WATCH ? client.resource(Resources.pv).watch({ resourceVersion: start }, (_type, pv) => {
    const ref = pv.spec.claimRef;
    if (ref?.namespace !== namespace || !ref.name) return;
    mark('PV names claim', ref.name);
    if (pv.status?.phase === 'Bound') mark('PV Bound', ref.name);
  }, () => undefined) : undefined;
  const t0 = performance.now();
  await inParallel(count, concurrency, async (i) => {
    const name = `claim-${i}`;
    createdAt.set(name, performance.now());
    await pvcs.create(claim(name));
    await afterCreate?.(name);
  });
  const created = performance.now();
  const timeout = setTimeout(() => allBound(), 120_000);
  await done;
  clearTimeout(timeout);
  watch.stop();
  pvWatch?.stop();
  const last = Math.max(...boundAt.values());
  if (process.env.BENCH_TIMELINE) {
    // How many claims reached each point in each 200 ms since the first create: shows whether binding keeps pace.
    const perSlot = (at: Map<string, number>) => {
      const slots: number[] = [];
      for (const t of at.values()) slots[Math.floor((t - t0) / 200)] = (slots[Math.floor((t - t0) / 200)] ?? 0) + 1;
      return Array.from(slots, (n) => String(n ?? 0).padStart(5)).join('');
    };
    console.log(`    per 200 ms, created:      ${perSlot(createdAt)}`);
    for (const m of milestones.slice(2)) if (seen.get(m)!.size) console.log(`    per 200 ms, ${`${m}:`.padEnd(15)} ${perSlot(seen.get(m)!)}`);
  }
  const sinceCreate = (at: Map<string, number>) => [...at].map(([n, t]) => t - createdAt.get(n)!).sort((a, b) => a - b);
  const latencies = sinceCreate(boundAt);
  const totalS = (last - t0) / 1000;
  return [
    `${boundAt.size}/${count} Bound in ${fmt(totalS, 2)} s (creates took ${fmt((created - t0) / 1000, 2)} s)`,
    `${fmt(boundAt.size / totalS, 0)} binds/s`,
    `time to Bound p50 ${fmt(percentile(latencies, 50) / 1000, 3)} s, p99 ${fmt(percentile(latencies, 99) / 1000, 3)} s`,
  ].join(', ') + `\n    p50 since create: ${milestones.filter((m) => seen.get(m)!.size).map((m) => `${m} ${fmt(percentile(sinceCreate(seen.get(m)!), 50) / 1000, 3)} s`).join(', ')}`;
}

function pvcSpec(name: string, namespace: string, className: string): PersistentVolumeClaim {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: { name, namespace },
    spec: { storageClassName: className, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
}

async function main(): Promise<void> {
  console.log(machineLine());
  console.log(`${count} claims, ${concurrency} concurrent creates; strata apiserver (SQLite), csi-driver and controller-manager processes`);
  const dir = tempDir('strata-binding-bench-');
  const env = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : undefined;
  const nodeOptions = process.env.NODE_OPTIONS;
  if (env) process.env.NODE_OPTIONS = env.NODE_OPTIONS;
  const srv = await startApiServerProcess().catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  process.env.NODE_OPTIONS = nodeOptions;
  const endpoint = `unix://${join(dir, 'csi.sock')}`;
  writeFileSync(join(dir, 'cluster.yaml'), clusterFile);
  const driver = startStrata(['csi-driver', '--endpoint', endpoint, '--mode', 'controller', '--data-dir', join(dir, 'driver'), '--cluster', join(dir, 'cluster.yaml'), '--log-level', 'warn'], { env });
  // BENCH_BINDER_WORKERS compares claim worker counts (default: the controller manager's).
  const workers = process.env.BENCH_BINDER_WORKERS ? ['--pv-binder-claim-workers', process.env.BENCH_BINDER_WORKERS] : [];
  const manager = startStrata(['controller-manager', '--kubeconfig', srv.kubeconfig, '--csi-endpoint', endpoint, '--log-level', 'warn', ...workers], { env });
  // This process plays the users: over HTTPS, as kubectl comes (the components use the API server's local socket).
  const client = KubeClient.fromKubeconfig(srv.kubeconfig, { localSocket: false });
  try {
    await manager.waitFor(/controller manager is running/);
    await inParallel(nodeNames.length, concurrency, async (i) => {
      const node = nodeNames[i]!;
      const zone = zoneOf(i);
      const labels = { 'kubernetes.io/hostname': node, 'topology.kubernetes.io/zone': zone, 'topology.kubernetes.io/region': 'region-1' };
      await client.resource(Resources.nodes).create({ apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels }, spec: {} });
      await client.resource(Resources.csiNodes).create({
        apiVersion: 'storage.k8s.io/v1', kind: 'CSINode', metadata: { name: node },
        spec: { drivers: [{ name: 'csi.strata.io', nodeID: node, topologyKeys: Object.keys(labels) }] },
      });
    });
    for (const ns of ['bench-static', 'bench-dynamic', 'bench-wffc']) await client.resource(Resources.namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });

    const processes = { apiserver: srv.pid, 'controller-manager': manager.pid, 'csi-driver': driver.pid };
    if (phases.includes('static')) {
      // Static: the PVs exist and are Available before the claims come.
      const pvs = client.resource(Resources.pv);
      await inParallel(count, concurrency, (i) => pvs.create({
        apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `static-${i}` },
        spec: { storageClassName: 'bench-static', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/tmp/static-${i}` } },
      } as PersistentVolume));
      await eventually(async () => (await pvs.list()).items.filter((pv) => pv.status?.phase === 'Available').length === count, { what: 'static PVs Available', timeoutMs: 60_000, intervalMs: 200 });
      const [line, cost] = await measured(srv, processes, () => measureClaims(client, 'bench-static', (n) => pvcSpec(n, 'bench-static', 'bench-static')));
      console.log(`static pairs:  ${line}\n${cost}`);
    }

    await client.resource(Resources.storageClasses).create({
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'bench-zonal' },
      provisioner: 'csi.strata.io', parameters: { type: 'zonal' }, reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate',
    });
    if (phases.includes('dynamic')) {
      const [line, cost] = await measured(srv, processes, () => measureClaims(client, 'bench-dynamic', (n) => pvcSpec(n, 'bench-dynamic', 'bench-zonal')));
      console.log(`dynamic:       ${line}\n${cost}`);
    }
    if (phases.includes('wffc')) {
      await client.resource(Resources.storageClasses).create({
        apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'bench-wffc' },
        provisioner: 'csi.strata.io', parameters: { type: 'zonal' }, reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer',
      });
      const pvcs = client.resource(Resources.pvc);
      let next = 0;
      const [line, cost] = await measured(srv, processes, () => measureClaims(
        client, 'bench-wffc', (n) => pvcSpec(n, 'bench-wffc', 'bench-wffc'),
        (n) => pvcs.patch(n, { metadata: { annotations: { [AnnSelectedNode]: nodeNames[next++ % nodeNames.length] } } }, 'merge', 'bench-wffc'),
      ));
      console.log(`wffc (${nodeNames.length} nodes): ${line}\n${cost}`);
    }
  } catch (err) {
    console.error(manager.output().slice(-4000));
    throw err;
  } finally {
    client.close();
    await manager.stop();
    await driver.stop();
    await srv.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
