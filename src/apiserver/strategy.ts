// Per-kind write strategies, as upstream's registry strategies (PrepareForCreate, PrepareForUpdate, status
// subresource resets, generation, graceful deletion). Pure functions over objects; no I/O.
import { cloneJSON } from '../api/json.ts';
import type { KubeObject, Pod } from '../api/types.ts';
import { prepareForCreate as prepareKindForCreate } from '../api/validation/index.ts';
import { deepEqual } from './patch/values.ts';
import type { ResourceDef } from './resources.ts';
import { gvkOf } from './resources.ts';

function hasStatus(r: ResourceDef): boolean {
  return r.subresources.includes('status');
}

/**
 * Upstream's PrepareForCreate: system fields reset here; each kind's status reset and initial state (Pod Pending
 * with its QoS class, PV/PVC Pending, Namespace Active with the `kubernetes` finalizer, status dropped for the
 * kinds with a status subresource) live with the kind in api/validation.
 */
export function prepareForCreate(r: ResourceDef, obj: KubeObject): void {
  const m = obj.metadata;
  m.generation = 1;
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
  prepareKindForCreate(gvkOf(r), obj);
}

/** A write to the object itself: status changes are ignored for kinds with a status subresource. */
export function prepareForUpdate(r: ResourceDef, next: KubeObject, old: KubeObject): void {
  if (hasStatus(r)) {
    if (old.status === undefined) delete next.status;
    else next.status = cloneJSON(old.status);
  }
  if (r.kind === 'Namespace') {
    // spec.finalizers is only changed through namespaces/finalize; keep it.
    next.spec = cloneJSON(old.spec);
  }
  bumpGeneration(next, old);
}

/** A write to /status: everything but status comes from the stored object (ResetObjectMetaForStatus). */
export function prepareForStatusUpdate(next: KubeObject, old: KubeObject): KubeObject {
  const out = cloneJSON(old);
  out.status = next.status === undefined ? undefined : cloneJSON(next.status);
  if (out.status === undefined) delete out.status;
  out.metadata.managedFields = next.metadata.managedFields ?? out.metadata.managedFields;
  return out;
}

export function bumpGeneration(next: KubeObject, old: KubeObject): void {
  const gen = old.metadata.generation ?? 1;
  const specUnchanged = sameExcept(next, old, (k) => k === 'metadata' || k === 'status' || k === 'apiVersion' || k === 'kind');
  next.metadata.generation = specUnchanged ? gen : gen + 1;
}

/** Metadata fields the client cannot change on update; copied from the stored object. */
export function preserveSystemMetadata(next: KubeObject, old: KubeObject): void {
  const m = next.metadata;
  const o = old.metadata;
  m.uid = o.uid;
  m.creationTimestamp = o.creationTimestamp;
  if (o.deletionTimestamp) {
    m.deletionTimestamp = o.deletionTimestamp;
    if (o.deletionGracePeriodSeconds !== undefined) m.deletionGracePeriodSeconds = o.deletionGracePeriodSeconds;
  } else {
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
  }
  if (m.generateName === undefined && o.generateName !== undefined) m.generateName = o.generateName;
}

/** Whether two stored states differ in anything but resourceVersion and managedFields timestamps. */
export function semanticallyEqual(a: KubeObject, b: KubeObject): boolean {
  const [ma, mb] = [a.metadata, b.metadata];
  if (!sameExcept(a, b, (k) => k === 'metadata') || !sameExcept(ma, mb, (k) => k === 'resourceVersion' || k === 'managedFields')) return false;
  const [fa, fb] = [ma.managedFields, mb.managedFields];
  if (fa === undefined || fb === undefined) return fa === fb;
  return fa.length === fb.length && fa.every((entry, i) => sameExcept(entry, fb[i]!, (k) => k === 'time'));
}

/** Whether two objects have the same members (deepEqual), leaving out those whose names `skip` accepts. */
function sameExcept(x: object, y: object, skip: (key: string) => boolean): boolean {
  const [vx, vy] = [x as Record<string, unknown>, y as Record<string, unknown>];
  let members = 0;
  for (const k in vx) {
    if (skip(k)) continue;
    members++;
    if (!Object.hasOwn(vy, k) || !deepEqual(vx[k], vy[k])) return false;
  }
  for (const k in vy) if (!skip(k)) members--;
  return members === 0;
}

/**
 * Graceful deletion period for an object, or 0 to delete at once (pods bound to a node wait for the node to
 * confirm; unscheduled or terminated pods go at once — upstream's pod CheckGracefulDelete).
 */
export function gracePeriodSeconds(r: ResourceDef, obj: KubeObject, requested: number | undefined): number {
  if (r.kind !== 'Pod') return 0;
  const pod = obj as Pod;
  if (!pod.spec.nodeName) return 0;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return 0;
  const grace = requested ?? pod.spec.terminationGracePeriodSeconds ?? 30;
  return Math.max(0, grace);
}
