// bench/binding, as issue #3 asks: 1,000 static PV/PVC pairs → binds/s and p50/p99 time to Bound; 1,000 PVCs
// dynamically provisioned (Immediate) → time until all Bound, p50/p99 per claim. Each component is its own process:
// `strata apiserver` (SQLite), `strata csi-driver` and `strata controller-manager`; this process only creates objects and
// watches them. Run: node bench/binding/binding.bench.ts [count]. To profile the components, set
// BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" (passed to each as NODE_OPTIONS).
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PersistentVolume, PersistentVolumeClaim } from '../../src/api/types.ts';
import { KubeClient, Resources } from '../../src/client/index.ts';
import { eventually, startApiServerProcess, startStrata, tempDir } from '../../test/helpers/processes.ts';
import { fmt, machineLine, percentile, inParallel } from '../lib/machine.ts';

const count = Number(process.argv[2] ?? 1000);
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
  nodes:
    - {name: n1, zone: zone-a}
    - {name: n2, zone: zone-b}
`;


/** Creates `count` claims and measures, from just before each create, how long until the watch sees it Bound. */
async function measureClaims(client: KubeClient, namespace: string, claim: (name: string) => PersistentVolumeClaim): Promise<string> {
  const pvcs = client.resource(Resources.pvc);
  const createdAt = new Map<string, number>();
  const boundAt = new Map<string, number>();
  const start = (await pvcs.list({ namespace })).metadata.resourceVersion;
  let allBound!: () => void;
  const done = new Promise<void>((r) => (allBound = r));
  const watch = pvcs.watch({ namespace, resourceVersion: start }, (_type, pvc) => {
    const name = pvc.metadata.name!;
    if (pvc.status?.phase === 'Bound' && !boundAt.has(name)) {
      boundAt.set(name, performance.now());
      if (boundAt.size === count) allBound();
    }
  }, (err) => err && console.error('watch ended:', err.message));
  // When each claim's PV appeared: splits a dynamic claim's time into provisioning and binding.
  const volumeAt = new Map<string, number>();
  const pvWatch = client.resource(Resources.pv).watch({ resourceVersion: start }, (type, pv) => {
    const ref = pv.spec.claimRef;
    if (type === 'ADDED' && ref?.namespace === namespace && ref.name && !volumeAt.has(ref.name)) volumeAt.set(ref.name, performance.now());
  }, () => undefined);
  const t0 = performance.now();
  await inParallel(count, concurrency, async (i) => {
    const name = `claim-${i}`;
    createdAt.set(name, performance.now());
    await pvcs.create(claim(name));
  });
  const created = performance.now();
  const timeout = setTimeout(() => allBound(), 120_000);
  await done;
  clearTimeout(timeout);
  watch.stop();
  pvWatch.stop();
  const last = Math.max(...boundAt.values());
  const latencies = [...createdAt].filter(([n]) => boundAt.has(n)).map(([n, t]) => boundAt.get(n)! - t).sort((a, b) => a - b);
  const totalS = (last - t0) / 1000;
  const provisioning = [...volumeAt].map(([n, t]) => t - createdAt.get(n)!).sort((a, b) => a - b);
  return [
    `${boundAt.size}/${count} Bound in ${fmt(totalS, 2)} s (creates took ${fmt((created - t0) / 1000, 2)} s)`,
    `${fmt(boundAt.size / totalS, 0)} binds/s`,
    `time to Bound p50 ${fmt(percentile(latencies, 50) / 1000, 3)} s, p99 ${fmt(percentile(latencies, 99) / 1000, 3)} s`,
    ...(provisioning.length ? [`time to PV created p50 ${fmt(percentile(provisioning, 50) / 1000, 3)} s, p99 ${fmt(percentile(provisioning, 99) / 1000, 3)} s`] : []),
  ].join(', ');
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
  const srv = await startApiServerProcess();
  process.env.NODE_OPTIONS = nodeOptions;
  const endpoint = `unix://${join(dir, 'csi.sock')}`;
  writeFileSync(join(dir, 'cluster.yaml'), clusterFile);
  const driver = startStrata(['csi-driver', '--endpoint', endpoint, '--mode', 'controller', '--data-dir', join(dir, 'driver'), '--cluster', join(dir, 'cluster.yaml'), '--log-level', 'warn'], { env });
  const manager = startStrata(['controller-manager', '--kubeconfig', srv.kubeconfig, '--csi-endpoint', endpoint, '--log-level', 'warn'], { env });
  const client = KubeClient.fromKubeconfig(srv.kubeconfig);
  try {
    await manager.waitFor(/controller manager is running/);
    for (const node of ['n1', 'n2']) {
      const zone = node === 'n1' ? 'zone-a' : 'zone-b';
      const labels = { 'kubernetes.io/hostname': node, 'topology.kubernetes.io/zone': zone, 'topology.kubernetes.io/region': 'region-1' };
      await client.resource(Resources.nodes).create({ apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels }, spec: {} });
      await client.resource(Resources.csiNodes).create({
        apiVersion: 'storage.k8s.io/v1', kind: 'CSINode', metadata: { name: node },
        spec: { drivers: [{ name: 'csi.strata.io', nodeID: node, topologyKeys: Object.keys(labels) }] },
      });
    }
    for (const ns of ['bench-static', 'bench-dynamic']) await client.resource(Resources.namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });

    // Static: the PVs exist and are Available before the claims come.
    const pvs = client.resource(Resources.pv);
    await inParallel(count, concurrency, (i) => pvs.create({
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `static-${i}` },
      spec: { storageClassName: 'bench-static', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/tmp/static-${i}` } },
    } as PersistentVolume));
    await eventually(async () => (await pvs.list()).items.filter((pv) => pv.status?.phase === 'Available').length === count, { what: 'static PVs Available', timeoutMs: 60_000, intervalMs: 200 });
    console.log(`static pairs:  ${await measureClaims(client, 'bench-static', (n) => pvcSpec(n, 'bench-static', 'bench-static'))}`);

    await client.resource(Resources.storageClasses).create({
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'bench-zonal' },
      provisioner: 'csi.strata.io', parameters: { type: 'zonal' }, reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate',
    });
    console.log(`dynamic:       ${await measureClaims(client, 'bench-dynamic', (n) => pvcSpec(n, 'bench-dynamic', 'bench-zonal'))}`);
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
