// Object builders for the scheduler's tests.
import type {
  CSIStorageCapacity,
  KubeObject,
  PodCondition,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  StorageClass,
  Taint,
} from '../api/types.ts';
import { AnnBindCompleted, AnnSelectedNode } from '../api/well-known.ts';
import type { Scheduler } from './scheduler.ts';

export function makeNode(name: string, labels: Record<string, string> = {}, taints?: Taint[], allocatable?: Record<string, string>): Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels }, resourceVersion: '1' },
    spec: taints ? { taints } : {},
    status: { allocatable: allocatable ?? { cpu: '4', memory: '8Gi', pods: '110' } },
  };
}

export function makePod(name: string, claims: string[] = [], extra: Partial<Pod['spec']> = {}, namespace = 'default'): Pod {
  return {
    metadata: { name, namespace, uid: `uid-${name}`, resourceVersion: '1' },
    spec: {
      containers: [{ name: 'c', image: 'busybox' }],
      volumes: claims.map((claimName, i) => ({ name: `vol${i}`, persistentVolumeClaim: { claimName } })),
      ...extra,
    },
  };
}

export function makePVC(
  name: string,
  size: string,
  opts: { className?: string; volumeName?: string; bound?: boolean; selectedNode?: string; rv?: string; accessModes?: PersistentVolumeClaim['spec']['accessModes'] } = {},
): PersistentVolumeClaim {
  const annotations: Record<string, string> = {};
  if (opts.bound) annotations[AnnBindCompleted] = 'yes';
  if (opts.selectedNode) annotations[AnnSelectedNode] = opts.selectedNode;
  return {
    metadata: { name, namespace: 'default', uid: `pvc-uid-${name}`, resourceVersion: opts.rv ?? '1', annotations },
    spec: {
      accessModes: opts.accessModes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: size } },
      storageClassName: opts.className ?? 'wait',
      ...(opts.volumeName ? { volumeName: opts.volumeName } : {}),
    },
    status: { phase: opts.bound ? 'Bound' : 'Pending' },
  };
}

export function makePV(
  name: string,
  size: string,
  opts: { className?: string; node?: string; zone?: string; claim?: PersistentVolumeClaim; rv?: string; phase?: 'Available' | 'Bound' } = {},
): PersistentVolume {
  const pv: PersistentVolume = {
    metadata: { name, resourceVersion: opts.rv ?? '1', annotations: {} },
    spec: {
      capacity: { storage: size },
      accessModes: ['ReadWriteOnce'],
      storageClassName: opts.className ?? 'wait',
      csi: { driver: 'csi.strata.io', volumeHandle: name },
    },
    status: { phase: opts.phase ?? (opts.claim ? 'Bound' : 'Available') },
  };
  const key = opts.node ? 'kubernetes.io/hostname' : opts.zone ? 'topology.kubernetes.io/zone' : undefined;
  if (key) {
    pv.spec.nodeAffinity = {
      required: { nodeSelectorTerms: [{ matchExpressions: [{ key, operator: 'In', values: [opts.node ?? opts.zone!] }] }] },
    };
  }
  if (opts.claim) {
    pv.spec.claimRef = { kind: 'PersistentVolumeClaim', namespace: 'default', name: opts.claim.metadata.name, uid: opts.claim.metadata.uid };
  }
  return pv;
}

export function makeClass(
  name: string,
  mode: 'Immediate' | 'WaitForFirstConsumer',
  provisioner = 'csi.strata.io',
  allowedTopologies?: StorageClass['allowedTopologies'],
): StorageClass {
  return { metadata: { name, resourceVersion: '1' }, provisioner, volumeBindingMode: mode, ...(allowedTopologies ? { allowedTopologies } : {}) };
}

export function makeCapacity(name: string, className: string, capacity: string, nodeLabels: Record<string, string>, maximumVolumeSize?: string): CSIStorageCapacity {
  return {
    metadata: { name, namespace: 'kube-system', resourceVersion: '1' },
    storageClassName: className,
    capacity,
    ...(maximumVolumeSize ? { maximumVolumeSize } : {}),
    nodeTopology: { matchLabels: nodeLabels },
  };
}

/**
 * A SchedulerApi that stores what the scheduler writes and feeds the result back as informer events, as an API
 * server and the scheduler's informers would.
 */
export class RecordingSchedulerApi {
  readonly events: Array<{ object: string; type: string; reason: string; message: string }> = [];
  readonly conditions: Array<{ pod: string; condition: PodCondition }> = [];
  readonly annotations = new Map<string, Record<string, string>>();
  readonly bindings: Array<{ pod: string; node: string }> = [];
  readonly pvcWrites: PersistentVolumeClaim[] = [];
  readonly pvWrites: PersistentVolume[] = [];
  private rv = 100;
  scheduler?: Scheduler;

  private bump<T extends KubeObject>(obj: T): T {
    return { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
  }

  async bindPod(pod: Pod, nodeName: string): Promise<void> {
    this.bindings.push({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, node: nodeName });
    const old = this.scheduler!.objects.getPod(pod.metadata.namespace!, pod.metadata.name!)!;
    this.scheduler!.handleEvent('Pod', 'Update', this.bump({ ...old, spec: { ...old.spec, nodeName } }), old);
  }
  async updatePodCondition(pod: Pod, condition: PodCondition): Promise<void> {
    this.conditions.push({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, condition });
  }
  async setPodAnnotation(pod: Pod, key: string, value: string | null): Promise<void> {
    const k = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const annotations = this.annotations.get(k) ?? {};
    if (value === null) delete annotations[key];
    else annotations[key] = value;
    this.annotations.set(k, annotations);
  }
  async updatePV(pv: PersistentVolume): Promise<PersistentVolume> {
    const stored = this.bump(pv);
    this.pvWrites.push(stored);
    this.scheduler!.handleEvent('PersistentVolume', 'Update', stored);
    return stored;
  }
  async updatePVC(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim> {
    const stored = this.bump(pvc);
    this.pvcWrites.push(stored);
    this.scheduler!.handleEvent('PersistentVolumeClaim', 'Update', stored);
    return stored;
  }
  recordEvent(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.push({ object: `${obj.metadata.namespace}/${obj.metadata.name}`, type, reason, message });
  }
}
