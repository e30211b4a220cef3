// The scheduler (pkg/scheduler/scheduler.go, schedule_one.go, eventhandlers.go): informer events feed the cache,
// the cluster objects and the queue; the loop pops a pod, runs the scheduling cycle synchronously (filter, score,
// reserve), then binds asynchronously (PreBind, Bind) and reports failures as upstream does.
import type {
  KubeObject,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodCondition,
} from '../api/types.ts';
import { AnnSelectedNode } from '../api/well-known.ts';
import { SchedulerCache } from './cache.ts';
import { ClusterObjects, type ObjectKind } from './cluster-objects.ts';
import { newDefaultFramework } from './default-plugins.ts';
import { FitError } from './errors.ts';
import { CycleState, Status, type ActionType, type ClusterEvent, type Diagnosis, type EventResource, type FilterPlugin } from './framework/interfaces.ts';
import { podKey, podRequests } from './framework/node-info.ts';
import type { Framework } from './framework/runtime.ts';
import type { ChangedObject } from './plugins/volume-binding/binder.ts';
import type { VolumeBindingOptions, VolumeBindingPlugin } from './plugins/volume-binding/volume-binding.ts';
import * as names from './plugins/names.ts';
import { PodScheduler } from './schedule-pod.ts';
import { SchedulingQueue, type QueuedPodInfo, type SchedulingQueueOptions } from './queue.ts';
import { cloneJSON } from '../api/json.ts';

export const DefaultSchedulerName = 'default-scheduler';
/** Beyond upstream: the per-node, per-plugin reasons of the last failed attempt, as JSON. */
export const AnnSchedulingDiagnosis = 'strata.io/scheduling-diagnosis';
/** Nodes whose plugin detail (e.g. VolumeBinding's claim-by-claim explanation) the diagnosis carries at most. */
const maxDetailedNodes = 20;
/** validation.NoteLengthLimit: longer event messages are truncated. */
const noteLengthLimit = 1024;

/** Everything the scheduler writes to the API. */
export interface SchedulerApi {
  /** POST pods/binding. */
  bindPod(pod: Pod, nodeName: string): Promise<void>;
  /** Sets the condition through pods/status. */
  updatePodCondition(pod: Pod, condition: PodCondition): Promise<void>;
  /** Sets (or, with null, removes) an annotation of the pod. */
  setPodAnnotation(pod: Pod, key: string, value: string | null): Promise<void>;
  /** PUT persistentvolumes/NAME; returns the stored object. */
  updatePV(pv: PersistentVolume): Promise<PersistentVolume>;
  /** PUT persistentvolumeclaims/NAME; returns the stored object. */
  updatePVC(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  recordEvent(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export interface SchedulerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SchedulerOptions {
  api: SchedulerApi;
  schedulerName?: string;
  queue?: SchedulingQueueOptions;
  volumeBinding?: VolumeBindingOptions;
  percentageOfNodesToScore?: number;
  /** Integer in [0, n): the tie-break among equally scored nodes. */
  random?: (n: number) => number;
  /** An assumed pod whose binding finished but never showed up in the informer is dropped after this. */
  assumedPodTTLMs?: number;
  logger?: SchedulerLogger;
  now?: () => number;
}

export interface SchedulingDiagnosis {
  time: string;
  message: string;
  preFilter?: { plugin: string; message: string };
  postFilter?: { plugin: string; message: string };
  nodes: Record<string, { plugin: string; reasons: string[]; detail?: unknown }>;
}

const silentLogger: SchedulerLogger = { info() {}, warn() {}, error() {} };

export class Scheduler {
  readonly schedulerName: string;
  readonly objects = new ClusterObjects();
  readonly cache: SchedulerCache;
  readonly queue: SchedulingQueue;
  readonly framework: Framework;
  private readonly podScheduler: PodScheduler;
  private readonly api: SchedulerApi;
  private readonly logger: SchedulerLogger;
  private readonly now: () => number;
  private readonly bindings = new Set<Promise<void>>();
  private readonly stop = new AbortController();
  private readonly clearingSelectedNode = new Set<string>();
  /** Claims whose selected-node named a deleted node, seen in the current cycle. */
  private staleSelectedNodeClaims: PersistentVolumeClaim[] = [];

  constructor(options: SchedulerOptions) {
    this.api = options.api;
    this.schedulerName = options.schedulerName ?? DefaultSchedulerName;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    const bindTimeoutMs = options.volumeBinding?.bindTimeoutMs ?? 600_000;
    this.cache = new SchedulerCache(options.assumedPodTTLMs ?? bindTimeoutMs);
    this.framework = newDefaultFramework({
      objects: this.objects,
      volumeApi: this.api,
      bindPod: (pod, nodeName) => this.api.bindPod(pod, nodeName),
      preemptionHandle: {
        nodeInfos: () => this.cache.nodeInfos(),
        runFilterPlugins: (state, pod, nodeInfo) => this.framework.runFilterPlugins(state, pod, nodeInfo),
      },
      volumeBinding: { ...options.volumeBinding, onStaleSelectedNode: (pvc) => this.staleSelectedNodeClaims.push(pvc) },
    });
    this.podScheduler = new PodScheduler(this.framework, { percentageOfNodesToScore: options.percentageOfNodesToScore, random: options.random });
    this.queue = new SchedulingQueue(this.framework.enqueueExtensions, { now: this.now, ...options.queue });
  }

  private responsibleFor(pod: Pod): boolean {
    return (pod.spec.schedulerName ?? DefaultSchedulerName) === this.schedulerName;
  }

  private notifyVolumeBinder(changed: ChangedObject): void {
    this.framework.plugin<VolumeBindingPlugin>(names.VolumeBinding)?.binder.notifyChange(changed);
  }

  private move(resource: EventResource, action: ActionType, oldObj?: unknown, newObj?: unknown): void {
    const event: ClusterEvent = { resource, action, label: `${resource}${action}` };
    this.queue.moveAllToActiveOrBackoffQueue(event, oldObj, newObj);
  }

  /** Feeds one informer event: `obj` is the new object (the last known one for deletes). */
  handleEvent(kind: ObjectKind, type: 'Add' | 'Update' | 'Delete', obj: KubeObject, oldObj?: KubeObject): void {
    this.objects.apply(kind, type, obj);
    switch (kind) {
      case 'Pod':
        this.handlePodEvent(type, obj as Pod, oldObj as Pod | undefined);
        this.notifyVolumeBinder({ kind, obj: obj as Pod });
        return;
      case 'Node':
        this.handleNodeEvent(type, obj as Node, oldObj as Node | undefined);
        return;
      case 'PersistentVolume':
        this.notifyVolumeBinder({ kind, obj: obj as PersistentVolume });
        break;
      case 'PersistentVolumeClaim':
        this.notifyVolumeBinder({ kind, obj: obj as PersistentVolumeClaim });
        break;
    }
    // Deleting storage objects makes no pod schedulable (upstream registers no such events).
    if (type !== 'Delete') this.move(kind, type, oldObj, obj);
  }

  private handlePodEvent(type: 'Add' | 'Update' | 'Delete', pod: Pod, oldPod: Pod | undefined): void {
    const assigned = !!pod.spec.nodeName;
    if (type === 'Delete') {
      if (assigned) {
        this.cache.removePod(pod);
        this.move('AssignedPod', 'Delete', pod, undefined);
      } else {
        this.queue.delete(pod);
      }
      return;
    }
    if (assigned) {
      if (oldPod && oldPod.spec.nodeName) {
        this.cache.updatePod(oldPod, pod);
        const [before, after] = [podRequests(oldPod), podRequests(pod)];
        if (after.milliCPU < before.milliCPU || after.memory < before.memory) this.move('AssignedPod', 'UpdatePodScaleDown', oldPod, pod);
      } else {
        // Bound: confirms the assumed pod, and it leaves the queue.
        this.cache.addPod(pod);
        this.queue.delete(pod);
      }
      return;
    }
    if (!this.responsibleFor(pod) || pod.metadata.deletionTimestamp) return;
    if (type === 'Add') this.queue.add(pod);
    else if (!this.cache.isAssumedPod(pod)) {
      this.queue.update(oldPod ?? pod, pod);
      if (oldPod && JSON.stringify(oldPod.spec.tolerations) !== JSON.stringify(pod.spec.tolerations)) {
        this.move('Pod', 'UpdatePodTolerations', oldPod, pod);
      }
    }
  }

  private handleNodeEvent(type: 'Add' | 'Update' | 'Delete', node: Node, oldNode: Node | undefined): void {
    if (type === 'Delete') {
      this.cache.removeNode(node);
      return;
    }
    this.cache.addNode(node);
    if (type === 'Add' || !oldNode) {
      this.move('Node', 'Add', undefined, node);
      return;
    }
    const changed = (f: (n: Node) => unknown) => JSON.stringify(f(oldNode)) !== JSON.stringify(f(node));
    if (changed((n) => n.status?.allocatable)) this.move('Node', 'UpdateNodeAllocatable', oldNode, node);
    if (changed((n) => n.metadata.labels)) this.move('Node', 'UpdateNodeLabel', oldNode, node);
    if (changed((n) => [n.spec?.taints, n.spec?.unschedulable])) this.move('Node', 'UpdateNodeTaint', oldNode, node);
    if (changed((n) => n.status?.conditions?.map((c) => [c.type, c.status]))) this.move('Node', 'UpdateNodeCondition', oldNode, node);
  }

  /** Runs until the signal aborts: the queue's flushes, the assumed pod expiry and the scheduling loop. */
  async run(signal: AbortSignal): Promise<void> {
    const onAbort = () => {
      this.stop.abort();
      this.queue.close();
    };
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.queue.run();
    const expiry = setInterval(() => {
      for (const key of this.cache.cleanupExpiredAssumedPods(this.now())) this.logger.warn({ pod: key }, 'assumed pod expired');
    }, 1000).unref();
    try {
      // Scheduling cycles are synchronous: yield to I/O between them, so that binding cycles and informer events
      // progress while pods keep coming (upstream runs them on other goroutines).
      while (await this.scheduleOne()) await new Promise<void>((resolve) => setImmediate(resolve));
    } finally {
      clearInterval(expiry);
      signal.removeEventListener('abort', onAbort);
      await this.waitForBindings();
    }
  }

  /** Waits for the binding cycles under way. */
  async waitForBindings(): Promise<void> {
    while (this.bindings.size > 0) await Promise.allSettled([...this.bindings]);
  }

  /** Pops one pod and runs its scheduling cycle; binding continues in the background. False once the queue closed. */
  async scheduleOne(): Promise<boolean> {
    const info = await this.queue.pop();
    if (!info) return false;
    const pod = info.pod;
    const current = this.objects.getPod(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
    // skipPodSchedule: deleted, being deleted, already bound, or assumed by an earlier cycle.
    if (!current || current.spec.nodeName || current.metadata.deletionTimestamp || this.cache.isAssumedPod(pod)) {
      this.queue.done(pod);
      return true;
    }
    this.schedulingCycle(info);
    return true;
  }

  private schedulingCycle(info: QueuedPodInfo): void {
    this.staleSelectedNodeClaims = [];
    const pod = info.pod;
    const state = new CycleState();
    const outcome = this.podScheduler.schedulePod(state, pod, this.cache.nodeInfos());
    if (outcome.kind === 'error') {
      this.handleSchedulingFailure(info, Status.error(outcome.error));
      return;
    }
    if (outcome.kind === 'unschedulable') {
      const { fitError } = outcome;
      const postFilter = this.framework.runPostFilterPlugins(state, pod, fitError.diagnosis.nodeToStatus);
      fitError.diagnosis.postFilterMsg = postFilter?.message() ?? '';
      this.handleSchedulingFailure(info, new Status('Unschedulable', fitError.message), { fitError, state, postFilter });
      return;
    }
    const host = outcome.result.suggestedHost;
    const assumed: Pod = { ...pod, spec: { ...pod.spec, nodeName: host } };
    try {
      this.cache.assumePod(assumed);
    } catch (err) {
      this.handleSchedulingFailure(info, Status.error(err));
      return;
    }
    const reserve = this.framework.runReservePluginsReserve(state, assumed, host);
    if (reserve) {
      this.framework.runReservePluginsUnreserve(state, assumed, host);
      this.cache.forgetPod(assumed);
      this.handleSchedulingFailure(info, reserve);
      return;
    }
    const binding = this.bindingCycle(info, state, assumed, host).catch((err: unknown) => {
      this.logger.error({ err, pod: podKey(pod) }, 'binding cycle failed unexpectedly');
    });
    this.bindings.add(binding);
    void binding.finally(() => this.bindings.delete(binding));
  }

  private async bindingCycle(info: QueuedPodInfo, state: CycleState, assumed: Pod, host: string): Promise<void> {
    let status = await this.framework.runPreBindPlugins(state, assumed, host, this.stop.signal);
    if (!status) status = await this.framework.runBindPlugins(state, assumed, host);
    if (status) {
      this.framework.runReservePluginsUnreserve(state, assumed, host);
      this.cache.forgetPod(assumed);
      // The resources the assumed pod held are free again, for the other pods.
      this.queue.moveAllToActiveOrBackoffQueue(
        { resource: 'AssignedPod', action: 'Delete', label: 'AssignedPodDelete' },
        assumed,
        undefined,
        (p) => podKey(p) !== podKey(assumed),
      );
      this.handleSchedulingFailure(info, status);
      return;
    }
    this.cache.finishBinding(assumed, this.now());
    this.queue.done(assumed);
    this.api.recordEvent(
      assumed,
      'Normal',
      'Scheduled',
      `Successfully assigned ${assumed.metadata.namespace}/${assumed.metadata.name} to ${host}`,
    );
  }

  /**
   * handleSchedulingFailure: re-queues the pod (if it still waits for a node), records FailedScheduling, sets the
   * PodScheduled condition and, beyond upstream, the diagnosis annotation.
   */
  private handleSchedulingFailure(
    info: QueuedPodInfo,
    status: Status,
    failure?: { fitError: FitError; state: CycleState; postFilter?: Status },
  ): void {
    const pod = info.pod;
    const message = status.message();
    // A pod placed despite a stale selected-node overwrites it in PreBind; one that failed leaves it to be cleared.
    for (const pvc of this.staleSelectedNodeClaims.splice(0)) this.clearStaleSelectedNode(pvc);
    const current = this.objects.getPod(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
    if (current && !current.spec.nodeName && current.metadata.uid === pod.metadata.uid) {
      info.pod = current;
      info.unschedulablePlugins = failure
        ? failure.fitError.diagnosis.unschedulablePlugins
        : status.isRejected() && status.plugin
          ? new Set([status.plugin])
          : new Set();
      this.queue.addUnschedulableIfNotPresent(info);
    } else {
      this.queue.done(pod);
    }
    this.logger.info({ pod: podKey(pod), message }, 'unable to schedule pod');
    const truncated = message.length <= noteLengthLimit ? message : `${message.slice(0, noteLengthLimit - 4)} ...`;
    this.api.recordEvent(pod, 'Warning', 'FailedScheduling', truncated);
    if (!current) return;
    const condition: PodCondition = {
      type: 'PodScheduled',
      status: 'False',
      reason: status.isRejected() ? 'Unschedulable' : 'SchedulerError',
      message,
    };
    const existing = current.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (!existing || existing.status !== condition.status || existing.reason !== condition.reason || existing.message !== condition.message) {
      this.api.updatePodCondition(current, condition).catch((err: unknown) => this.logger.warn({ err, pod: podKey(pod) }, 'updating PodScheduled failed'));
    }
    if (failure) {
      const diagnosis = JSON.stringify(this.diagnosis(current, message, failure.fitError.diagnosis, failure.state, failure.postFilter));
      this.api.setPodAnnotation(current, AnnSchedulingDiagnosis, diagnosis).catch((err: unknown) => {
        this.logger.warn({ err, pod: podKey(pod) }, 'recording the scheduling diagnosis failed');
      });
    }
  }

  /** The machine-readable why-pending: per node the plugin that rejected it, its reasons and its detail. */
  diagnosis(pod: Pod, message: string, diagnosis: Diagnosis, state: CycleState, postFilter?: Status): SchedulingDiagnosis {
    const result: SchedulingDiagnosis = { time: new Date(this.now()).toISOString(), message, nodes: {} };
    if (diagnosis.preFilterMsg !== '') {
      const status = diagnosis.nodeToStatus.values().next().value;
      result.preFilter = { plugin: status?.plugin ?? '', message: diagnosis.preFilterMsg };
    } else {
      let detailed = 0;
      for (const [nodeName, status] of diagnosis.nodeToStatus) {
        const entry: SchedulingDiagnosis['nodes'][string] = { plugin: status.plugin, reasons: status.reasons };
        const plugin = this.framework.plugin<FilterPlugin>(status.plugin);
        const nodeInfo = this.cache.getNodeInfo(nodeName);
        if (plugin?.explainFilter && nodeInfo && detailed < maxDetailedNodes) {
          entry.detail = plugin.explainFilter(state, pod, nodeInfo);
          detailed++;
        }
        result.nodes[nodeName] = entry;
      }
    }
    if (postFilter && postFilter.message() !== '') result.postFilter = { plugin: postFilter.plugin, message: postFilter.message() };
    return result;
  }

  /** Beyond upstream (k8s #100485): forget a selected-node that names a deleted node, so the claim can be placed again. */
  private clearStaleSelectedNode(pvc: PersistentVolumeClaim): void {
    const key = `${pvc.metadata.namespace}/${pvc.metadata.name}`;
    if (this.clearingSelectedNode.has(key)) return;
    const apiObj = this.objects.getPVC(pvc.metadata.namespace ?? '', pvc.metadata.name ?? '');
    if (!apiObj?.metadata.annotations?.[AnnSelectedNode]) return;
    this.clearingSelectedNode.add(key);
    const cleared = cloneJSON(apiObj);
    delete cleared.metadata.annotations![AnnSelectedNode];
    this.logger.info({ pvc: key, node: pvc.metadata.annotations?.[AnnSelectedNode] }, 'clearing selected-node of a deleted node');
    this.api
      .updatePVC(cleared)
      .catch((err: unknown) => this.logger.warn({ err, pvc: key }, 'clearing the stale selected-node failed'))
      .finally(() => this.clearingSelectedNode.delete(key));
  }
}
