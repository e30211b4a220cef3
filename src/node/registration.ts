// The node's objects as the kubelet keeps them: the Node (labels, taints, capacity, conditions, heartbeat), its Lease
// in kube-node-lease, and the CSINode entry of the node's CSI plugin (from NodeGetInfo).
//
// Labels and taints: the kubelet sets its well-known labels on every start and its --node-labels and
// --register-with-taints only when it creates the Node. Strata's node agent owns everything the cluster file gives the
// node, so a changed cluster file takes effect on restart: it remembers which custom labels and taints it set (in
// annotations on the Node) and replaces exactly those, leaving labels and taints added by users alone.
import { statfs } from 'node:fs/promises';
import type { ClusterNode, ClusterSpec } from '../api/cluster.ts';
import { parseQuantity, quantityValue, bytesToQuantityString } from '../api/quantity.ts';
import type { CSINode, CSINodeDriver, Node, NodeCondition, Taint } from '../api/types.ts';
import {
  LabelFailureDomainBetaRegion, LabelFailureDomainBetaZone, LabelHostname, LabelTopologyRegion, LabelTopologyZone,
} from '../api/well-known.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.ts';
import type { EventRecorder } from '../client/events.ts';
import { Resources, type Lease } from '../client/resources.ts';
import type { KubeClient } from '../client/rest.ts';
import type { NodeGetInfoResponse } from '../csi/types.ts';
import { metaTime, microTime } from '../api/time.ts';
import { cloneJSON } from '../api/json.ts';

export const AnnOwnedLabels = 'node.strata.io/owned-labels';
export const AnnOwnedTaints = 'node.strata.io/owned-taints';
export const AnnCsiNodeId = 'csi.volume.kubernetes.io/nodeid';
export const AnnControllerManagedAttachDetach = 'volumes.kubernetes.io/controller-managed-attach-detach';
export const NodeLeaseNamespace = 'kube-node-lease';
export const LeaseDurationSeconds = 40;
export const KubeletVersion = 'v1.32.0-strata';
const AgentVersion = '0.1.0';

// Default hard eviction thresholds (memory.available<100Mi, nodefs.available<10%) come off allocatable.
const EvictionMemoryBytes = 100n * 1024n * 1024n;

export function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** The labels the node agent sets: the kubelet's well-known ones, topology, and the cluster file's custom ones. */
export function nodeLabels(cluster: ClusterSpec, node: ClusterNode): Record<string, string> {
  return {
    ...node.labels,
    'beta.kubernetes.io/arch': goArch(),
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': goArch(),
    [LabelHostname]: node.name,
    'kubernetes.io/os': 'linux',
    [LabelTopologyRegion]: cluster.region,
    [LabelTopologyZone]: node.zone,
    [LabelFailureDomainBetaRegion]: cluster.region,
    [LabelFailureDomainBetaZone]: node.zone,
  };
}

const taintId = (t: Pick<Taint, 'key' | 'effect'>): string => `${t.key}:${t.effect}`;

function parseOwned(annotation: string | undefined): string[] {
  if (!annotation) return [];
  try {
    const v = JSON.parse(annotation) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The Node's metadata and spec with the agent's labels, annotations and taints reconciled into `existing`. */
export function reconcileNodeSpec(existing: Node | undefined, cluster: ClusterSpec, node: ClusterNode): Node {
  const base: Node = existing ? cloneJSON(existing) : { apiVersion: 'v1', kind: 'Node', metadata: { name: node.name } };
  const annotations = { ...base.metadata.annotations };
  const labels = { ...base.metadata.labels };
  for (const k of parseOwned(annotations[AnnOwnedLabels])) if (!(k in node.labels)) delete labels[k];
  Object.assign(labels, nodeLabels(cluster, node));
  const ownedTaints = new Set(parseOwned(annotations[AnnOwnedTaints]));
  const wanted = new Set(node.taints.map(taintId));
  const kept = (base.spec?.taints ?? []).filter((t) => !ownedTaints.has(taintId(t)) && !wanted.has(taintId(t)));
  const taints = [...kept, ...node.taints.map((t) => ({ ...t }))];
  annotations[AnnOwnedLabels] = JSON.stringify(Object.keys(node.labels).sort());
  annotations[AnnOwnedTaints] = JSON.stringify([...wanted].sort());
  annotations[AnnControllerManagedAttachDetach] = 'true';
  base.metadata = { ...base.metadata, labels, annotations };
  base.spec = { ...base.spec, taints };
  if (taints.length === 0) delete base.spec.taints;
  return base;
}

interface ConditionSpec {
  type: string;
  status: NodeCondition['status'];
  reason: string;
  message: string;
}

// The kubelet's healthy node conditions (pkg/kubelet/nodestatus/setters.go), in its order.
const HealthyConditions: ConditionSpec[] = [
  { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
  { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
  { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
  { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
];

export interface NodeStatusInput {
  cluster: ClusterSpec;
  node: ClusterNode;
  logPort: number;
  /** Bytes of the filesystem holding the data dir (ephemeral-storage capacity). */
  storageBytes: bigint;
  bootId: string;
  machineId: string;
  kernelVersion: string;
  osImage: string;
}

export async function filesystemBytes(path: string): Promise<bigint> {
  const fs = await statfs(path, { bigint: true });
  return fs.blocks * fs.bsize;
}

/** Node.status as the kubelet posts it; conditions keep their lastTransitionTime while their status holds. */
export function nodeStatus(input: NodeStatusInput, previous: NodeCondition[] | undefined, now = new Date()): NonNullable<Node['status']> {
  const { node } = input;
  const memory = quantityValue(parseQuantity(node.capacity.memory));
  const storageKi = input.storageBytes / 1024n;
  const capacity = { cpu: node.capacity.cpu, 'ephemeral-storage': `${storageKi}Ki`, memory: node.capacity.memory, pods: node.capacity.pods };
  const allocatable = {
    cpu: node.capacity.cpu,
    'ephemeral-storage': String((storageKi * 1024n * 9n) / 10n),
    memory: bytesToQuantityString(memory > EvictionMemoryBytes ? memory - EvictionMemoryBytes : 0n),
    pods: node.capacity.pods,
  };
  const t = metaTime(now.getTime());
  const conditions: NodeCondition[] = HealthyConditions.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return { ...c, lastHeartbeatTime: t, lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : t };
  });
  return {
    capacity,
    allocatable,
    conditions,
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: node.name }],
    daemonEndpoints: { kubeletEndpoint: { Port: input.logPort } },
    nodeInfo: {
      machineID: input.machineId,
      systemUUID: input.machineId,
      bootID: input.bootId,
      kernelVersion: input.kernelVersion,
      osImage: input.osImage,
      containerRuntimeVersion: `strata://${AgentVersion}`,
      kubeletVersion: KubeletVersion,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: goArch(),
    },
  };
}

/** Node events for conditions that changed (the kubelet's "Node X status is now: …"). */
export function conditionEvents(nodeName: string, previous: NodeCondition[] | undefined, current: NodeCondition[]): Array<{ reason: string; message: string }> {
  const reasonFor: Record<string, [string, string]> = {
    MemoryPressure: ['NodeHasSufficientMemory', 'NodeHasInsufficientMemory'],
    DiskPressure: ['NodeHasNoDiskPressure', 'NodeHasDiskPressure'],
    PIDPressure: ['NodeHasSufficientPID', 'NodeHasInsufficientPID'],
    Ready: ['NodeNotReady', 'NodeReady'],
  };
  const events: Array<{ reason: string; message: string }> = [];
  for (const c of current) {
    const old = previous?.find((p) => p.type === c.type);
    if (old?.status === c.status) continue;
    const [whenFalse, whenTrue] = reasonFor[c.type];
    const reason = c.status === 'True' ? whenTrue : whenFalse;
    events.push({ reason, message: `Node ${nodeName} status is now: ${reason}` });
  }
  return events;
}

/** Another writer got there first: a changed object (Conflict) or one created meanwhile (AlreadyExists). */
const isWriteRace = (err: unknown): boolean => isConflict(err) || isAlreadyExists(err);

/** Retries fn on 409 Conflict (a concurrent writer), as client-go's RetryOnConflict. */
export async function retryOnConflict<T>(fn: () => Promise<T>, retriable: (err: unknown) => boolean = isConflict, attempts = 5): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!retriable(err) || i >= attempts - 1) throw err;
    }
  }
}

/** The reference the kubelet puts on node events (its UID is the node name). */
export function nodeEventObject(name: string): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: name } };
}

/** Creates or updates the Node's metadata and spec, then posts its status. Returns the Node. */
export async function registerNode(client: KubeClient, cluster: ClusterSpec, node: ClusterNode, status: NodeStatusInput, recorder: EventRecorder): Promise<Node> {
  const nodes = client.resource(Resources.nodes);
  const registered = await retryOnConflict(async () => {
    let existing: Node | undefined;
    try {
      existing = await nodes.get(node.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const desired = reconcileNodeSpec(existing, cluster, node);
    return existing ? await nodes.update(desired) : await nodes.create(desired);
  }, isWriteRace);
  return await postNodeStatus(client, registered, status, recorder);
}

/** Posts the Node's status (the heartbeat) and records events for condition changes. */
export async function postNodeStatus(client: KubeClient, node: Node, input: NodeStatusInput, recorder: EventRecorder): Promise<Node> {
  const previous = node.status?.conditions;
  const status = nodeStatus(input, previous);
  const updated = await client.resource(Resources.nodes).patch(node.metadata.name!, { status }, 'merge', undefined, { subresource: 'status' });
  for (const e of conditionEvents(input.node.name, previous, status.conditions!)) recorder.event(nodeEventObject(input.node.name), 'Normal', e.reason, e.message);
  return updated;
}

/** Creates or renews the node's Lease in kube-node-lease. */
export async function renewLease(client: KubeClient, node: Node): Promise<void> {
  const leases = client.resource(Resources.leases);
  const name = node.metadata.name!;
  const now = microTime();
  await retryOnConflict(async () => {
    let lease: Lease | undefined;
    try {
      lease = await leases.get(name, NodeLeaseNamespace);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const spec = { holderIdentity: name, leaseDurationSeconds: LeaseDurationSeconds, renewTime: now };
    if (!lease) {
      const ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid! }];
      await leases.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: NodeLeaseNamespace, ownerReferences }, spec });
    } else {
      await leases.update({ ...lease, spec: { ...lease.spec, ...spec } });
    }
  }, isWriteRace);
}

/** The CSINode driver entry from the plugin's NodeGetInfo: topology keys are the segments' keys, sorted. */
export function csiNodeDriver(driverName: string, info: NodeGetInfoResponse): CSINodeDriver {
  const driver: CSINodeDriver = { name: driverName, nodeID: info.node_id, topologyKeys: Object.keys(info.accessible_topology?.segments ?? {}).sort() };
  const count = Number(info.max_volumes_per_node);
  if (count > 0) driver.allocatable = { count };
  return driver;
}

/**
 * Registers the CSI plugin as the kubelet's plugin watcher does: the Node gets the csi nodeid annotation and the
 * topology segments as labels, and the CSINode lists the driver with its topology keys and volume limit.
 */
export async function registerCsiDriver(client: KubeClient, nodeName: string, driverName: string, info: NodeGetInfoResponse): Promise<CSINode> {
  const nodes = client.resource(Resources.nodes);
  const node = await retryOnConflict(async () => {
    const current = await nodes.get(nodeName);
    const ids = { ...(JSON.parse(current.metadata.annotations?.[AnnCsiNodeId] ?? '{}') as Record<string, string>), [driverName]: info.node_id };
    const labels = { ...current.metadata.labels, ...(info.accessible_topology?.segments ?? {}) };
    const annotations = { ...current.metadata.annotations, [AnnCsiNodeId]: JSON.stringify(ids) };
    return await nodes.update({ ...current, metadata: { ...current.metadata, labels, annotations } });
  });
  const csiNodes = client.resource(Resources.csiNodes);
  const entry = csiNodeDriver(driverName, info);
  return await retryOnConflict(async () => {
    let existing: CSINode | undefined;
    try {
      existing = await csiNodes.get(nodeName);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!existing) {
      const ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata.uid! }];
      return await csiNodes.create({ apiVersion: 'storage.k8s.io/v1', kind: 'CSINode', metadata: { name: nodeName, ownerReferences }, spec: { drivers: [entry] } });
    }
    const drivers = [...(existing.spec?.drivers ?? []).filter((d) => d.name !== driverName), entry];
    return await csiNodes.update({ ...existing, spec: { ...existing.spec, drivers } });
  }, isWriteRace);
}
