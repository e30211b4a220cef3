// Starting Strata's real processes for end-to-end tests, and driving them with the machine's kubectl.
// Every process binds 127.0.0.1 on an ephemeral port, lives in a temp dir, and is stopped by PID.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const STRATA_BIN = join(ROOT, 'bin/strata.js');

export function tempDir(prefix = 'strata-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface StrataProcess {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** Resolves with the first match of re in the output (stdout+stderr). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM (or the given signal) by PID, then wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

// Children still running when the test process exits (a failed test skipped its stop) are killed with it.
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** Kills the child when the test process exits, if it is still running then. */
export function killOnExit(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Resolves when the child has exited, including when it already had before this was called. */
export function childExited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Ends a child: the signal (SIGTERM), then SIGKILL if it is still there after graceMs. Resolves once it has exited. */
export async function stopChild(child: ChildProcess, opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(opts.signal ?? 'SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.graceMs ?? 10_000);
  await childExited(child);
  clearTimeout(timer);
}

export function startStrata(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): StrataProcess {
  const child = spawn(process.execPath, [STRATA_BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  killOnExit(child);
  const exited = new Promise<number | null>((res) => child.once('exit', (code, sig) => res(code ?? (sig ? 128 : null))));
  const proc: StrataProcess = {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolvePromise(m);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${re} in output:\n${out}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then((code) => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`process exited (${code}) before ${re} appeared:\n${out}`));
          }
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      await stopChild(child, { signal, graceMs: timeoutMs });
      return exited;
    },
  };
  return proc;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One authenticated HTTPS request to a Strata API server (keep-alive agent, the server's CA). */
export function apiRequest(agent: Agent, base: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(url, {
      method,
      agent,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        'Content-Type': 'application/json',
        ...(payload !== undefined ? { 'Content-Length': Buffer.byteLength(payload) } : {}),
        ...headers,
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export interface ApiServerProcess extends StrataProcess {
  url: string;
  dataDir: string;
  kubeconfig: string;
  token: string;
  ca: string;
  agent: Agent;
  kubectl: Kubectl;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  cleanup(): Promise<void>;
}

export async function startApiServerProcess(options: { dataDir?: string; storage?: 'sqlite' | 'memory'; extraArgs?: string[] } = {}): Promise<ApiServerProcess> {
  const dataDir = options.dataDir ?? tempDir();
  const proc = startStrata(['apiserver', '--data-dir', dataDir, '--port', '0', ...(options.storage ? ['--storage', options.storage] : []), ...(options.extraArgs ?? [])]);
  let m: RegExpMatchArray;
  try {
    m = await proc.waitFor(/Strata API server is ready at (\S+)/);
  } catch (err) {
    // A server that never came up leaves neither a process nor the data dir made for it.
    await proc.stop();
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const kubeconfig = join(dataDir, 'kubeconfig');
  const token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
  const ca = readFileSync(join(dataDir, 'pki/ca.crt'), 'utf8');
  const agent = new Agent({ keepAlive: true, ca, maxSockets: 64 });
  return {
    ...proc,
    url: m[1],
    dataDir,
    kubeconfig,
    token,
    ca,
    agent,
    kubectl: makeKubectl(kubeconfig),
    request: (method, path, body, headers) => apiRequest(agent, m[1], token, method, path, body, headers),
    async cleanup() {
      agent.destroy();
      await proc.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Kubectl = (args: string[], opts?: { input?: string; env?: Record<string, string>; timeoutMs?: number }) => Promise<KubectlResult>;

/** kubectl against one kubeconfig, with its own discovery cache dir (KUBECACHEDIR) so tests never share one. */
const kubectlCacheDirs: string[] = [];
process.on('exit', () => {
  for (const d of kubectlCacheDirs) rmSync(d, { recursive: true, force: true });
});

export function makeKubectl(kubeconfig: string): Kubectl {
  const cacheDir = tempDir('strata-kubecache-');
  kubectlCacheDirs.push(cacheDir);
  return (args, opts = {}) =>
    new Promise((resolvePromise) => {
      const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], {
        env: { ...process.env, KUBECACHEDIR: cacheDir, HOME: cacheDir, ...opts.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolvePromise({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(opts.input ?? '');
    });
}

/** Runs kubectl synchronously (for the rare test that needs it). */
export function kubectlSync(kubeconfig: string, args: string[]): KubectlResult {
  const r = spawnSync('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
