// VolumeFreezes with a real process as the volume's writer: overlapping point-in-time copies of one volume keep it
// stopped until the last copy ends.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataDir, exists, findWriters, publishTree, removeTree, VolumeFreezes } from './files.ts';

async function state(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

test('overlapping holds on one volume share one freeze; the writer resumes after the last', async () => {
  const writer = spawn('sleep', ['60'], { stdio: 'ignore' });
  const pid = writer.pid!;
  const root = await mkdtemp(join(tmpdir(), 'strata-freezes-'));
  try {
    const dirs = new DataDir(root);
    await dirs.prepare();
    const freezes = new VolumeFreezes(dirs);
    let scans = 0;
    const findWriters = async () => {
      scans++;
      return [pid];
    };
    let releaseFirst!: () => void;
    let releaseSecond!: () => void;
    const first = freezes.hold('vol-1', findWriters, () => new Promise<void>((r) => (releaseFirst = r)));
    await new Promise((r) => setTimeout(r, 50));
    const second = freezes.hold('vol-1', findWriters, () => new Promise<void>((r) => (releaseSecond = r)));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await state(pid), 'T', 'stopped while the copies run');
    releaseFirst();
    await first;
    assert.equal(await state(pid), 'T', 'still stopped: the second copy runs');
    releaseSecond();
    await second;
    assert.notEqual(await state(pid), 'T', 'resumed after the last copy');
    assert.equal(scans, 1, 'one scan for writers per freeze');

    // Another freeze later scans again, and a failing copy still resumes the writer.
    await assert.rejects(freezes.hold('vol-1', findWriters, async () => {
      assert.equal(await state(pid), 'T');
      throw new Error('copy failed');
    }), /copy failed/);
    assert.notEqual(await state(pid), 'T');
    assert.equal(scans, 2);
  } finally {
    writer.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('findWriters finds a process working in the volume, and never the driver itself or a process above it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'strata-writers-'));
  const volume = join(root, 'volume');
  await mkdir(volume);
  const sibling = spawn('sleep', ['60'], { cwd: volume, stdio: 'ignore' });
  try {
    await new Promise((resolve, reject) => sibling.once('spawn', resolve).once('error', reject));
    // A shell working in the volume runs the "driver", which looks for the volume's writers from there too.
    const code = `const { findWriters } = await import(${JSON.stringify(new URL('./files.ts', import.meta.url).href)});
      console.log(JSON.stringify({ self: process.pid, parent: process.ppid, writers: await findWriters(process.argv[1], []) }));`;
    const shell = spawn('sh', ['-c', `"${process.execPath}" --input-type=module -e "$0" "$1"; true`, code, volume], { cwd: volume, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    shell.stdout.on('data', (d) => (out += d));
    shell.stderr.on('data', (d) => (err += d));
    await new Promise((resolve) => shell.once('close', resolve));
    assert.ok(out.startsWith('{'), `the driver side printed nothing: ${err}`);
    const seen = JSON.parse(out) as { self: number; parent: number; writers: number[] };
    assert.equal(seen.parent, shell.pid, 'the shell stayed the parent');
    assert.deepEqual(seen.writers, [sibling.pid], 'the sleep in the volume, not the shell above the driver nor the driver');
    assert.deepEqual(await findWriters(volume, []), [sibling.pid], 'and from outside too');
  } finally {
    sibling.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('publishTree moves the tree into place over nothing, an empty dir, a crashed attempt\'s tree or a file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-publish-'));
  try {
    const leftovers: Record<string, (dest: string) => Promise<void>> = {
      nothing: async () => {},
      'an empty dir': (dest) => mkdir(dest).then(() => undefined),
      'a half-made tree': async (dest) => {
        await mkdir(join(dest, 'sub'), { recursive: true });
        await writeFile(join(dest, 'sub', 'stale'), 'x');
      },
      'a file': (dest) => writeFile(dest, 'x'),
    };
    for (const [what, leave] of Object.entries(leftovers)) {
      const scratch = join(dir, 'scratch');
      const dest = join(dir, what.replaceAll(' ', '-'));
      await mkdir(scratch);
      await writeFile(join(scratch, 'data'), what);
      await leave(dest);
      await publishTree(scratch, dest);
      assert.deepEqual(await readdir(dest), ['data'], what);
      assert.equal(await readFile(join(dest, 'data'), 'utf8'), what);
      assert.equal(await exists(scratch), false, what);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('removeTree removes a tree and accepts a missing path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-remove-'));
  try {
    await mkdir(join(dir, 'tree', 'sub'), { recursive: true });
    await writeFile(join(dir, 'tree', 'sub', 'f'), 'x');
    await removeTree(join(dir, 'tree'));
    assert.equal(await exists(join(dir, 'tree')), false);
    await removeTree(join(dir, 'missing'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
