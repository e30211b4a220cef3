// Snapshot and restore of a 1 GiB volume (64 files of random data) through the real driver process, beside a plain
// `cp -r` of the same data in the same run. Run: node bench/snapshots/copy.bench.ts
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { mountCapability, startDriverProcess, tempDir } from '../../src/driver/testing.ts';

const Files = 64;
const FileBytes = 16 * 1024 * 1024;
const TotalBytes = Files * FileBytes;

const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? cpus()[0]?.model ?? 'unknown';
console.log(`machine: ${cpuModel}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory`);

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
  execFileSync('sync');

  // Each step starts with no dirty pages and ends when its data is on disk (sync), so no step pays for another's
  // writeback.
  const timed = async (label: string, fn: () => unknown) => {
    execFileSync('sync');
    const start = performance.now();
    await fn();
    execFileSync('sync');
    const seconds = (performance.now() - start) / 1000;
    console.log(`${label.padEnd(10)} ${seconds.toFixed(2)} s  ${(TotalBytes / 2 ** 20 / seconds).toFixed(0)} MB/s`);
    return seconds;
  };
  const cp = await timed('cp -r', () => execFileSync('cp', ['-r', volDir, join(dir, 'cp-copy')]));
  let snapshotId = '';
  const snap = await timed('snapshot', async () => {
    snapshotId = (await c.createSnapshot({ name: 'bench-snap', source_volume_id: vol.volume_id }, { timeoutMs: 600_000 })).snapshot.snapshot_id;
  });
  const restore = await timed('restore', () =>
    c.createVolume({ name: 'bench-restore', volume_capabilities: caps, volume_content_source: { snapshot: { snapshot_id: snapshotId } } }, { timeoutMs: 600_000 }),
  );
  console.log(`snapshot / cp -r = ${(snap / cp).toFixed(2)}x, restore / cp -r = ${(restore / cp).toFixed(2)}x (target <= 1.2x)`);
} finally {
  await driver.stop();
  await rm(dir, { recursive: true, force: true });
}
