// bench/apiserver: the embedded API server (SQLite backend) over HTTP/1.1 keep-alive, as issue #2 asks:
// PV creates/s with 1 and 16 clients, list latency of 10,000 PVs, watch delivery latency with 100 watchers, and
// the server's RSS with 50,000 objects. Run: npx node bench/apiserver/apiserver.bench.ts [scale]
// scale (default 1, the workload) multiplies every object count, for quicker iterations. Each phase also
// reports the server's CPU time per operation (from /proc), which two busy cores do not blur as much as wall time.
// Profile the server: BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" (passed to it as NODE_OPTIONS).
import { readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { startApiServerProcess } from '../../test/helpers/processes.ts';
import { fmt, machineLine, percentile, processCpuMs } from '../lib/machine.ts';

let agent: Agent;

function call(base: URL, token: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, method, path, agent, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function pv(name: string, extra: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'PersistentVolume',
    metadata: { name, labels: { bench: 'true' }, annotations: extra },
    spec: { capacity: { storage: '10Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'standard', csi: { driver: 'csi.strata.io', volumeHandle: name } },
  });
}

async function createMany(base: URL, token: string, prefix: string, n: number, concurrency: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const r = await call(base, token, 'POST', '/api/v1/persistentvolumes', pv(`${prefix}-${i}`));
      if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.body}`);
    }
  }));
  return n / ((performance.now() - t0) / 1000);
}

const SCALE = Number(process.argv[2] ?? 1);
if (!(SCALE > 0)) throw new Error(`scale must be a positive number, got ${process.argv[2]}`);
const scaled = (n: number): number => Math.max(1, Math.round(n * SCALE));

function rssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  console.log(`${machineLine()}, scale ${SCALE}`);
  if (process.env.BENCH_NODE_OPTIONS) process.env.NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS;
  const srv = await startApiServerProcess();
  delete process.env.NODE_OPTIONS;
  const cpuPer = (since: number, ops: number): string => `${fmt((processCpuMs(srv.pid) - since) / ops, 3)} ms server CPU/op`;
  agent = new Agent({ keepAlive: true, maxSockets: 64, ca: srv.ca });
  const base = new URL(srv.url);
  const token = readFileSync(join(srv.dataDir, 'token'), 'utf8').trim();
  try {
    await createMany(base, token, 'warm', 200, 4);
    let cpu0 = processCpuMs(srv.pid);
    const oneN = scaled(3000);
    const one = await createMany(base, token, 'c1', oneN, 1);
    console.log(`PV creates/s, 1 client:     ${fmt(one, 0)}   (target ≥ 1,000; kube-apiserver 1.26 ~860)   ${cpuPer(cpu0, oneN)}`);
    cpu0 = processCpuMs(srv.pid);
    const sixteenN = scaled(8000);
    const sixteen = await createMany(base, token, 'c16', sixteenN, 16);
    console.log(`PV creates/s, 16 clients:   ${fmt(sixteen, 0)}   (target ≥ 3,000; kube-apiserver 1.26 ~2,700)   ${cpuPer(cpu0, sixteenN)}`);

    // The list holds every PV created so far (11,200 at scale 1: a little more than the 10,000).
    const total = JSON.parse((await call(base, token, 'GET', '/api/v1/persistentvolumes')).body).items.length;
    const lat: number[] = [];
    cpu0 = processCpuMs(srv.pid);
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const r = await call(base, token, 'GET', '/api/v1/persistentvolumes');
      lat.push(performance.now() - t0);
      if (r.status !== 200) throw new Error('list failed');
    }
    lat.sort((a, b) => a - b);
    console.log(`list of ${total} PVs:        p50 ${fmt(lat[4])} ms, max ${fmt(lat[9])} ms   (target < 75 ms for 10,000; kube-apiserver ~170 ms, 75 ms from watch cache)   ${cpuPer(cpu0, 10)}`);

    // 100 watchers; objects created one by one; latency = receipt time - time the create was sent.
    const watchers: Array<Promise<void>> = [];
    const latencies: number[] = [];
    const N = scaled(300);
    const rvNow = JSON.parse((await call(base, token, 'GET', '/api/v1/configmaps?limit=1')).body).metadata.resourceVersion;
    const sent = new Map<string, number>();
    let done = 0;
    const reqs: Array<ReturnType<typeof request>> = [];
    for (let w = 0; w < 100; w++) {
      watchers.push(new Promise((resolve, reject) => {
        const req = request({ host: base.hostname, port: base.port, ca: srv.ca, path: `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rvNow}`, headers: { Authorization: `Bearer ${token}` } }, (res) => {
          let buf = '';
          let seen = 0;
          res.on('data', (c) => {
            const now = performance.now();
            buf += c;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              const name = JSON.parse(line).object.metadata.name as string;
              latencies.push(now - sent.get(name)!);
              if (++seen === N) { done++; req.destroy(); resolve(); }
            }
          });
          res.on('error', () => resolve());
        });
        req.on('error', (e) => (done < 100 ? reject(e) : resolve()));
        req.end();
        reqs.push(req);
      }));
    }
    await new Promise((r) => setTimeout(r, 500));
    cpu0 = processCpuMs(srv.pid);
    for (let i = 0; i < N; i++) {
      const name = `w-${i}`;
      sent.set(name, performance.now());
      const r = await call(base, token, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } }));
      if (r.status !== 201) throw new Error(r.body);
      await new Promise((res) => setTimeout(res, 5));
    }
    await Promise.all(watchers);
    const watchCpu = cpuPer(cpu0, N);
    latencies.sort((a, b) => a - b);
    console.log(`watch delivery, 100 watchers × ${N} events: p50 ${fmt(percentile(latencies, 50), 2)} ms, p99 ${fmt(percentile(latencies, 99), 2)} ms   (target p99 < 8 ms; kube-apiserver 2.1 / 8–11 ms)   ${watchCpu} (create + 100 deliveries)`);

    const have = total + N;
    const objects = scaled(50_000);
    await createMany(base, token, 'fill', Math.max(0, objects - have), 16);
    await new Promise((r) => setTimeout(r, 1000));
    console.log(`server RSS with ${objects} objects: ${fmt(rssMiB(srv.pid), 0)} MiB   (target < 400 MB at 50,000; kube-apiserver ~600 MB at 12,000 + etcd 80 MB)`);
  } finally {
    agent.destroy();
    await srv.stop();
    rmSync(srv.dataDir, { recursive: true, force: true });
  }
}

await main();
