// VolumeFreezes with a real process as the volume's writer: overlapping point-in-time copies of one volume keep it
// stopped until the last copy ends.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { VolumeFreezes } from './files.ts';

async function state(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

test('overlapping holds on one volume share one freeze; the writer resumes after the last', async () => {
  const writer = spawn('sleep', ['60'], { stdio: 'ignore' });
  const pid = writer.pid!;
  try {
    const freezes = new VolumeFreezes();
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
  }
});
