// `strata up`: the whole system in one process — the API server, the CSI driver (a controller plugin and a node plugin
// per node, each on its own unix socket), the controller manager, the scheduler and a node agent per node of the
// cluster file. The components talk only over HTTPS and CSI, exactly as they do when each runs alone.
//
// Data dir layout: the API server's files at the top (state.sqlite, token, kubeconfig, pki/), driver/ (volumes,
// snapshots), nodes/<name>/ (pods), csi/*.sock, logs/*.log.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { defaultClusterSpec, parseClusterFile, type ClusterSpec } from '../api/cluster.ts';
import type { Node, Pod } from '../api/types.ts';
import { ApiError } from '../apiserver/errors.ts';
import { startApiServer, type RunningApiServer } from '../apiserver/server.ts';
import { isNotFound } from '../client/errors.ts';
import { Resources } from '../client/resources.ts';
import { KubeClient } from '../client/rest.ts';
import { startControllerManager } from '../controllers/manager.ts';
import { DriverName, startCsiDriver } from '../driver/driver.ts';
import { startNodeAgent } from '../node/agent.ts';
import { bearerTokenCheck } from '../node/cli.ts';
import { AnnOwnedLabels, NodeLeaseNamespace } from '../node/registration.ts';
import { runScheduler } from '../scheduler/run.ts';
import { ClusterFileReadError, PortInUseError } from './errors.ts';

export interface UpOptions {
  dataDir: string;
  /** Path of the cluster file; the built-in cluster when absent. */
  clusterFile?: string;
  port?: number;
  host?: string;
  /** Receives a line per step while starting. */
  progress?: (line: string) => void;
  logLevel?: string;
}

export interface RunningStrata {
  dataDir: string;
  url: string;
  kubeconfigPath: string;
  cluster: ClusterSpec;
  close(): Promise<void>;
}

/** The cluster file, parsed and checked; the built-in cluster without one. */
export function loadCluster(file: string | undefined): ClusterSpec {
  if (!file) return defaultClusterSpec();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ClusterFileReadError(file, (err as Error).message);
  }
  return parseClusterFile(text, file);
}

// A unix socket path must fit in sun_path (108 bytes); a deep data dir gets its sockets in a short temp dir.
function socketDir(dataDir: string, cluster: ClusterSpec): { dir: string; temporary: boolean } {
  const dir = join(dataDir, 'csi');
  const longest = Math.max(...cluster.nodes.map((n) => n.name.length), 'controller'.length);
  if (join(dir, `node-${'x'.repeat(longest)}.sock`).length < 100) return { dir, temporary: false };
  return { dir: mkdtempSync(join(tmpdir(), 'strata-csi-')), temporary: true };
}

interface LogFile {
  logger: pino.Logger;
  close(): Promise<void>;
}

function logFile(dir: string, name: string, level: string): LogFile {
  const dest = pino.destination({ dest: join(dir, `${name}.log`), mkdir: true, sync: false });
  return {
    logger: pino({ name, level }, dest),
    close: () =>
      new Promise<void>((res) => {
        const timer = setTimeout(res, 2000);
        dest.once('close', () => {
          clearTimeout(timer);
          res();
        });
        dest.end();
      }),
  };
}

/** Proxies pods/log to the log server of the pod's node agent, as kube-apiserver does to the kubelet. */
function podLogProxy(client: () => KubeClient | undefined, token: () => string) {
  return async (namespace: string, name: string, query: URLSearchParams, res: ServerResponse): Promise<void> => {
    const c = client();
    if (!c) throw new ApiError(503, 'ServiceUnavailable', 'the API server is still starting');
    const pod = await c.resource(Resources.pods).get(name, namespace);
    const containers = pod.spec.containers.map((x) => x.name);
    let container = query.get('container') ?? '';
    if (!container) {
      if (containers.length !== 1) throw new ApiError(400, 'BadRequest', `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
      container = containers[0];
    }
    if (!pod.spec.nodeName) throw new ApiError(400, 'BadRequest', `pod ${name} does not have a host assigned`);
    const node: Node = await c.resource(Resources.nodes).get(pod.spec.nodeName);
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
    if (!port) throw new ApiError(503, 'ServiceUnavailable', `node ${pod.spec.nodeName} serves no logs`);
    const upstreamQuery = new URLSearchParams(query);
    upstreamQuery.delete('container');
    const path = `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}?${upstreamQuery}`;
    await new Promise<void>((resolvePromise, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${token()}` } }, (upstream) => {
        const code = upstream.statusCode ?? 500;
        if (code < 200 || code > 299) {
          // Upstream's GenericHttpResponseChecker: the node's text becomes the Status message.
          let body = '';
          upstream.on('data', (d: Buffer) => (body += d));
          upstream.on('end', () => reject(new ApiError(code, code === 404 ? 'NotFound' : code === 400 ? 'BadRequest' : 'InternalError', body.trim())));
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
        upstream.pipe(res);
        upstream.on('end', () => resolvePromise());
        upstream.on('error', reject);
        res.on('close', () => upstream.destroy());
      });
      req.on('error', reject);
      res.on('close', () => req.destroy());
      req.end();
    });
  };
}

const ignoreNotFound = (err: unknown): void => {
  if (!isNotFound(err)) throw err;
};

/**
 * Nodes an earlier run registered that the cluster file no longer lists leave as a deleted node does: the Node, its
 * CSINode and Lease go, and its pods are deleted at once (the pod garbage collector's orphaned pods).
 */
export async function removeDepartedNodes(client: KubeClient, cluster: ClusterSpec): Promise<string[]> {
  const wanted = new Set(cluster.nodes.map((n) => n.name));
  const departed = (await client.resource(Resources.nodes).list()).items
    .filter((n) => !wanted.has(n.metadata.name!) && n.metadata.annotations?.[AnnOwnedLabels] !== undefined)
    .map((n) => n.metadata.name!);
  for (const name of departed) {
    const pods = await client.resource(Resources.pods).list({ fieldSelector: `spec.nodeName=${name}` });
    for (const pod of pods.items as Pod[]) {
      await client.resource(Resources.pods).delete(pod.metadata.name!, pod.metadata.namespace, { gracePeriodSeconds: 0 }).catch(ignoreNotFound);
    }
    await client.resource(Resources.csiNodes).delete(name).catch(ignoreNotFound);
    await client.resource(Resources.leases).delete(name, NodeLeaseNamespace).catch(ignoreNotFound);
    await client.resource(Resources.nodes).delete(name).catch(ignoreNotFound);
  }
  return departed;
}

async function waitForNodesReady(client: KubeClient, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = (await client.resource(Resources.nodes).list()).items;
    const csiNodes = new Set((await client.resource(Resources.csiNodes).list()).items
      .filter((c) => c.spec.drivers.some((d) => d.name === DriverName)).map((c) => c.metadata.name));
    const ready = (n: Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const missing = names.filter((name) => {
      const node = nodes.find((n) => n.metadata.name === name);
      return !node || !ready(node) || !csiNodes.has(name);
    });
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`nodes not ready after ${timeoutMs / 1000}s: ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startStrata(options: UpOptions): Promise<RunningStrata> {
  const progress = options.progress ?? (() => {});
  const dataDir = resolve(options.dataDir);
  const cluster = loadCluster(options.clusterFile);
  const level = options.logLevel ?? 'info';
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logsDir = join(dataDir, 'logs');
  mkdirSync(logsDir, { recursive: true });

  // Everything started so far, stopped in reverse order on close or when a later step fails.
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      await c().catch((err: unknown) => process.stderr.write(`strata: while stopping: ${(err as Error).message}\n`));
    }
  };
  try {
    const apiLog = logFile(logsDir, 'apiserver', level);
    closers.push(apiLog.close);
    // The API server reports unexpected errors as process warnings: into its log, not the terminal.
    const onWarning = (w: Error) => apiLog.logger.warn({ err: w }, w.message);
    const earlierWarningListeners = process.listeners('warning');
    process.removeAllListeners('warning');
    process.on('warning', onWarning);
    closers.push(async () => {
      process.off('warning', onWarning);
      for (const l of earlierWarningListeners) process.on('warning', l);
    });

    progress(`Starting the API server (data in ${dataDir})`);
    let client: KubeClient | undefined;
    let server: RunningApiServer;
    const port = options.port ?? 6443;
    const host = options.host ?? '127.0.0.1';
    try {
      server = await startApiServer({ dataDir, port, host, storage: 'sqlite', podLogs: podLogProxy(() => client, () => server.token) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(host, port);
      throw err;
    }
    closers.push(() => server.close());
    progress(`  API server ready at ${server.url}`);
    const newClient = (component: string) => {
      const c = KubeClient.fromKubeconfig(server.kubeconfigPath, { userAgent: `strata-${component}` });
      closers.push(async () => c.close());
      return c;
    };
    client = newClient('up');

    const departed = await removeDepartedNodes(client, cluster);
    for (const name of departed) progress(`  removed node ${name} (no longer in the cluster file)`);

    progress(`Starting the CSI driver ${DriverName} (a controller plugin and ${cluster.nodes.length} node plugins)`);
    const driverLog = logFile(logsDir, 'csi-driver', level);
    closers.push(driverLog.close);
    const sockets = socketDir(dataDir, cluster);
    mkdirSync(sockets.dir, { recursive: true, mode: 0o700 });
    if (sockets.temporary) closers.push(async () => rmSync(sockets.dir, { recursive: true, force: true }));
    const driverData = join(dataDir, 'driver');
    const controllerEndpoint = `unix://${join(sockets.dir, 'controller.sock')}`;
    const controllerPlugin = await startCsiDriver({ endpoint: controllerEndpoint, mode: 'controller', dataDir: driverData, cluster, log: driverLog.logger.child({ plugin: 'controller' }) });
    closers.push(() => controllerPlugin.close());
    const nodeEndpoints = new Map<string, string>();
    for (const node of cluster.nodes) {
      const endpoint = `unix://${join(sockets.dir, `node-${node.name}.sock`)}`;
      const plugin = await startCsiDriver({ endpoint, nodeId: node.name, mode: 'node', dataDir: driverData, cluster, log: driverLog.logger.child({ plugin: node.name }) });
      closers.push(() => plugin.close());
      nodeEndpoints.set(node.name, endpoint);
    }

    const stop = new AbortController();
    closers.push(async () => stop.abort());

    progress('Starting the controller manager (pv-binder, provisioner, snapshot controller, snapshotter)');
    const cmLog = logFile(logsDir, 'controller-manager', level);
    closers.push(cmLog.close);
    const manager = await startControllerManager({ client: newClient('controller-manager'), csiEndpoint: controllerEndpoint, signal: stop.signal, logger: cmLog.logger });
    closers.push(() => manager.close());

    progress('Starting the scheduler');
    const schedLog = logFile(logsDir, 'scheduler', level);
    closers.push(schedLog.close);
    const scheduler = runScheduler({ client: newClient('scheduler'), signal: stop.signal, logger: schedLog.logger }).catch((err: unknown) => {
      schedLog.logger.error({ err }, 'scheduler stopped');
    });
    closers.push(async () => {
      stop.abort();
      await scheduler;
    });

    progress(`Starting ${cluster.nodes.length} nodes: ${cluster.nodes.map((n) => n.name).join(', ')}`);
    const nodeLog = logFile(logsDir, 'nodes', level);
    closers.push(nodeLog.close);
    const nodeClient = newClient('node');
    const logTokenCheck = bearerTokenCheck(server.token);
    const agents = await Promise.all(cluster.nodes.map((node) =>
      startNodeAgent({
        client: nodeClient,
        name: node.name,
        cluster,
        csiEndpoint: nodeEndpoints.get(node.name)!,
        dataDir: join(dataDir, 'nodes', node.name),
        logTokenCheck,
        logger: nodeLog.logger,
      })));
    // Node agents stop their pods first, while the API server and the CSI plugins still answer.
    closers.push(async () => {
      await Promise.all(agents.map((a) => a.close()));
    });
    await waitForNodesReady(client, cluster.nodes.map((n) => n.name), 30_000);

    return { dataDir, url: server.url, kubeconfigPath: server.kubeconfigPath, cluster, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The lines `strata up` prints once everything runs: how to use it, and the nodes. */
export function readyMessage(s: RunningStrata): string {
  const kubeconfig = s.kubeconfigPath;
  const rows = [['NODE', 'REGION', 'ZONE', 'LOCAL POOL', 'TAINTS']];
  for (const n of s.cluster.nodes) {
    rows.push([n.name, s.cluster.region, n.zone, n.localPoolBytes > 0n ? n.localPool : '-', n.taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(',') || '-']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) => '  ' + r.map((c, i) => c.padEnd(widths[i] + 2)).join('').trimEnd());
  return [
    'Strata is ready',
    '',
    'Use it with kubectl:',
    `  export KUBECONFIG=${kubeconfig}`,
    '  kubectl get nodes -L topology.kubernetes.io/zone',
    '  kubectl get storageclass,pvc,pv,volumesnapshot -A',
    '',
    'Watch the lecture\'s demonstrations, and ask why something is pending:',
    '  npx strata demo topology',
    '  npx strata demo snapshot',
    '  npx strata explain pod NAME',
    '',
    `Cluster ${s.cluster.name}:`,
    ...table,
    '',
    `Logs: ${join(s.dataDir, 'logs')}. Press Ctrl-C to stop.`,
    '',
  ].join('\n');
}
