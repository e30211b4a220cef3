// The embedded Kubernetes-compatible API server: store → watch cache → REST verbs → HTTP.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { writeKubeconfig } from '../client/kubeconfig.ts';
import { openStore } from '../store/index.ts';
import type { Store } from '../store/types.ts';
import { Admission, SYSTEM_NAMESPACES } from './admission.ts';
import { ApiError } from './errors.ts';
import { handle } from './http.ts';
import type { HttpContext } from './http.ts';
import { ApiMetrics } from './metrics.ts';
import { NamespaceFinalizer } from './namespace-finalizer.ts';
import { loadOrCreatePki } from './pki.ts';
import { findResource, objectKey } from './resources.ts';
import { Rest } from './rest.ts';
import { WatchCache } from './watch-cache.ts';

export interface ApiServerOptions {
  dataDir: string;
  port?: number;
  host?: string;
  storage?: 'sqlite' | 'memory' | 'etcd';
  /** etcd client URLs; required when storage is 'etcd' (API servers sharing them share state). */
  etcdEndpoints?: string[];
  /** Events kept for watches to resume from; older resourceVersions get 410 Expired. */
  watchCacheCapacity?: number;
  bookmarkIntervalMs?: number;
  processMetrics?: boolean;
  podLogs?: HttpContext['podLogs'];
}

interface CompiledOptions extends Required<Omit<ApiServerOptions, 'podLogs'>> {
  podLogs?: HttpContext['podLogs'];
}

export function compileOptions(o: ApiServerOptions): CompiledOptions {
  if (!o.dataDir) throw new Error('apiserver: a data directory is required');
  if (o.storage === 'etcd' && !o.etcdEndpoints?.length) throw new Error('apiserver: etcd storage needs at least one etcd endpoint');
  const port = o.port ?? 6443;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`apiserver: invalid port ${o.port}`);
  return {
    dataDir: o.dataDir,
    port,
    host: o.host ?? '127.0.0.1',
    storage: o.storage ?? 'sqlite',
    etcdEndpoints: o.etcdEndpoints ?? [],
    watchCacheCapacity: o.watchCacheCapacity ?? 100_000,
    bookmarkIntervalMs: o.bookmarkIntervalMs ?? 10_000,
    processMetrics: o.processMetrics ?? true,
    podLogs: o.podLogs,
  };
}

export interface RunningApiServer {
  url: string;
  /** The unix socket it also serves on (plain HTTP, same authentication), if it has one: see localSocketPath. */
  socketPath?: string;
  /** PEM of the CA that signed the serving certificate. */
  caPem: string;
  token: string;
  kubeconfigPath: string;
  close(): Promise<void>;
}

/** The admin bearer token: generated on first start, kept (mode 0600) in the data dir. */
function loadOrCreateToken(dataDir: string): string {
  const path = join(dataDir, 'token');
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8').trim();
    if (t) return t;
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path, token + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

/**
 * DIR/apiserver.sock: where the server also listens for clients on this machine (Strata's own components find it in
 * the kubeconfig), as plain HTTP: no TLS to pay for on either side, the kernel's cheaper unix socket path, and only
 * this user can connect (mode 0600, in the 0700 data dir); requests still need the token. None when the path would
 * not fit in a socket address (108 bytes; then everything goes over TCP).
 */
export function localSocketPath(dataDir: string): string | undefined {
  // Absolute, as the kubeconfig must name it for clients started anywhere.
  const path = resolve(dataDir, 'apiserver.sock');
  return Buffer.byteLength(path) < 100 ? path : undefined;
}

/** Whether something accepts connections on the unix socket at path (another API server using this data dir). */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Listens on the local socket, replacing one a crashed server left; undefined if another server is listening on it. */
async function listenLocal(path: string, server: HttpServer): Promise<string | undefined> {
  if (existsSync(path)) {
    if (await socketInUse(path)) {
      process.emitWarning(`the API server's local socket ${path} is in use by another process; serving over TCP only`);
      return undefined;
    }
    rmSync(path, { force: true });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return path;
}

async function ensureSystemNamespaces(rest: Rest): Promise<void> {
  const ns = findResource('', 'v1', 'namespaces')!;
  for (const name of SYSTEM_NAMESPACES) {
    if (rest.tryGet(ns, undefined, name)) continue;
    await rest.create(ns, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, {
      dryRun: false, fieldManager: 'strata-apiserver', fieldValidation: 'Strict', warnings: [],
    }).catch((e: unknown) => {
      // Another API server sharing the etcd store created it first.
      if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
    });
  }
}

export async function startApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const o = compileOptions(options);
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const token = loadOrCreateToken(o.dataDir);
  const store: Store = await openStore({ backend: o.storage, path: join(o.dataDir, 'state.sqlite'), endpoints: o.etcdEndpoints });
  const cache = new WatchCache(store, { capacity: o.watchCacheCapacity });
  await cache.start();
  const admission = new Admission(cache);
  const rest = new Rest(store, cache, admission);
  const metrics = new ApiMetrics({ processMetrics: o.processMetrics });
  const watches = new Set<ServerResponse>();
  let address = '';
  const ctx: HttpContext = { rest, cache, metrics, token, serverAddress: () => address, bookmarkIntervalMs: o.bookmarkIntervalMs, podLogs: o.podLogs, watches,
    consistentRevision: o.storage === 'etcd' ? () => store.currentRevision() : undefined };
  await ensureSystemNamespaces(rest);
  const finalizer = new NamespaceFinalizer(rest, cache);
  finalizer.start();

  const pki = await loadOrCreatePki(o.dataDir, o.host);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(ctx, req, res);
  };
  const onClientError = (_err: Error, socket: Socket): void => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  };
  const server: Server = createServer({ key: pki.keyPem, cert: pki.certPem, keepAliveTimeout: 65_000, requestTimeout: 0 }, onRequest);
  server.on('clientError', onClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const local: HttpServer = createHttpServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, onRequest);
  local.on('clientError', onClientError);
  const wantedSocket = localSocketPath(o.dataDir);
  let socketPath: string | undefined;
  try {
    socketPath = wantedSocket && (await listenLocal(wantedSocket, local));
  } catch (err) {
    server.close();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  address = `${host}:${addr.port}`;
  const url = `https://${address}`;
  const kubeconfigPath = join(o.dataDir, 'kubeconfig');
  writeKubeconfig(kubeconfigPath, { server: url, token, certificateAuthorityPem: pki.caPem, localSocket: socketPath, name: 'strata', namespace: 'default' });

  let closed = false;
  return {
    url,
    socketPath,
    caPem: pki.caPem,
    token,
    kubeconfigPath,
    async close() {
      if (closed) return;
      closed = true;
      finalizer.stop();
      for (const w of watches) w.end();
      server.closeAllConnections();
      local.closeAllConnections();
      await Promise.all([server, ...(socketPath ? [local] : [])].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      cache.stop();
      await store.close();
    },
  };
}

export { objectKey };
