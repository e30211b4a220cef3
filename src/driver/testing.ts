// Test support: the real driver as a child process on a unix socket in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit, stopChild } from '../../test/helpers/processes.ts';
import { connectCsi, type CsiClient } from '../csi/grpc.ts';
import type { AccessModeName, VolumeCapability } from '../csi/types.ts';

export const testClusterFile = fileURLToPath(new URL('./testdata/cluster.yaml', import.meta.url));
const mainPath = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface DriverProcess {
  child: ChildProcess;
  client: CsiClient;
  socket: string;
  exited: Promise<number | string | null>;
  stop(): Promise<void>;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function startDriverProcess(opts: { dataDir: string; socketDir: string; mode?: string; nodeId?: string; env?: Record<string, string> }): Promise<DriverProcess> {
  const socket = join(opts.socketDir, `csi-${opts.mode ?? 'all'}-${opts.nodeId ?? 'none'}.sock`);
  const args = [mainPath, '--endpoint', `unix://${socket}`, '--mode', opts.mode ?? 'all', '--data-dir', opts.dataDir, '--cluster', testClusterFile, '--log-level', 'warn'];
  if (opts.nodeId) args.push('--node-id', opts.nodeId);
  await rm(socket, { force: true }); // a killed driver leaves its socket behind
  // Output through pipes, not the test's own stdout and stderr: a driver that outlived its test would hold those
  // open, and the test runner waits for them to close.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  child.stdout!.pipe(process.stderr, { end: false });
  child.stderr!.pipe(process.stderr, { end: false });
  killOnExit(child);
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const started = Date.now();
  while (!existsSync(socket)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`driver exited (${child.exitCode ?? child.signalCode}) before creating its socket ${socket}`);
    if (Date.now() - started > 30_000) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`driver did not create its socket ${socket} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const client = connectCsi(`unix://${socket}`, { timeoutMs: 20_000 });
  return {
    child,
    client,
    socket,
    exited,
    // SIGTERM, and SIGKILL if it has not ended within 10 s (a stopped or wedged driver must not hang the test).
    async stop() {
      client.close();
      await stopChild(child);
    },
  };
}

export const mountCapability = (mode: AccessModeName = 'SINGLE_NODE_WRITER'): VolumeCapability => ({ mount: {}, access_mode: { mode } });
