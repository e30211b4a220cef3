// What every benchmark prints about the machine it ran on, so figures can be compared as ratios within one run.
import { readFileSync } from 'node:fs';
import { cpus, totalmem, loadavg, release } from 'node:os';

/**
 * The machine, and how fast it is right now: `fixed work` is speedProbeMs() before the run; when the bench's process
 * is about to exit it prints the same probe again. A shared host runs the same build up to 1.5× slower from one run to
 * the next while the guest reports no steal time, so these two figures say which runs are comparable.
 */
export function machineLine(): string {
  const c = cpus();
  const before = speedProbeMs();
  process.once('beforeExit', () => console.log(`fixed work: ${fmt(before)} ms before the run, ${fmt(speedProbeMs())} ms after it`));
  return `machine: ${c[0]?.model ?? 'unknown cpu'} × ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, linux ${release()}, node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, fixed work ${fmt(before)} ms`;
}

// What the probe encodes and decodes: 200 objects shaped like a bound PersistentVolume.
const probeObjects = Array.from({ length: 200 }, (_, i) => ({
  apiVersion: 'v1', kind: 'PersistentVolume',
  metadata: { name: `pv-${i}`, uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, resourceVersion: String(1000 + i), labels: { zone: `zone-${i % 3}` } },
  spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], claimRef: { namespace: 'bench', name: `claim-${i}` }, csi: { driver: 'csi.strata.io', volumeHandle: `vol-${i}` } },
  status: { phase: 'Bound' },
}));

/**
 * How long a fixed piece of single-threaded work takes now, in ms: the median of 5 rounds of encoding and decoding
 * probeObjects 40 times (JSON is most of what the components do). Lower is faster; compare runs by it.
 */
export function speedProbeMs(): number {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < 40; i++) bytes += (JSON.parse(JSON.stringify(probeObjects)) as unknown[]).length;
    if (bytes !== 40 * probeObjects.length) throw new Error('speed probe: unexpected result');
    rounds.push(performance.now() - t0);
  }
  return rounds.sort((a, b) => a - b)[2]!;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

/** Runs fn(0..n-1) with at most `concurrency` calls in flight. */
export async function inParallel(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    for (let i = next++; i < n; i = next++) await fn(i);
  }));
}

/** A process's user + system CPU time so far in ms, from /proc (USER_HZ 100): steadier than wall time on a shared machine. */
export function processCpuMs(pid: number): number {
  const { user, kernel } = processCpuSplitMs(pid);
  return user + kernel;
}

/** CPU time of a process so far, in ms, split into user and kernel (system calls: sockets, fsync) time. */
export function processCpuSplitMs(pid: number): { user: number; kernel: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return { user: Number(fields[11]) * 10, kernel: Number(fields[12]) * 10 };
}

/** apiserver_request_total from the API server's /metrics text, keyed "VERB resource[/subresource] code"; watches left out. */
export function requestCounts(metricsText: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of metricsText.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.verb === 'WATCH') continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''} ${labels.code}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(m[2]));
  }
  return counts;
}

/** The requests made between two requestCounts, per unit of work, largest first (conflicts show as code 409). */
export function requestsPer(before: Map<string, number>, after: Map<string, number>, units: number): string {
  return [...after]
    .map(([k, n]) => [k, n - (before.get(k) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${fmt(n / units, 2)}`)
    .join(', ');
}
