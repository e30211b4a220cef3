// Why a PVC is not bound: waiting for a consumer, being provisioned (and the provisioner's errors), or no PV matches
// and why each candidate was rejected. Pure: the live objects come in, the explanation goes out.
import type { CoreEvent, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass, VolumeSnapshot } from '../api/types.ts';
import { claimStorageClassName, explainVolumeCandidates } from '../api/volume-matching.ts';
import { AnnSelectedNode, NotSupportedProvisioner } from '../api/well-known.ts';
import type { Explanation } from './format.ts';

export interface ClaimInput {
  claim: PersistentVolumeClaim;
  /** The claim's StorageClass, when it exists. */
  storageClass?: StorageClass;
  volumes: PersistentVolume[];
  /** Pods of the claim's namespace. */
  pods: Pod[];
  /** Events about the claim. */
  events: CoreEvent[];
  /** The VolumeSnapshot the claim restores from, when dataSource names one that exists. */
  snapshot?: VolumeSnapshot;
}

/** Warning events, the latest of each reason, newest first. */
export function latestWarnings(events: CoreEvent[]): CoreEvent[] {
  const time = (e: CoreEvent) => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? '';
  const sorted = events.filter((e) => e.type === 'Warning').sort((a, b) => time(b).localeCompare(time(a)));
  const seen = new Set<string>();
  return sorted.filter((e) => !seen.has(e.reason ?? '') && seen.add(e.reason ?? ''));
}

const eventLine = (e: CoreEvent): string => `event ${e.reason}: ${e.message}`;

function podUses(pod: Pod, claimName: string): boolean {
  return (pod.spec.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claimName);
}

function consumerReasons(input: ClaimInput, name: string): { reasons: string[]; fixes: string[] } {
  const users = input.pods.filter((p) => podUses(p, name) && !p.metadata.deletionTimestamp);
  if (users.length === 0) return { reasons: ['no pod uses it yet'], fixes: [`create a pod that mounts PVC ${name}; the volume is bound or provisioned where the scheduler puts that pod`] };
  const reasons = users.map((p) => {
    const cond = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    return `pod ${p.metadata.name} uses it and is ${p.spec.nodeName ? `on node ${p.spec.nodeName}` : `not scheduled${cond?.message ? `: ${cond.message}` : ''}`}`;
  });
  const stuck = users.filter((p) => !p.spec.nodeName).map((p) => p.metadata.name);
  return { reasons, fixes: stuck.map((p) => `see why pod ${p} cannot be placed: strata explain pod ${p} -n ${input.claim.metadata.namespace}`) };
}

function snapshotReasons(input: ClaimInput): string[] {
  const ds = input.claim.spec.dataSourceRef ?? input.claim.spec.dataSource;
  if (ds?.kind !== 'VolumeSnapshot') return [];
  if (!input.snapshot) return [`it restores from VolumeSnapshot ${ds.name}, which does not exist`];
  if (!input.snapshot.status?.readyToUse) return [`it restores from VolumeSnapshot ${ds.name}, which is not ready to use yet (strata explain volumesnapshot ${ds.name})`];
  return [];
}

export function explainClaim(input: ClaimInput): Explanation {
  const { claim } = input;
  const name = claim.metadata.name ?? '';
  const base = { kind: 'PersistentVolumeClaim' as const, namespace: claim.metadata.namespace ?? 'default', name };
  const phase = claim.status?.phase ?? 'Pending';
  const warnings = latestWarnings(input.events).map(eventLine);
  if (claim.metadata.deletionTimestamp) {
    const users = input.pods.filter((p) => podUses(p, name)).map((p) => p.metadata.name!);
    return {
      ...base,
      state: 'Terminating',
      summary: `being deleted; waiting for finalizers [${(claim.metadata.finalizers ?? []).join(', ')}]`,
      reasons: users.length ? [`pods ${users.join(', ')} still use it (kubernetes.io/pvc-protection)`] : [],
      fixes: users.length ? [`delete the pods that use it`] : [],
    };
  }
  if (phase === 'Bound') {
    return { ...base, state: 'Bound', summary: `bound to PV ${claim.spec.volumeName} (${claim.status?.capacity?.storage ?? '?'})`, reasons: [], fixes: [] };
  }
  if (phase === 'Lost') {
    return { ...base, state: 'Lost', summary: `bound to PV ${claim.spec.volumeName}, which no longer exists; data on the volume is lost`, reasons: warnings, fixes: [`delete and recreate PVC ${name}`] };
  }

  const className = claimStorageClassName(claim);
  const sc = input.storageClass;
  const reasons: string[] = [...snapshotReasons(input)];
  const fixes: string[] = [];
  if (claim.spec.volumeName) {
    const pv = input.volumes.find((v) => v.metadata.name === claim.spec.volumeName);
    if (!pv) {
      reasons.push(`it asks for PV ${claim.spec.volumeName}, which does not exist`);
      fixes.push(`create PV ${claim.spec.volumeName}, or recreate the PVC without spec.volumeName`);
    } else {
      for (const c of explainVolumeCandidates(claim, [pv], undefined)) {
        if (c.rejections.length) reasons.push(`PV ${c.volume} cannot serve it: ${c.rejections.map((r) => r.message).join('; ')}`);
      }
    }
    return { ...base, state: 'Pending', summary: `waiting to bind to the requested PV ${claim.spec.volumeName}`, reasons: [...reasons, ...warnings], fixes };
  }

  const candidates = explainVolumeCandidates(claim, input.volumes, undefined);
  const others = candidates.filter((c) => c.rejections.some((r) => r.reason === 'BoundToOtherClaim') && !c.preBound);
  const considered = candidates.filter((c) => !others.includes(c));
  const candidateLines = considered.map((c) =>
    c.rejections.length ? `PV ${c.volume} cannot serve it: ${c.rejections.map((r) => r.message).join('; ')}` : `PV ${c.volume} matches`,
  );
  if (others.length) candidateLines.push(`${others.length} other PV(s) are bound to other claims`);

  let summary: string;
  if (className !== '' && !sc) {
    summary = `StorageClass ${className} does not exist`;
    fixes.push(`create StorageClass ${className}, or recreate the PVC with an existing class`);
  } else if (sc?.volumeBindingMode === 'WaitForFirstConsumer' && !claim.metadata.annotations?.[AnnSelectedNode]) {
    summary = `waiting for first consumer: StorageClass ${className} has volumeBindingMode WaitForFirstConsumer, so the claim is bound or provisioned only once a pod using it is scheduled`;
    const consumers = consumerReasons(input, name);
    reasons.push(...consumers.reasons);
    fixes.push(...consumers.fixes);
  } else if (sc && sc.provisioner && sc.provisioner !== NotSupportedProvisioner) {
    const node = claim.metadata.annotations?.[AnnSelectedNode];
    summary = `waiting for provisioner ${sc.provisioner} to create a volume${node ? ` for node ${node}` : ''}`;
    if (warnings.length) fixes.push('fix what the provisioner reports (see the events above); it retries with backoff');
  } else {
    summary = considered.length === 0 ? 'no PV exists that could serve it, and nothing provisions one' : 'no PV matches it, and nothing provisions one';
    reasons.push(...candidateLines);
    fixes.push(`create a PV with storageClassName "${className}", capacity ≥ ${claim.spec.resources?.requests?.storage ?? '0'} and access modes [${(claim.spec.accessModes ?? []).join(', ')}]${sc ? '' : ', or give the PVC a StorageClass with a provisioner'}`);
    return { ...base, state: 'Pending', summary, reasons: [...reasons, ...warnings], fixes };
  }
  if (sc?.volumeBindingMode === 'WaitForFirstConsumer' || sc?.provisioner === NotSupportedProvisioner) reasons.push(...candidateLines);
  return { ...base, state: 'Pending', summary, reasons: [...reasons, ...warnings], fixes };
}
