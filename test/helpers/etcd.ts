// A real, single-member etcd for tests: 127.0.0.1 on free ports, a temp data dir, stopped by PID.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdProcess {
  /** Client URL, e.g. http://127.0.0.1:41234. */
  endpoint: string;
  pid: number;
  /** SIGTERM by PID (SIGKILL after 5 s), then removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<EtcdProcess>();
// A test process that dies without its after() hooks must not leave etcd behind.
process.on('exit', () => {
  for (const etcd of running) {
    try {
      process.kill(etcd.pid, 'SIGKILL');
    } catch { /* already gone */ }
  }
});

/** The etcd binary, or a failure that says how to get it (the etcd tests fail rather than skip without it). */
function etcdBinary(): string {
  const found = spawnSync('/bin/sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).stdout.trim();
  if (!found) {
    throw new Error("etcd is not installed: the etcd store tests need a real etcd (Debian's etcd-server package; .ci/run installs it)");
  }
  return found;
}

/** A port nobody listens on right now: bind port 0 and give it back. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startEtcd(options: { readyTimeoutMs?: number } = {}): Promise<EtcdProcess> {
  const binary = etcdBinary();
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-etcd-'));
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(binary, [
    '--name', 'test',
    '--data-dir', dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `test=${peer}`,
    // One member on loopback: a short election timeout makes it leader in ~0.1 s instead of ~1 s.
    '--heartbeat-interval', '10',
    '--election-timeout', '50',
    '--logger', 'zap',
    '--log-level', 'error',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8192);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped: Promise<void> | undefined;
  const etcd: EtcdProcess = {
    endpoint,
    pid: child.pid!,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          process.kill(etcd.pid, 'SIGTERM');
          const killer = setTimeout(() => process.kill(etcd.pid, 'SIGKILL'), 5000);
          await exited;
          clearTimeout(killer);
        }
        running.delete(etcd);
        rmSync(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  running.add(etcd);

  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await etcd.stop();
      throw new Error(`etcd exited before it was ready:\n${output}`);
    }
    try {
      const health = (await (await fetch(`${endpoint}/health`)).json()) as { health?: string };
      if (health.health === 'true') return etcd;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await etcd.stop();
      throw new Error(`etcd at ${endpoint} was not healthy after ${options.readyTimeoutMs ?? 10_000} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
