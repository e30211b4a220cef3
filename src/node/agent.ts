// The node agent: Strata's kubelet for one simulated node. It registers the Node, keeps its status and Lease fresh,
// registers the node's CSI plugin in CSINode, runs a pod worker for every pod bound to the node, and serves their logs.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { release } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { ClusterNode, ClusterSpec } from '../api/cluster.ts';
import type { Node, Pod } from '../api/types.ts';
import { isNotFound } from '../client/errors.ts';
import { EventRecorder } from '../client/events.ts';
import { Informer } from '../client/informer.ts';
import { defaultLogger, type Logger } from '../client/logger.ts';
import { Resources } from '../client/resources.ts';
import type { KubeClient } from '../client/rest.ts';
import { connectCsi } from '../csi/grpc.ts';
import { NodeAgentConfigError, LogRequestError } from './errors.ts';
import { startLogServer } from './logs.ts';
import { PodWorker, type WorkerOptions } from './pod-worker.ts';
import {
  filesystemBytes, nodeEventObject, postNodeStatus, registerCsiDriver, registerNode, renewLease, type NodeStatusInput,
} from './registration.ts';
import { killFromPidFile } from './runtime.ts';
import { PodDirs, podDirUids, readPodRecord, removeTreeWithoutMounts, tearDownVolume } from './volumes.ts';

export interface NodeAgentOptions {
  client: KubeClient;
  /** The node's name; the cluster file must list it. */
  name: string;
  cluster: ClusterSpec;
  /** The node's CSI plugin: unix://PATH. */
  csiEndpoint: string;
  /** The node's own directory: pods/<uid>/{volumes,containers,logs}. */
  dataDir: string;
  /** Accepts the bearer tokens allowed to read logs (the API server's, which proxies pods/log). Unset: none. */
  logTokenCheck?: (token: string) => boolean;
  signal?: AbortSignal;
  logger?: Logger;
  /** How long a pod's claims may stay unusable before FailedMount (default 120 s, as the kubelet). */
  volumeWaitTimeoutMs?: number;
  /** CrashLoopBackOff first delay and cap (default 10 s and 5 min). */
  backOffInitialMs?: number;
  backOffMaxMs?: number;
  /** Node status and Lease renewal period (default 10 s). */
  heartbeatIntervalMs?: number;
}

export interface RunningNodeAgent {
  /** Port of the log server on 127.0.0.1 (the Node's daemonEndpoints.kubeletEndpoint.Port). */
  logPort: number;
  close(): Promise<void>;
}

interface CompiledOptions extends Required<Omit<NodeAgentOptions, 'logTokenCheck' | 'signal'>> {
  logTokenCheck?: (token: string) => boolean;
  signal?: AbortSignal;
  node: ClusterNode;
}

function compileOptions(o: NodeAgentOptions): CompiledOptions {
  const node = o.cluster.nodes.find((n) => n.name === o.name);
  if (!node) throw new NodeAgentConfigError(`node ${JSON.stringify(o.name)} is not in cluster ${o.cluster.name} (${o.cluster.nodes.map((n) => n.name).join(', ')})`);
  if (!o.dataDir) throw new NodeAgentConfigError('node agent: a data directory is required');
  return {
    ...o,
    node,
    logger: o.logger ?? defaultLogger,
    volumeWaitTimeoutMs: o.volumeWaitTimeoutMs ?? 120_000,
    backOffInitialMs: o.backOffInitialMs ?? 10_000,
    backOffMaxMs: o.backOffMaxMs ?? 300_000,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? 10_000,
  };
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function osImage(): Promise<string> {
  const text = (await readTrimmed('/etc/os-release')) ?? '';
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? 'Linux';
}

/** Kills every container process an earlier run of the agent left behind (the agent restarting is a node reboot). */
async function killLeftoverProcesses(dataDir: string, logger: Logger): Promise<void> {
  for (const uid of await podDirUids(dataDir)) {
    const containersDir = join(new PodDirs(dataDir, uid).root, 'containers');
    const names = await readdir(containersDir).catch(() => [] as string[]);
    for (const name of names) {
      if (await killFromPidFile(join(containersDir, name, 'pid'))) logger.info({ pod: uid, container: name }, 'killed a container process left by an earlier run');
    }
  }
}

/** Tears down what a pod deleted while the agent was away left on the node. */
async function cleanUpOrphanPod(dataDir: string, uid: string, csi: ReturnType<typeof connectCsi>): Promise<void> {
  const dirs = new PodDirs(dataDir, uid);
  const record = await readPodRecord(dirs);
  for (const v of [...(record?.volumes ?? [])].reverse()) await tearDownVolume(csi, v);
  await removeTreeWithoutMounts(dirs.root);
}

export async function startNodeAgent(options: NodeAgentOptions): Promise<RunningNodeAgent> {
  const o = compileOptions(options);
  const { client, logger } = o;
  const log = (logger as Logger & { child?: (b: object) => Logger }).child?.({ node: o.name }) ?? logger;
  await mkdir(join(o.dataDir, 'pods'), { recursive: true });
  await killLeftoverProcesses(o.dataDir, log);

  const workers = new Map<string, PodWorker>();
  // Pods this agent finished (deleted); late watch events about them must not start them again.
  const finished = new Set<string>();
  const workerFor = (namespace: string, name: string): PodWorker | undefined =>
    [...workers.values()].find((w) => w.pod.metadata.namespace === namespace && w.pod.metadata.name === name);

  const logServer = await startLogServer((namespace, pod, container, previous) => {
    const worker = workerFor(namespace, pod);
    if (!worker) throw new LogRequestError(404, `pod "${pod}" does not exist`);
    return worker.logSource(container, previous);
  }, o.logTokenCheck);

  const recorder = new EventRecorder(client, { component: 'kubelet', host: o.name, logger: log });
  const csi = connectCsi(o.csiEndpoint);
  const statusInput: NodeStatusInput = {
    cluster: o.cluster,
    node: o.node,
    logPort: logServer.port,
    storageBytes: await filesystemBytes(o.dataDir),
    bootId: (await readTrimmed('/proc/sys/kernel/random/boot_id')) ?? randomUUID(),
    machineId: (await readTrimmed('/etc/machine-id')) ?? randomUUID().replaceAll('-', ''),
    kernelVersion: release(),
    osImage: await osImage(),
  };

  let node: Node = await registerNode(client, o.cluster, o.node, statusInput, recorder);
  recorder.event(nodeEventObject(o.name), 'Normal', 'Starting', 'Starting kubelet.');
  await renewLease(client, node);

  let closed = false;
  const timers: NodeJS.Timeout[] = [];
  const heartbeat = async (): Promise<void> => {
    try {
      node = await postNodeStatus(client, node, statusInput, recorder);
      await renewLease(client, node);
    } catch (err) {
      if (closed) return;
      if (isNotFound(err)) node = await registerNode(client, o.cluster, o.node, statusInput, recorder).catch(() => node);
      else log.warn({ err }, 'node heartbeat failed');
    }
  };
  timers.push(setInterval(() => void heartbeat(), o.heartbeatIntervalMs));

  // The CSI plugin may come up after the agent: keep trying until it answers (the kubelet's plugin watcher).
  const csiRegistered = (async () => {
    for (let attempt = 0; !closed; attempt++) {
      try {
        const [plugin, info] = await Promise.all([csi.getPluginInfo({}, { timeoutMs: 5000 }), csi.nodeGetInfo({}, { timeoutMs: 5000 })]);
        await registerCsiDriver(client, o.name, plugin.name, info);
        return;
      } catch (err) {
        if (attempt % 10 === 0) log.warn({ err: (err as Error).message }, 'CSI node plugin registration failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();

  const workerOptions: WorkerOptions = {
    client,
    csi,
    recorder,
    dataDir: o.dataDir,
    logger: log,
    volumeWaitTimeoutMs: o.volumeWaitTimeoutMs,
    backOffInitialMs: o.backOffInitialMs,
    backOffMaxMs: o.backOffMaxMs,
    pulledImages: new Set(),
  };
  const upsert = (pod: Pod): void => {
    const uid = pod.metadata.uid!;
    if (closed || finished.has(uid)) return;
    const existing = workers.get(uid);
    if (existing) return existing.update(pod);
    workers.set(uid, new PodWorker(pod, workerOptions, () => {
      workers.delete(uid);
      finished.add(uid);
    }));
  };
  const informer = new Informer<Pod>(client.resource(Resources.pods), { fieldSelector: `spec.nodeName=${o.name}`, logger: log });
  informer.onAdd(upsert);
  informer.onUpdate((_old, pod) => upsert(pod));
  informer.onDelete((pod) => {
    const uid = pod.metadata.uid!;
    if (finished.delete(uid)) return;
    workers.get(uid)?.gone();
  });
  informer.start();
  const synced = await informer.waitForSync(o.signal);
  if (synced) {
    const live = new Set(informer.list().map((p) => p.metadata.uid));
    for (const uid of await podDirUids(o.dataDir)) {
      // A pod that arrived after the sync has a worker (and its directory) by now: it is not an orphan.
      if (live.has(uid) || workers.has(uid) || finished.has(uid)) continue;
      await cleanUpOrphanPod(o.dataDir, uid, csi).catch((err) => log.error({ pod: uid, err }, 'cleaning up a pod deleted while the agent was down failed'));
    }
  }

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    timers.forEach(clearInterval);
    informer.stop();
    await Promise.all([...workers.values()].map((w) => w.stop()));
    await csiRegistered;
    await logServer.close();
    await Promise.race([recorder.flush(), new Promise((r) => setTimeout(r, 2000))]);
    recorder.close();
    csi.close();
  };
  o.signal?.addEventListener('abort', () => void close(), { once: true });
  return { logPort: logServer.port, close };
}
