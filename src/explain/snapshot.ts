// Where a VolumeSnapshot is on its way to readyToUse (class, source PVC, content, the driver's snapshot), or the
// error that stopped it. Pure.
import type { CoreEvent, PersistentVolumeClaim, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from '../api/types.ts';
import { AnnIsDefaultSnapshotClass } from '../api/well-known.ts';
import type { Explanation } from './format.ts';
import { latestWarnings } from './pvc.ts';

export interface SnapshotInput {
  snapshot: VolumeSnapshot;
  /** The content it is (or will be) bound to, when it exists. */
  content?: VolumeSnapshotContent;
  classes: VolumeSnapshotClass[];
  /** The source PVC, when it exists. */
  sourceClaim?: PersistentVolumeClaim;
  /** Events about the snapshot and its content. */
  events: CoreEvent[];
}

/** The content a dynamically provisioned snapshot gets: snapcontent-<VolumeSnapshot UID>. */
export const dynamicContentName = (s: VolumeSnapshot): string => `snapcontent-${s.metadata.uid}`;

export function explainVolumeSnapshot(input: SnapshotInput): Explanation {
  const { snapshot, content } = input;
  const base = { kind: 'VolumeSnapshot' as const, namespace: snapshot.metadata.namespace ?? 'default', name: snapshot.metadata.name ?? '' };
  const warnings = latestWarnings(input.events).map((e) => `event ${e.reason}: ${e.message}`);
  const status = snapshot.status;
  const contentName = status?.boundVolumeSnapshotContentName ?? snapshot.spec.source.volumeSnapshotContentName ?? dynamicContentName(snapshot);

  if (snapshot.metadata.deletionTimestamp) {
    return {
      ...base,
      state: 'Terminating',
      summary: `being deleted; waiting for finalizers [${(snapshot.metadata.finalizers ?? []).join(', ')}]`,
      reasons: [...(content ? [`VolumeSnapshotContent ${content.metadata.name} (deletionPolicy ${content.spec.deletionPolicy}) still exists`] : []), ...warnings],
      fixes: [],
    };
  }
  if (status?.readyToUse) {
    return {
      ...base,
      state: 'Ready',
      summary: `ready to use: VolumeSnapshotContent ${contentName}, snapshotHandle ${content?.status?.snapshotHandle ?? '?'}, restoreSize ${status.restoreSize ?? '?'}, created ${status.creationTime ?? '?'}`,
      reasons: [],
      fixes: [],
    };
  }
  const fixes: string[] = [];
  const pvcName = snapshot.spec.source.persistentVolumeClaimName;
  let summary: string;
  const className = snapshot.spec.volumeSnapshotClassName ?? content?.spec.volumeSnapshotClassName;
  const defaults = input.classes.filter((c) => c.metadata.annotations?.[AnnIsDefaultSnapshotClass] === 'true');
  if (pvcName && !input.sourceClaim) {
    summary = `waiting for the source PVC ${pvcName}, which does not exist`;
    fixes.push(`create PVC ${pvcName} in namespace ${base.namespace}, or recreate the snapshot from an existing PVC`);
  } else if (pvcName && input.sourceClaim?.status?.phase !== 'Bound') {
    summary = `waiting for the source PVC ${pvcName} to be bound (it is ${input.sourceClaim?.status?.phase ?? 'Pending'})`;
    fixes.push(`see why: strata explain pvc ${pvcName} -n ${base.namespace}`);
  } else if (className && !input.classes.some((c) => c.metadata.name === className)) {
    summary = `VolumeSnapshotClass ${className} does not exist`;
    fixes.push(`create VolumeSnapshotClass ${className}`);
  } else if (!className && pvcName && defaults.length !== 1) {
    summary = defaults.length === 0 ? 'no VolumeSnapshotClass named and no default class' : `${defaults.length} default snapshot classes were found`;
    fixes.push(`name a class in spec.volumeSnapshotClassName, or mark exactly one class with ${AnnIsDefaultSnapshotClass}: "true"`);
  } else if (!content) {
    summary = snapshot.spec.source.volumeSnapshotContentName
      ? `waiting for the pre-provisioned VolumeSnapshotContent ${contentName}, which does not exist`
      : `waiting for the snapshot controller to create VolumeSnapshotContent ${contentName}`;
    if (snapshot.spec.source.volumeSnapshotContentName) fixes.push(`create VolumeSnapshotContent ${contentName} with a volumeSnapshotRef to this snapshot`);
  } else if (!content.status?.readyToUse) {
    summary = `waiting for driver ${content.spec.driver} to cut the snapshot (VolumeSnapshotContent ${contentName}${content.status?.snapshotHandle ? `, snapshotHandle ${content.status.snapshotHandle}` : ''})`;
  } else {
    summary = `VolumeSnapshotContent ${contentName} is ready; waiting for the snapshot controller to copy its status`;
  }
  const error = status?.error?.message ?? content?.status?.error?.message;
  if (error) {
    // The controllers retry; what they wait on is the likely cause.
    return { ...base, state: 'Error', summary: `error: ${error}`, reasons: [summary, ...warnings], fixes: fixes.length ? fixes : ['fix the cause; the snapshot controllers retry with backoff'] };
  }
  return { ...base, state: 'Pending', summary, reasons: warnings, fixes };
}
