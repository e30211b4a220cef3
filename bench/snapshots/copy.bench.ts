// bench/snapshots (2): snapshot and restore of a 1 GiB volume (64 files of random data) through the real driver
// process, beside a plain `cp -r` of the same data in the same run. Each step runs `rounds` times, interleaved so that
// a busy machine slows all three alike; the median is reported. Run: node bench/snapshots/copy.bench.ts [rounds]
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mountCapability, startDriverProcess, tempDir } from '../../src/driver/testing.ts';
import { fmt, machineLine, percentile } from '../lib/machine.ts';

const Files = 64;
const FileBytes = 16 * 1024 * 1024;
const TotalBytes = Files * FileBytes;
const rounds = Number(process.argv[2] ?? 3);

console.log(machineLine());
const dir = await tempDir('strata-bench-copy-');
const dataDir = join(dir, 'data');
const driver = await startDriverProcess({ dataDir, socketDir: dir, mode: 'controller' });
try {
  const c = driver.client;
  const caps = [mountCapability()];
  const vol = (await c.createVolume({ name: 'bench-source', volume_capabilities: caps, capacity_range: { required_bytes: String(2 * TotalBytes) } })).volume;
  const volDir = join(dataDir, 'volumes', vol.volume_id);
  const chunk = Buffer.alloc(FileBytes);
  for (let i = 0; i < Files; i++) writeFileSync(join(volDir, `file-${i}.bin`), randomFillSync(chunk));
  const fsType = execFileSync('stat', ['-f', '-c', '%T', dataDir], { encoding: 'utf8' }).trim();
  console.log(`${Files} files × ${FileBytes / 2 ** 20} MiB = ${TotalBytes / 2 ** 30} GiB on ${fsType}, ${rounds} rounds, median shown`);

  // Each step starts with no dirty pages and ends when its data is on disk (sync), so no step pays for another's
  // writeback.
  const timed = async (fn: () => unknown): Promise<number> => {
    execFileSync('sync');
    const start = performance.now();
    await fn();
    execFileSync('sync');
    return (performance.now() - start) / 1000;
  };
  const times = { 'cp -r': [] as number[], snapshot: [] as number[], restore: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const copy = join(dir, `cp-copy-${round}`);
    times['cp -r'].push(await timed(() => execFileSync('cp', ['-r', volDir, copy])));
    await rm(copy, { recursive: true });
    let snapshotId = '';
    times.snapshot.push(await timed(async () => {
      snapshotId = (await c.createSnapshot({ name: `bench-snap-${round}`, source_volume_id: vol.volume_id }, { timeoutMs: 600_000 })).snapshot.snapshot_id;
    }));
    let volumeId = '';
    times.restore.push(await timed(async () => {
      volumeId = (await c.createVolume(
        { name: `bench-restore-${round}`, volume_capabilities: caps, volume_content_source: { snapshot: { snapshot_id: snapshotId } } },
        { timeoutMs: 600_000 },
      )).volume.volume_id;
    }));
    await c.deleteVolume({ volume_id: volumeId });
    await c.deleteSnapshot({ snapshot_id: snapshotId });
  }
  const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
  for (const [label, xs] of Object.entries(times)) {
    const s = median(xs);
    console.log(`${label.padEnd(10)} ${fmt(s, 2)} s  ${fmt(TotalBytes / 2 ** 20 / s, 0)} MB/s  (rounds: ${xs.map((x) => fmt(x, 2)).join(', ')})`);
  }
  const cp = median(times['cp -r']);
  console.log(`snapshot / cp -r = ${fmt(median(times.snapshot) / cp, 2)}x, restore / cp -r = ${fmt(median(times.restore) / cp, 2)}x (target <= 1.2x)`);
} finally {
  await driver.stop();
  await rm(dir, { recursive: true, force: true });
}
