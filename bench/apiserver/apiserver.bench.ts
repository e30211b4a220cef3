// bench/apiserver: the embedded API server (SQLite backend) over HTTP/1.1 keep-alive, as issue #2 asks:
// PV creates/s with 1 and 16 clients, list latency of 10,000 PVs, watch delivery latency with 100 watchers, and
// the server's RSS with 50,000 objects. Run: npx node bench/apiserver/apiserver.bench.ts [scale]
// scale (default 1, the workload) multiplies every object count, for quicker iterations. Each phase also
// reports the server's CPU time per operation (from /proc), which two busy cores do not blur as much as wall time.
// List latency: 10 GETs of every PV, each body counted as it arrives and not kept or decoded (decoding 8 MB into a
// string per list made the client's own garbage collection part of what it measured: p50 29–75 against 21–25 ms).
// Profile the server: BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" (passed to it as NODE_OPTIONS).
// Watch delivery: 20 warm-up events, then 300 measured, each created 5 ms after the previous create's answer;
// BENCH_WATCH_DETAIL=1 also prints, per event, the first/median/last watcher's latency and the slowest events (a slow
// first receipt means the event was late before the fan-out: the write path or the machine).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
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

/** A GET whose body is only counted, not kept: the client's own allocations stay out of what it measures. */
function callBytes(base: URL, token: string, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, method: 'GET', path, agent, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
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

/** The body of an HTTP/1.1 response with chunked transfer encoding (its status line and headers skipped). */
function dechunk(response: Buffer): string {
  const parts: Buffer[] = [];
  let at = response.indexOf('\r\n\r\n') + 4;
  for (;;) {
    const lineEnd = response.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(response.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(response.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A full garbage collection of this process (gc() without starting node with --expose-gc). */
function fullGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

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
      const r = await callBytes(base, token, '/api/v1/persistentvolumes');
      lat.push(performance.now() - t0);
      if (r.status !== 200) throw new Error('list failed');
    }
    const inOrder = lat.map((x) => fmt(x)).join(', ');
    lat.sort((a, b) => a - b);
    console.log(`list of ${total} PVs:        p50 ${fmt(lat[4])} ms, max ${fmt(lat[9])} ms   (target < 75 ms for 10,000; kube-apiserver ~170 ms, 75 ms from watch cache)   ${cpuPer(cpu0, 10)}`);
    console.log(`  the 10 lists in order, ms: ${inOrder}`);

    // 100 watchers; objects created one by one; latency = receipt time - time the create was sent.
    const watchers: Array<Promise<void>> = [];
    const latencies: number[] = [];
    const perEvent: Record<string, number[]> = {};
    const firstWatcher: Buffer[] = [];
    const N = scaled(300);
    const WARM = 20; // events each watcher gets first, not measured: the first deliveries run code not yet optimized
    const rvNow = JSON.parse((await call(base, token, 'GET', '/api/v1/configmaps?limit=1')).body).metadata.resourceVersion;
    // Event i is the ConfigMap named by eventName(i); sent[i] is when its create went out, receivedAt[w * (WARM + N) + i]
    // when watcher w got it.
    const eventName = (i: number): string => `w-${i}`;
    const NAME_KEY = Buffer.from('"name":"w-');
    const sent = new Float64Array(WARM + N);
    const receivedAt = new Float64Array(100 * (WARM + N));
    const createdIn = new Float64Array(WARM + N);
    const sockets: TLSSocket[] = [];
    for (let w = 0; w < 100; w++) {
      // Each watcher is a bare TLS connection carrying one HTTP/1.1 GET, read as bytes: on arrival only the event's number
      // is read out of them (`"name":"w-123"`) and the receipt time put in a preallocated table. An http.request client
      // that parsed each line made garbage whose collection in this process, and per-socket stream overhead that, with
      // 100 sockets, showed up as delivery latency: the client measuring itself. What watcher 0 got is checked afterwards.
      watchers.push(new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: base.hostname, port: Number(base.port), ca: srv.ca }, () => {
          socket.write(`GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rvNow} HTTP/1.1\r\nHost: ${base.host}\r\nAuthorization: Bearer ${token}\r\nAccept: application/json\r\n\r\n`);
        });
        sockets.push(socket);
        let carry: Buffer | undefined; // an event split across reads (rare: each event is one write)
        let seen = 0;
        socket.on('data', (chunk: Buffer) => {
          const now = performance.now();
          const c = carry ? Buffer.concat([carry, chunk]) : chunk;
          const end = c.lastIndexOf(10) + 1;
          carry = end < c.length ? c.subarray(end) : undefined;
          for (let at = c.indexOf(NAME_KEY); at >= 0 && at < end; at = c.indexOf(NAME_KEY, at + NAME_KEY.length)) {
            let i = 0;
            for (let p = at + NAME_KEY.length; c[p] !== 0x22; p++) i = i * 10 + (c[p]! - 0x30);
            receivedAt[w * (WARM + N) + i] = now;
            seen++;
          }
          if (w === 0) firstWatcher.push(chunk);
          if (seen === WARM + N) resolve();
        });
        socket.on('error', (e) => (seen < WARM + N ? reject(e) : resolve()));
      }));
    }
    await new Promise((r) => setTimeout(r, 500));
    // The lists above left this process a large heap; collect it now, or a full GC of the bench's own lands mid-run.
    fullGc();
    cpu0 = processCpuMs(srv.pid);
    for (let i = 0; i < WARM + N; i++) {
      const name = eventName(i);
      sent[i] = performance.now();
      const r = await call(base, token, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } }));
      if (r.status !== 201) throw new Error(r.body);
      createdIn[i] = performance.now() - sent[i]!;
      await new Promise((res) => setTimeout(res, 5));
    }
    await Promise.all(watchers);
    const watchCpu = cpuPer(cpu0, WARM + N);
    for (const socket of sockets) socket.destroy();
    // What watcher 0 got is every event in order, each a whole {"type":"ADDED","object":{…}} line.
    const got = dechunk(Buffer.concat(firstWatcher)).trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
    const want = Array.from({ length: WARM + N }, (_, i) => eventName(i));
    if (got.map((e) => `${e.type} ${e.object.metadata.name}`).join() !== want.map((n) => `ADDED ${n}`).join()) throw new Error('watch 0 did not get every event in order');
    for (let w = 0; w < 100; w++) {
      for (let i = WARM; i < WARM + N; i++) {
        const latency = receivedAt[w * (WARM + N) + i]! - sent[i]!;
        latencies.push(latency);
        if (process.env.BENCH_WATCH_DETAIL) (perEvent[eventName(i)] ??= []).push(latency);
      }
    }
    if (process.env.BENCH_WATCH_DETAIL) {
      const rows = Object.values(perEvent).map((l) => l.sort((a, b) => a - b));
      const col = (q: number) => rows.map((l) => l[Math.min(l.length - 1, Math.floor(q * l.length))]!).sort((a, b) => a - b);
      const worst = Object.entries(perEvent).sort((a, b) => b[1][b[1].length - 1]! - a[1][a[1].length - 1]!).slice(0, 8);
      const describe = ([n, l]: [string, number[]]): string => `${n} (create answered in ${fmt(createdIn[Number(n.slice(2))]!, 1)}) ${fmt(l[0]!, 1)}..${fmt(l[l.length - 1]!, 1)}`;
      console.log(`  slowest events, first..last watcher ms: ${worst.map(describe).join(', ')}`);
      for (const q of [0, 0.5, 0.9, 0.99]) { const c = col(q); console.log(`  per event, watcher quantile ${q}: p50 ${fmt(percentile(c, 50), 2)} p90 ${fmt(percentile(c, 90), 2)} p99 ${fmt(percentile(c, 99), 2)} max ${fmt(c[c.length - 1]!, 2)}`); }
    }
    latencies.sort((a, b) => a - b);
    console.log(`watch delivery, 100 watchers × ${N} events: p50 ${fmt(percentile(latencies, 50), 2)} ms, p99 ${fmt(percentile(latencies, 99), 2)} ms   (target p99 < 8 ms; kube-apiserver 2.1 / 8–11 ms)   ${watchCpu} (create + 100 deliveries)`);

    const have = total + WARM + N;
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
