// Test support: the real driver as a child process on a unix socket in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...opts.env } });
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  for (let i = 0; !existsSync(socket); i++) {
    if (i > 200 || child.exitCode !== null || child.signalCode !== null) throw new Error(`driver did not start (socket ${socket})`);
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
      await stopChild(child, exited);
    },
  };
}

/** Ends a child: SIGTERM, then SIGKILL if it is still there after graceMs. Resolves once it has exited. */
export async function stopChild(child: ChildProcess, exited: Promise<unknown> = childExited(child), graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves when the child has exited, including when it already had before this was called. */
export function childExited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export const mountCapability = (mode: AccessModeName = 'SINGLE_NODE_WRITER'): VolumeCapability => ({ mount: {}, access_mode: { mode } });
