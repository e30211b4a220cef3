// The scheduler cache (pkg/scheduler/backend/cache): a NodeInfo per node with the pods bound to it and the pods
// the scheduler assumed there before the binding reached the informer. Assumed pods are confirmed by the informer,
// forgotten when binding fails, and expire when binding finished but the informer never showed them.
import type { Node, Pod } from '../api/types.ts';
import { NodeInfo, podKey } from './framework/node-info.ts';

interface PodState {
  pod: Pod;
  /** Set once binding finished: the assumed pod expires then if never confirmed. */
  deadline?: number;
  bindingFinished: boolean;
}

export class SchedulerCache {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly podStates = new Map<string, PodState>();
  private readonly assumedPods = new Set<string>();
  /** How long an assumed pod lives after its binding finished; 0 never expires. */
  private readonly ttlMs: number;
  private nodeList?: NodeInfo[];

  constructor(ttlMs = 0) {
    this.ttlMs = ttlMs;
  }

  /** The nodes (with pods) in a stable order; the scheduling cycle reads them directly. */
  nodeInfos(): NodeInfo[] {
    this.nodeList ??= [...this.nodes.values()].filter((n) => n.node.metadata.name);
    return this.nodeList;
  }

  getNodeInfo(name: string): NodeInfo | undefined {
    return this.nodes.get(name);
  }

  // A pod can be known before its node: keep a placeholder NodeInfo without a Node object.
  private nodeInfoFor(name: string): NodeInfo {
    let info = this.nodes.get(name);
    if (!info) {
      info = new NodeInfo({ metadata: {} });
      this.nodes.set(name, info);
    }
    return info;
  }

  addNode(node: Node): void {
    this.nodeInfoFor(node.metadata.name ?? '').setNode(node);
    this.nodeList = undefined;
  }

  updateNode(node: Node): void {
    this.addNode(node);
  }

  removeNode(node: Node): void {
    const name = node.metadata.name ?? '';
    const info = this.nodes.get(name);
    if (!info) return;
    // Pods still bound to the node keep a placeholder until they are deleted.
    if (info.pods.length > 0) info.setNode({ metadata: {} });
    else this.nodes.delete(name);
    this.nodeList = undefined;
  }

  isAssumedPod(pod: Pod): boolean {
    return this.assumedPods.has(podKey(pod));
  }

  /** AssumePod: the pod (with spec.nodeName set) counts on its node from now on. */
  assumePod(pod: Pod): void {
    const key = podKey(pod);
    if (this.podStates.has(key)) throw new Error(`pod ${key}(${pod.metadata.uid}) is in the cache, so can't be assumed`);
    this.nodeInfoFor(pod.spec.nodeName ?? '').addPod(pod);
    this.podStates.set(key, { pod, bindingFinished: false });
    this.assumedPods.add(key);
  }

  finishBinding(pod: Pod, now = Date.now()): void {
    const state = this.podStates.get(podKey(pod));
    if (state && this.assumedPods.has(podKey(pod))) {
      state.bindingFinished = true;
      if (this.ttlMs > 0) state.deadline = now + this.ttlMs;
    }
  }

  /** ForgetPod: binding failed, the assumed pod leaves its node. */
  forgetPod(pod: Pod): void {
    const key = podKey(pod);
    const state = this.podStates.get(key);
    if (!state || !this.assumedPods.has(key)) return;
    this.nodes.get(state.pod.spec.nodeName ?? '')?.removePod(state.pod);
    this.podStates.delete(key);
    this.assumedPods.delete(key);
  }

  /** AddPod (informer, bound pod): confirms an assumed pod, or adds a pod bound elsewhere. */
  addPod(pod: Pod): void {
    const key = podKey(pod);
    const state = this.podStates.get(key);
    if (state && this.assumedPods.has(key)) {
      // The informer's copy replaces the assumed one, on whatever node it really landed.
      this.nodes.get(state.pod.spec.nodeName ?? '')?.removePod(state.pod);
      this.assumedPods.delete(key);
    } else if (state) {
      return;
    }
    this.nodeInfoFor(pod.spec.nodeName ?? '').addPod(pod);
    this.podStates.set(key, { pod, bindingFinished: true });
  }

  updatePod(oldPod: Pod, newPod: Pod): void {
    const key = podKey(newPod);
    if (this.assumedPods.has(key) || !this.podStates.has(key)) {
      this.addPod(newPod);
      return;
    }
    this.removePod(oldPod);
    this.addPod(newPod);
  }

  removePod(pod: Pod): void {
    const key = podKey(pod);
    const state = this.podStates.get(key);
    if (!state) return;
    const nodeName = state.pod.spec.nodeName ?? '';
    const info = this.nodes.get(nodeName);
    info?.removePod(state.pod);
    if (info && !info.node.metadata.name && info.pods.length === 0) this.nodes.delete(nodeName);
    this.podStates.delete(key);
    this.assumedPods.delete(key);
  }

  /** cleanupAssumedPods: drops assumed pods whose binding finished more than the TTL ago. Returns their keys. */
  cleanupExpiredAssumedPods(now = Date.now()): string[] {
    const expired: string[] = [];
    for (const key of this.assumedPods) {
      const state = this.podStates.get(key)!;
      if (state.bindingFinished && state.deadline !== undefined && now > state.deadline) {
        this.forgetPod(state.pod);
        expired.push(key);
      }
    }
    return expired;
  }
}
