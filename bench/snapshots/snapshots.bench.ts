// bench/snapshots (1), as issue #5 asks: 1,000 VolumeSnapshots (10 per PVC, 100 PVCs) created at once against a real
// `strata up` with default settings → time until all are readyToUse, p50/p99 per snapshot (create call → readyToUse
// seen by a watch), then all deleted at once → time until they are gone from the API (snapshots and contents) and from
// the backend (the driver's snapshot dirs and records).
// Run: node bench/snapshots/snapshots.bench.ts [pvcs] [snapshotsPerPvc]
// Profile: BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" (NODE_OPTIONS of the `strata up` process), then
// node bench/snapshots/profile-summary.ts DIR/*.cpuprofile
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { PersistentVolumeClaim, VolumeSnapshot, VolumeSnapshotContent } from '../../src/api/types.ts';
import { KubeClient, Resources } from '../../src/client/index.ts';
import { eventually, kubectlSync, startStrata, tempDir } from '../../test/helpers/processes.ts';
import { fmt, inParallel, machineLine, percentile, processCpuMs, requestCounts, requestsPer } from '../lib/machine.ts';

const pvcCount = Number(process.argv[2] ?? 100);
const perPvc = Number(process.argv[3] ?? 10);
const total = pvcCount * perPvc;
// Requests in flight at once from this process (a burst as many clients would send it).
const concurrency = 64;
const namespace = 'bench';

const clusterFile = `apiVersion: strata.io/v1alpha1
kind: Cluster
metadata: {name: snapshot-bench}
spec:
  region: region-1
  zones:
    - {name: zone-a, zonalPool: 4Ti}
    - {name: zone-b, zonalPool: 4Ti}
  nodes:
    - {name: a1, zone: zone-a}
    - {name: b1, zone: zone-b}
`;


const seconds = (ms: number) => `${fmt(ms / 1000, 2)} s`;

// The API server's request counters, through kubectl (the bench knows strata only as a user does).
const countRequests = (kubeconfig: string) => requestCounts(kubectlSync(kubeconfig, ['get', '--raw', '/metrics']).stdout);

async function main(): Promise<void> {
  console.log(machineLine());
  console.log(`${total} VolumeSnapshots (${perPvc} per PVC, ${pvcCount} PVCs), ${concurrency} concurrent API calls; one \`strata up\` process, default settings`);
  const dir = tempDir('strata-snapshot-bench-');
  const dataDir = join(dir, 'data');
  const driverDir = join(dataDir, 'driver');
  writeFileSync(join(dir, 'cluster.yaml'), clusterFile);
  const env = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : undefined;
  const up = startStrata(['up', '--data-dir', dataDir, '--port', '0', '--cluster', join(dir, 'cluster.yaml')], { env });
  let client: KubeClient | undefined;
  try {
    await up.waitFor(/^Strata is ready$/m, 60_000);
    const kubeconfig = (await up.waitFor(/export KUBECONFIG=(\S+)/))[1];
    // This process plays the users: over HTTPS, as kubectl comes (the components use the API server's local socket).
    client = KubeClient.fromKubeconfig(kubeconfig, { localSocket: false });
    const c = client;
    await c.resource(Resources.namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    await c.resource(Resources.storageClasses).create({
      apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'bench-zonal' },
      provisioner: 'csi.strata.io', parameters: { type: 'zonal' }, reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate',
    });
    await c.resource(Resources.volumeSnapshotClasses).create({
      apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'bench-snap' }, driver: 'csi.strata.io', deletionPolicy: 'Delete',
    });
    const pvcs = c.resource(Resources.pvc);
    await inParallel(pvcCount, concurrency, (i) => pvcs.create({
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `source-${i}`, namespace },
      spec: { storageClassName: 'bench-zonal', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    } as PersistentVolumeClaim));
    await eventually(async () => (await pvcs.list({ namespace })).items.filter((p) => p.status?.phase === 'Bound').length === pvcCount, {
      timeoutMs: 120_000, intervalMs: 250, what: 'source PVCs Bound',
    });

    // ---- create
    const snapshots = c.resource(Resources.volumeSnapshots);
    const contents = c.resource(Resources.volumeSnapshotContents);
    const createdAt = new Map<string, number>();
    const readyAt = new Map<string, number>();
    const goneAt = new Map<string, number>();
    const contentGoneAt = new Map<string, number>();
    let allReady!: () => void;
    let allGone!: () => void;
    const ready = new Promise<void>((r) => (allReady = r));
    const deleted = new Promise<void>((r) => (allGone = r));
    const contentsGone = () => contentGoneAt.size === total;
    const checkGone = () => goneAt.size === total && contentsGone() && allGone();
    const start = (await snapshots.list({ namespace })).metadata.resourceVersion;
    const watch = snapshots.watch({ namespace, resourceVersion: start }, (type, s: VolumeSnapshot) => {
      const name = s.metadata.name!;
      if (type === 'DELETED') {
        goneAt.set(name, performance.now());
        checkGone();
      } else if (s.status?.readyToUse === true && !readyAt.has(name)) {
        readyAt.set(name, performance.now());
        if (readyAt.size === total) allReady();
      }
    }, (err) => err && console.error('watch ended:', err.message));
    const contentWatch = contents.watch({ resourceVersion: start }, (type, content: VolumeSnapshotContent) => {
      if (type === 'DELETED') {
        contentGoneAt.set(content.metadata.name!, performance.now());
        checkGone();
      }
    }, () => undefined);

    const requestsBefore = countRequests(kubeconfig);
    const cpuBefore = processCpuMs(up.pid) / 1000;
    const t0 = performance.now();
    await inParallel(total, concurrency, async (i) => {
      const name = `snap-${Math.floor(i / perPvc)}-${i % perPvc}`;
      createdAt.set(name, performance.now());
      await snapshots.create({
        apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name, namespace },
        spec: { volumeSnapshotClassName: 'bench-snap', source: { persistentVolumeClaimName: `source-${Math.floor(i / perPvc)}` } },
      });
    });
    const createsDone = performance.now();
    const readyTimeout = setTimeout(allReady, 300_000);
    await ready;
    clearTimeout(readyTimeout);
    const lastReady = Math.max(...readyAt.values());
    // Every write to the store (objects, status, finalizers, events) advances the global resourceVersion.
    const revision = async () => BigInt((await snapshots.list({ namespace })).metadata.resourceVersion ?? '0');
    const afterCreate = await revision();
    const latencies = [...createdAt].filter(([n]) => readyAt.has(n)).map(([n, t]) => readyAt.get(n)! - t).sort((a, b) => a - b);
    const backendCount = readdirSync(join(driverDir, 'snapshots')).length;
    console.log(
      `create: ${readyAt.size}/${total} readyToUse in ${seconds(lastReady - t0)} (target < 20 s; create calls took ${seconds(createsDone - t0)}), ` +
        `${fmt(readyAt.size / ((lastReady - t0) / 1000), 0)} snapshots/s, per snapshot p50 ${seconds(percentile(latencies, 50))}, p99 ${seconds(percentile(latencies, 99))}; ` +
        `${backendCount} backend snapshots; ${afterCreate - BigInt(start ?? '0')} API writes (${fmt(Number(afterCreate - BigInt(start ?? '0')) / total, 1)} per snapshot, events included)`,
    );

    const requestsAfterCreate = countRequests(kubeconfig);
    const cpuAfterCreate = processCpuMs(up.pid) / 1000;
    console.log(`create: strata CPU ${fmt(cpuAfterCreate - cpuBefore, 2)} s (${fmt(((cpuAfterCreate - cpuBefore) * 1000) / total, 2)} ms per snapshot)`);
    console.log(`create requests per snapshot: ${requestsPer(requestsBefore, requestsAfterCreate, total)}`);

    // ---- delete
    const names = [...createdAt.keys()];
    const deleteCalledAt = new Map<string, number>();
    const d0 = performance.now();
    await inParallel(total, concurrency, (i) => {
      deleteCalledAt.set(names[i]!, performance.now());
      return snapshots.delete(names[i]!, namespace);
    });
    const deletesDone = performance.now();
    const deleteTimeout = setTimeout(allGone, 300_000);
    await deleted;
    clearTimeout(deleteTimeout);
    const db = new DatabaseSync(join(driverDir, 'state.db'), { readOnly: true });
    const records = () => Number((db.prepare('SELECT COUNT(*) AS n FROM snapshots').get() as { n: number }).n);
    await eventually(() => readdirSync(join(driverDir, 'snapshots')).length === 0 && records() === 0, { timeoutMs: 120_000, intervalMs: 20, what: 'backend empty' });
    db.close();
    const backendGone = performance.now();
    const afterDelete = await revision();
    const lastVs = Math.max(...goneAt.values());
    const deleteLatencies = [...deleteCalledAt].filter(([n]) => goneAt.has(n)).map(([n, t]) => goneAt.get(n)! - t).sort((a, b) => a - b);
    const lastContent = Math.max(...contentGoneAt.values());
    console.log(
      `delete: ${goneAt.size}/${total} snapshots and ${contentGoneAt.size} contents gone from the API in ${seconds(Math.max(lastVs, lastContent) - d0)}, ` +
        `backend empty after ${seconds(backendGone - d0)} (target < 10 s; delete calls took ${seconds(deletesDone - d0)}), ` +
        `per snapshot p50 ${seconds(percentile(deleteLatencies, 50))}, p99 ${seconds(percentile(deleteLatencies, 99))}; ` +
        `${afterDelete - afterCreate} API writes (${fmt(Number(afterDelete - afterCreate) / total, 1)} per snapshot)`,
    );
    const cpuAfterDelete = processCpuMs(up.pid) / 1000;
    console.log(`delete: strata CPU ${fmt(cpuAfterDelete - cpuAfterCreate, 2)} s (${fmt(((cpuAfterDelete - cpuAfterCreate) * 1000) / total, 2)} ms per snapshot)`);
    console.log(`delete requests per snapshot: ${requestsPer(requestsAfterCreate, countRequests(kubeconfig), total)}`);
    watch.stop();
    contentWatch.stop();
  } catch (err) {
    console.error(up.output().slice(-4000));
    throw err;
  } finally {
    client?.close();
    await up.stop('SIGTERM', 60_000);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
