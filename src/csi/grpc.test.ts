// The driver's socket appears only once it accepts connections. The real driver process runs under strace, which holds
// its listen(2) for 400 ms: were the socket bound in place, a client that saw it in that time would be refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { stopChild } from '../../test/helpers/processes.ts';
import { tempDir, testClusterFile } from '../driver/testing.ts';
import { connectCsi } from './grpc.ts';

const mainPath = fileURLToPath(new URL('../driver/main.ts', import.meta.url));

test('a client that sees the driver\'s socket can connect to it, and the socket is 0600 from the start', async () => {
  const dir = await tempDir('strata-csi-socket-');
  const socket = join(dir, 'csi.sock');
  const driverArgs = [mainPath, '--endpoint', `unix://${socket}`, '--mode', 'controller', '--data-dir', join(dir, 'data'), '--cluster', testClusterFile, '--log-level', 'warn'];
  const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=listen', '-e', 'inject=listen:delay_enter=400000', process.execPath, ...driverArgs], { stdio: 'ignore' });
  try {
    await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
    const started = Date.now();
    while (!existsSync(socket)) {
      assert.ok(Date.now() - started < 20_000, 'the driver did not create its socket');
      await new Promise((r) => setTimeout(r, 1));
    }
    const mode = statSync(socket).mode & 0o777;
    await new Promise<void>((resolve, reject) => {
      const c = connect(socket);
      c.once('connect', () => {
        c.destroy();
        resolve();
      });
      c.once('error', reject);
    });
    assert.equal(mode.toString(8), '600');
    const client = connectCsi(`unix://${socket}`, { timeoutMs: 10_000 });
    assert.equal((await client.getPluginInfo()).name, 'csi.strata.io');
    client.close();
    assert.deepEqual(await readdir(dir), ['csi.sock', 'data'], 'nothing but the socket is left beside it');
  } finally {
    // The driver by its PID (strace's child); strace ends with it.
    const driverPid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
    if (driverPid > 0) process.kill(driverPid, 'SIGTERM');
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
});
