// NodeInfo (pkg/scheduler/framework/types.go) and pod resource requests (component-helpers/resource PodRequests).
import type { Container, Node, Pod } from '../../api/types.ts';
import { quantityMilliOf, quantityValueOf } from '../../api/quantity.ts';

export interface Resource {
  milliCPU: number;
  memory: number;
  ephemeralStorage: number;
}

const zero = (): Resource => ({ milliCPU: 0, memory: 0, ephemeralStorage: 0 });

// schedutil.DefaultMilliCPURequest / DefaultMemoryRequest: what a container without requests counts for in scoring.
export const DefaultMilliCPURequest = 100;
export const DefaultMemoryRequest = 200 * 1024 * 1024;

const milliOf = (text: string): number => Number(quantityMilliOf(text));
const valueOf = (text: string): number => Number(quantityValueOf(text));

function toResource(list: Record<string, string> | undefined): Resource {
  const r = zero();
  if (!list) return r;
  if (list.cpu !== undefined) r.milliCPU = milliOf(list.cpu);
  if (list.memory !== undefined) r.memory = valueOf(list.memory);
  if (list['ephemeral-storage'] !== undefined) r.ephemeralStorage = valueOf(list['ephemeral-storage']);
  return r;
}

function containerRequests(c: Container, nonZero: boolean): Resource {
  const requests = c.resources?.requests;
  const r = toResource(requests);
  if (nonZero) {
    // NonMissingContainerRequests: only a request that is absent gets the default, an explicit 0 stays 0.
    if (requests?.cpu === undefined) r.milliCPU = DefaultMilliCPURequest;
    if (requests?.memory === undefined) r.memory = DefaultMemoryRequest;
  }
  return r;
}

const add = (a: Resource, b: Resource): Resource => ({
  milliCPU: a.milliCPU + b.milliCPU,
  memory: a.memory + b.memory,
  ephemeralStorage: a.ephemeralStorage + b.ephemeralStorage,
});
const max = (a: Resource, b: Resource): Resource => ({
  milliCPU: Math.max(a.milliCPU, b.milliCPU),
  memory: Math.max(a.memory, b.memory),
  ephemeralStorage: Math.max(a.ephemeralStorage, b.ephemeralStorage),
});

/**
 * PodRequests: the sum of the containers, raised to the largest init container (restartable "sidecar" init
 * containers run alongside and add up), plus the pod overhead. `nonZero` applies the scoring defaults.
 */
export function podRequests(pod: Pod, nonZero = false): Resource {
  let requests = zero();
  for (const c of pod.spec.containers ?? []) requests = add(requests, containerRequests(c, nonZero));
  let sidecars = zero();
  let initMax = zero();
  for (const c of pod.spec.initContainers ?? []) {
    const r = containerRequests(c, nonZero);
    if ((c as { restartPolicy?: string }).restartPolicy === 'Always') {
      requests = add(requests, r);
      sidecars = add(sidecars, r);
      initMax = max(initMax, sidecars);
    } else {
      initMax = max(initMax, add(r, sidecars));
    }
  }
  requests = max(requests, initMax);
  if (pod.spec.overhead) requests = add(requests, toResource(pod.spec.overhead));
  return requests;
}

export const podKey = (pod: Pod): string => `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;

/** The claims a pod uses: PVC volumes and generic ephemeral volumes (named <pod>-<volume>). */
export function podClaimNames(pod: Pod): string[] {
  const names: string[] = [];
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim) names.push(v.persistentVolumeClaim.claimName);
    else if (v.ephemeral) names.push(`${pod.metadata.name}-${v.name}`);
  }
  return names;
}

export interface PodInfo {
  pod: Pod;
  requests: Resource;
  nonZeroRequests: Resource;
}

export function newPodInfo(pod: Pod): PodInfo {
  return { pod, requests: podRequests(pod), nonZeroRequests: podRequests(pod, true) };
}

/** Host ports in use on a node, per IP ("0.0.0.0" binds all), as "PROTOCOL/port". */
export class HostPortInfo {
  private readonly byIP = new Map<string, Map<string, number>>();

  private static sanitize(ip: string | undefined, protocol: string | undefined): [string, string] {
    return [ip || '0.0.0.0', protocol || 'TCP'];
  }
  add(ip: string | undefined, protocol: string | undefined, port: number, delta = 1): void {
    if (port <= 0) return;
    const [host, proto] = HostPortInfo.sanitize(ip, protocol);
    let ports = this.byIP.get(host);
    if (!ports) this.byIP.set(host, (ports = new Map()));
    const key = `${proto}/${port}`;
    const count = (ports.get(key) ?? 0) + delta;
    if (count > 0) ports.set(key, count);
    else ports.delete(key);
    if (ports.size === 0) this.byIP.delete(host);
  }
  /** CheckConflict: 0.0.0.0 conflicts with the port on any IP; a specific IP with itself and 0.0.0.0. */
  conflicts(ip: string | undefined, protocol: string | undefined, port: number): boolean {
    if (port <= 0) return false;
    const [host, proto] = HostPortInfo.sanitize(ip, protocol);
    const key = `${proto}/${port}`;
    if (host === '0.0.0.0') return [...this.byIP.values()].some((ports) => ports.has(key));
    return !!this.byIP.get('0.0.0.0')?.has(key) || !!this.byIP.get(host)?.has(key);
  }
  clone(): HostPortInfo {
    const copy = new HostPortInfo();
    for (const [ip, ports] of this.byIP) copy.byIP.set(ip, new Map(ports));
    return copy;
  }
}

export interface Allocatable extends Resource {
  allowedPodNumber: number;
}

/** What the scheduler knows of one node: the Node, the pods on it (bound or assumed) and their sums. */
export class NodeInfo {
  node: Node;
  pods: PodInfo[] = [];
  requested: Resource = zero();
  nonZeroRequested: Resource = zero();
  allocatable: Allocatable = { ...zero(), allowedPodNumber: 0 };
  usedPorts = new HostPortInfo();
  /** "namespace/claim" -> number of pods on the node using it. */
  pvcRefCounts = new Map<string, number>();
  /** Bumped on every change. */
  generation = 0;

  constructor(node: Node) {
    this.node = node;
    this.setNode(node);
  }

  get name(): string {
    return this.node.metadata.name ?? '';
  }

  setNode(node: Node): void {
    this.node = node;
    const alloc = node.status?.allocatable;
    this.allocatable = { ...toResource(alloc), allowedPodNumber: alloc?.pods ? valueOf(alloc.pods) : 0 };
    this.generation++;
  }

  addPod(pod: Pod): void {
    this.addPodInfo(newPodInfo(pod));
  }

  addPodInfo(info: PodInfo): void {
    this.pods.push(info);
    this.account(info, 1);
  }

  /** Removes the pod with the same namespace/name (or UID); false when it was not on this node. */
  removePod(pod: Pod): boolean {
    const key = podKey(pod);
    const index = this.pods.findIndex((p) => podKey(p.pod) === key);
    if (index < 0) return false;
    const [info] = this.pods.splice(index, 1);
    this.account(info!, -1);
    return true;
  }

  private account(info: PodInfo, sign: 1 | -1): void {
    for (const field of ['milliCPU', 'memory', 'ephemeralStorage'] as const) {
      this.requested[field] += sign * info.requests[field];
      this.nonZeroRequested[field] += sign * info.nonZeroRequests[field];
    }
    for (const c of info.pod.spec.containers ?? []) {
      for (const p of c.ports ?? []) if (p.hostPort) this.usedPorts.add(p.hostIP, p.protocol, p.hostPort, sign);
    }
    const namespace = info.pod.metadata.namespace ?? '';
    for (const claim of podClaimNames(info.pod)) {
      const key = `${namespace}/${claim}`;
      const count = (this.pvcRefCounts.get(key) ?? 0) + sign;
      if (count > 0) this.pvcRefCounts.set(key, count);
      else this.pvcRefCounts.delete(key);
    }
    this.generation++;
  }

  /** A copy whose pod list and sums can change without touching this one (preemption's dry run). */
  clone(): NodeInfo {
    const copy = new NodeInfo(this.node);
    copy.pods = [...this.pods];
    copy.requested = { ...this.requested };
    copy.nonZeroRequested = { ...this.nonZeroRequested };
    copy.usedPorts = this.usedPorts.clone();
    copy.pvcRefCounts = new Map(this.pvcRefCounts);
    copy.generation = this.generation;
    return copy;
  }
}
