// Store micro-benchmark: creates/s with 1 and 16 concurrent writers, and the time to list 10,000 keys, per backend.
// The etcd backend runs against a real local etcd (Debian's etcd-server) with fewer creates: each is a round trip.
// Run: node bench/store/store.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.ts';
import { startEtcd } from '../../test/helpers/etcd.ts';

const CREATES = 20_000;
const ETCD_CREATES = 2_000;
const LIST_SIZE = 10_000;
const LIST_RUNS = 20;

// A realistic serialized PersistentVolumeClaim (about 1 KiB).
function pvc(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name,
      namespace: 'default',
      uid: '6f1c1f0e-8a53-4a53-9e0e-2f3f1b0c9d7a',
      creationTimestamp: '2025-01-01T00:00:00Z',
      labels: { app: 'bench', tier: 'storage' },
      annotations: { 'volume.kubernetes.io/selected-node': 'node-a', 'pv.kubernetes.io/bind-completed': 'yes' },
      finalizers: ['kubernetes.io/pvc-protection'],
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '10Gi' } },
      storageClassName: 'strata-zonal',
      volumeMode: 'Filesystem',
      volumeName: `pvc-${name}`,
    },
    status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '10Gi' } },
  });
}

async function createsPerSecond(store: Store, prefix: string, writers: number, creates: number): Promise<number> {
  const perWriter = creates / writers;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let i = 0; i < perWriter; i++) {
        const name = `w${writer}-${i}`;
        await store.create(`${prefix}${name}`, pvc(name));
      }
    }),
  );
  return creates / ((performance.now() - start) / 1000);
}

async function listMilliseconds(store: Store, prefix: string): Promise<{ median: number; items: number }> {
  const times: number[] = [];
  let items = 0;
  for (let run = 0; run < LIST_RUNS; run++) {
    const start = performance.now();
    items = (await store.list(prefix)).items.length;
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1]!, items };
}

async function bench(options: StoreOptions, creates = CREATES): Promise<void> {
  const store = await openStore(options);
  try {
    const single = await createsPerSecond(store, '/pvc/single/', 1, creates);
    const concurrent = await createsPerSecond(store, '/pvc/concurrent/', 16, creates);
    for (let i = 0; i < LIST_SIZE; i++) await store.create(`/pvc/list/${i}`, pvc(`list-${i}`));
    const list = await listMilliseconds(store, '/pvc/list/');
    console.log(
      `${options.backend.padEnd(7)} creates/s 1 writer: ${single.toFixed(0).padStart(7)}   ` +
        `16 writers: ${concurrent.toFixed(0).padStart(7)}   list ${list.items} keys: ${list.median.toFixed(1)} ms (median of ${LIST_RUNS})`,
    );
  } finally {
    await store.close();
  }
}

const cpus = os.cpus();
console.log(
  `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
    `${os.platform()} ${os.release()}, Node ${process.version}`,
);
console.log(`${CREATES} creates (etcd: ${ETCD_CREATES}) of ~${pvc('x').length}-byte values per scenario`);
await bench({ backend: 'memory' });
const dir = mkdtempSync(join(os.tmpdir(), 'strata-store-bench-'));
try {
  await bench({ backend: 'sqlite', path: join(dir, 'bench.db') });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const etcd = await startEtcd();
try {
  await bench({ backend: 'etcd', endpoints: [etcd.endpoint] }, ETCD_CREATES);
} finally {
  await etcd.stop();
}
