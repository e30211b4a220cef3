// Wires the scheduler to a Kubernetes API: informers feed it, its writes go through the REST client, events through
// the event recorder ("default-scheduler" as upstream's component name).
import type { KubeObject, Pod } from '../api/types.ts';
import { EventRecorder } from '../client/events.ts';
import { Informer } from '../client/informer.ts';
import { defaultLogger, type Logger } from '../client/logger.ts';
import type { KubeClient, ResourceType } from '../client/rest.ts';
import { Resources } from '../client/resources.ts';
import type { ObjectKind } from './cluster-objects.ts';
import { DefaultSchedulerName, Scheduler, type SchedulerApi, type SchedulerOptions } from './scheduler.ts';

export interface RunSchedulerOptions extends Omit<SchedulerOptions, 'api' | 'logger'> {
  client: KubeClient;
  signal: AbortSignal;
  logger?: Logger;
}

function schedulerApi(client: KubeClient, recorder: EventRecorder): SchedulerApi {
  const pods = client.resource(Resources.pods);
  return {
    async bindPod(pod, nodeName) {
      await pods.createSubresource(pod.metadata.name!, pod.metadata.namespace, 'binding', {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid },
        target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
      });
    },
    async updatePodCondition(pod, condition) {
      const now = new Date().toISOString();
      const existing = pod.status?.conditions?.find((c) => c.type === condition.type);
      const lastTransitionTime = existing && existing.status === condition.status ? existing.lastTransitionTime : now;
      // A strategic merge patch keyed by condition type, as upstream's PatchPodStatus.
      await pods.patch(
        pod.metadata.name!,
        { status: { conditions: [{ ...condition, lastProbeTime: null, lastTransitionTime }] } },
        'strategic',
        pod.metadata.namespace,
        { subresource: 'status' },
      );
    },
    async setPodAnnotation(pod, key, value) {
      await pods.patch(pod.metadata.name!, { metadata: { annotations: { [key]: value } } }, 'merge', pod.metadata.namespace);
    },
    updatePV: (pv) => client.resource(Resources.pv).update(pv),
    updatePVC: (pvc) => client.resource(Resources.pvc).update(pvc),
    recordEvent: (obj, type, reason, message) => recorder.event(obj, type, reason, message),
  };
}

/** Runs the scheduler against the API until the signal aborts. */
export async function runScheduler(options: RunSchedulerOptions): Promise<void> {
  const { client, signal } = options;
  const logger = options.logger ?? defaultLogger;
  const schedulerName = options.schedulerName ?? DefaultSchedulerName;
  const recorder = new EventRecorder(client, { component: schedulerName, logger });
  const scheduler = new Scheduler({ ...options, api: schedulerApi(client, recorder), logger });

  const informers: Array<Informer<KubeObject>> = [];
  const watch = <T extends KubeObject>(kind: ObjectKind, type: ResourceType<T>): void => {
    const informer = new Informer<T>(client.resource(type), { logger });
    informer.onAdd((obj) => scheduler.handleEvent(kind, 'Add', obj));
    informer.onUpdate((oldObj, newObj) => scheduler.handleEvent(kind, 'Update', newObj, oldObj));
    informer.onDelete((obj) => scheduler.handleEvent(kind, 'Delete', obj));
    informers.push(informer as unknown as Informer<KubeObject>);
  };
  // Storage objects and nodes first, so that pods find them when they arrive.
  watch('StorageClass', Resources.storageClasses);
  watch('CSIDriver', Resources.csiDrivers);
  watch('CSINode', Resources.csiNodes);
  watch('CSIStorageCapacity', Resources.csiStorageCapacities);
  watch('PersistentVolume', Resources.pv);
  watch('PersistentVolumeClaim', Resources.pvc);
  watch('Node', Resources.nodes);
  watch<Pod>('Pod', Resources.pods);

  try {
    for (const informer of informers) {
      informer.start();
      if (!(await informer.waitForSync(signal))) return;
    }
    logger.info({ schedulerName }, 'scheduler started');
    await scheduler.run(signal);
  } finally {
    for (const informer of informers) informer.stop();
    await recorder.flush();
    recorder.close();
  }
}
