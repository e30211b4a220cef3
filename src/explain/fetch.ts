// The thin I/O layer of `strata explain`: reads the live objects an explanation needs through the API.
import type { CoreEvent, KubeObject, PersistentVolumeClaim, Pod } from '../api/types.ts';
import { claimStorageClassName } from '../api/volume-matching.ts';
import { isNotFound } from '../client/errors.ts';
import type { KubeClient, ResourceType } from '../client/rest.ts';
import { Resources } from '../client/resources.ts';
import { ExplainTargetNotFoundError } from './errors.ts';
import type { Explanation } from './format.ts';
import { explainPod } from './pod.ts';
import { explainClaim } from './pvc.ts';
import { dynamicContentName, explainVolumeSnapshot } from './snapshot.ts';

async function getOrUndefined<T extends KubeObject>(client: KubeClient, type: ResourceType<T>, name: string, namespace?: string): Promise<T | undefined> {
  try {
    return await client.resource(type).get(name, namespace);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function mustGet<T extends KubeObject>(client: KubeClient, type: ResourceType<T>, name: string, namespace?: string): Promise<T> {
  const obj = await getOrUndefined(client, type, name, namespace);
  if (!obj) throw new ExplainTargetNotFoundError(type.group ? `${type.plural}.${type.group}` : type.plural, name);
  return obj;
}

const list = async <T extends KubeObject>(client: KubeClient, type: ResourceType<T>, namespace?: string): Promise<T[]> =>
  (await client.resource(type).list({ namespace })).items;

async function eventsAbout(client: KubeClient, namespace: string | undefined, kind: string, name: string): Promise<CoreEvent[]> {
  const fieldSelector = `involvedObject.kind=${kind},involvedObject.name=${name}`;
  return (await client.resource(Resources.events).list({ namespace, fieldSelector })).items;
}

export async function fetchAndExplainPod(client: KubeClient, namespace: string, name: string): Promise<Explanation> {
  const pod = await mustGet<Pod>(client, Resources.pods, name, namespace);
  const claimNames = (pod.spec.volumes ?? []).flatMap((v) =>
    v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : v.ephemeral ? [`${name}-${v.name}`] : []);
  const [nodes, volumes, storageClasses, claims] = await Promise.all([
    list(client, Resources.nodes),
    list(client, Resources.pv),
    list(client, Resources.storageClasses),
    Promise.all(claimNames.map((c) => getOrUndefined<PersistentVolumeClaim>(client, Resources.pvc, c, namespace))),
  ]);
  return explainPod({ pod, nodes, volumes, storageClasses, claims: claims.filter((c) => c !== undefined) });
}

export async function fetchAndExplainClaim(client: KubeClient, namespace: string, name: string): Promise<Explanation> {
  const claim = await mustGet(client, Resources.pvc, name, namespace);
  const className = claimStorageClassName(claim);
  const source = claim.spec.dataSourceRef ?? claim.spec.dataSource;
  const [storageClass, volumes, pods, events, snapshot] = await Promise.all([
    className ? getOrUndefined(client, Resources.storageClasses, className) : undefined,
    list(client, Resources.pv),
    list(client, Resources.pods, namespace),
    eventsAbout(client, namespace, 'PersistentVolumeClaim', name),
    source?.kind === 'VolumeSnapshot' ? getOrUndefined(client, Resources.volumeSnapshots, source.name, namespace) : undefined,
  ]);
  return explainClaim({ claim, storageClass, volumes, pods, events, snapshot });
}

export async function fetchAndExplainVolumeSnapshot(client: KubeClient, namespace: string, name: string): Promise<Explanation> {
  const snapshot = await mustGet(client, Resources.volumeSnapshots, name, namespace);
  const contentName = snapshot.status?.boundVolumeSnapshotContentName ?? snapshot.spec.source.volumeSnapshotContentName ?? dynamicContentName(snapshot);
  const pvcName = snapshot.spec.source.persistentVolumeClaimName;
  const [content, classes, sourceClaim, snapshotEvents, contentEvents] = await Promise.all([
    getOrUndefined(client, Resources.volumeSnapshotContents, contentName),
    list(client, Resources.volumeSnapshotClasses),
    pvcName ? getOrUndefined(client, Resources.pvc, pvcName, namespace) : undefined,
    eventsAbout(client, namespace, 'VolumeSnapshot', name),
    eventsAbout(client, undefined, 'VolumeSnapshotContent', contentName),
  ]);
  return explainVolumeSnapshot({ snapshot, content, classes, sourceClaim, events: [...snapshotEvents, ...contentEvents] });
}
