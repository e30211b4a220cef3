// metadata.managedFields upkeep, as kube-apiserver's field manager does it (k8s.io/apiserver/.../managedfields and
// sigs.k8s.io/structured-merge-diff merge.Updater): server-side apply with ownership, pruning and conflicts, and
// ownership tracking of ordinary writes (operation Update).
//
// What the API server still does itself: wiping system metadata on create, resetting `status` on the main resource
// (and everything but status on /status), validation and defaulting of the result.

import type { KubeObject, ManagedFieldsEntry } from '../../api/types.ts';
import { ApplyConflictError, type ApplyConflict, PatchError } from './errors.ts';
import { type Element, FieldSet, pathString } from './fieldpath.ts';
import { parseGvk, schemaForGvk, type SchemaNode } from './smp-schema.ts';
import { compare, ensureNamedFieldsAreMembers, merge, removeItems, toFieldSet, type Comparison } from './typed.ts';
import { deepClone, deepEqual, goJson, isObject, type JsonObject } from './values.ts';
import { metaTime } from '../../api/time.ts';

export const lastAppliedConfigAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

interface ManagerState {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time?: string;
  set: FieldSet;
  /** The stored FieldsV1 of `set` while it is unchanged (entries of the live object; see liveEntry). */
  encoded?: Record<string, unknown>;
}
type Managers = Map<string, ManagerState>;

export interface ApplyOptions {
  manager: string;
  force: boolean;
  gvk: string;
  now: string;
  subresource?: string;
}
export type UpdateOptions = Omit<ApplyOptions, 'force'>;

// Fields never tracked in managedFields.
const strippedFields = FieldSet.of(
  ['f:apiVersion'],
  ['f:kind'],
  ['f:metadata'],
  ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map(
    (field): Element[] => ['f:metadata', `f:${field}`],
  ),
);
// Set by the server, never by a client's body.
const systemMetadataFields = ['creationTimestamp', 'uid', 'resourceVersion', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'];

/** Apply identifies a manager by name (and subresource); Update also by the apiVersion it wrote. */
function managerKey(m: Pick<ManagerState, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  return JSON.stringify([m.manager, m.operation, m.operation === 'Update' ? m.apiVersion : '', m.subresource ?? '']);
}

/**
 * An entry of the live object, which the server wrote and so is valid: its field set is decoded only when asked for,
 * and its stored FieldsV1 reused until the set is replaced. Most writes touch the fields of one manager only.
 * (A class: accessors defined on each object instead made every access to it slow, more than the decode saved.)
 */
class LiveEntry implements ManagerState {
  readonly manager: string;
  readonly operation: 'Apply' | 'Update';
  readonly apiVersion: string;
  readonly subresource?: string;
  readonly time?: string;
  encoded: Record<string, unknown> | undefined;
  #set: FieldSet | undefined;

  constructor(state: Omit<ManagerState, 'set'>, fieldsV1: Record<string, unknown>) {
    this.manager = state.manager;
    this.operation = state.operation;
    this.apiVersion = state.apiVersion;
    this.subresource = state.subresource;
    this.time = state.time;
    this.encoded = fieldsV1;
  }

  get set(): FieldSet {
    return (this.#set ??= FieldSet.fromFieldsV1(this.encoded));
  }

  set set(value: FieldSet) {
    this.#set = value;
    this.encoded = undefined;
  }
}

/** Whether a FieldsV1 encoding has a member that is also a member of `set`. */
function fieldsV1Intersects(fields: Record<string, unknown>, set: FieldSet): boolean {
  for (const [element, child] of set.children) {
    const sub = fields[element];
    if (!isObject(sub)) continue;
    if (child.member && (Object.keys(sub).length === 0 || '.' in sub)) return true;
    if (child.children.size > 0 && fieldsV1Intersects(sub, child)) return true;
  }
  return false;
}

function decodeManagedFields(entries: unknown, live = false): Managers {
  const managers: Managers = new Map();
  if (entries === undefined || entries === null) return managers;
  if (!Array.isArray(entries)) throw new Error('managedFields must be a list');
  entries.forEach((entry: ManagedFieldsEntry, i) => {
    if (entry.operation !== 'Apply' && entry.operation !== 'Update') throw new Error('operation must be `Apply` or `Update`');
    if (!entry.apiVersion) throw new Error('apiVersion must not be empty');
    if (entry.fieldsType !== 'FieldsV1') {
      throw new Error(entry.fieldsType ? `invalid fieldsType "${entry.fieldsType}" in managed fields entry ${i}` : `missing fieldsType in managed fields entry ${i}`);
    }
    const meta = {
      manager: entry.manager ?? '',
      operation: entry.operation,
      apiVersion: entry.apiVersion,
      ...(entry.subresource ? { subresource: entry.subresource } : {}),
      ...(entry.time ? { time: entry.time } : {}),
    };
    const fieldsV1 = entry.fieldsV1 ?? {};
    const state: ManagerState = live && isObject(fieldsV1) ? new LiveEntry(meta, fieldsV1) : { ...meta, set: FieldSet.fromFieldsV1(fieldsV1) };
    managers.set(managerKey(state), state);
  });
  return managers;
}

/** Entries sorted as upstream: Apply before Update, then by time, manager, apiVersion, subresource. */
function encodeManagedFields(managers: Managers): ManagedFieldsEntry[] {
  const seconds = (time?: string): number => (time ? Math.floor(Date.parse(time) / 1000) : 0);
  const compareStrings = (a = '', b = ''): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...managers.values()]
    .sort(
      (p, q) =>
        compareStrings(p.operation, q.operation) ||
        seconds(p.time) - seconds(q.time) ||
        compareStrings(p.manager, q.manager) ||
        compareStrings(p.apiVersion, q.apiVersion) ||
        compareStrings(p.subresource, q.subresource),
    )
    .map((m) => ({
      manager: m.manager,
      operation: m.operation,
      apiVersion: m.apiVersion,
      ...(m.time ? { time: m.time } : {}),
      fieldsType: 'FieldsV1' as const,
      fieldsV1: m.encoded ?? m.set.toFieldsV1(),
      ...(m.subresource ? { subresource: m.subresource } : {}),
    }));
}

/** metav1.Time precision: RFC 3339 in whole seconds, UTC. */
function toMetaTime(now: string): string {
  return metaTime(Date.parse(now));
}

/** A shallow view of obj without metadata.managedFields (the walks over it only read). */
function withoutManagedFields(obj: KubeObject | undefined): JsonObject {
  if (!obj) return {};
  if (!isObject(obj.metadata)) return { ...obj };
  const { managedFields: _managedFields, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** The main resource does not track status; /status tracks only status (and metadata). */
function filterForSubresource(set: FieldSet, subresource: string | undefined): FieldSet {
  return subresource === 'status' ? set.filterTop(['f:status', 'f:metadata'], true) : set.filterTop(['f:status'], false);
}
function filterComparison(c: Comparison, subresource: string | undefined): Comparison {
  return {
    added: filterForSubresource(c.added, subresource),
    modified: filterForSubresource(c.modified, subresource),
    removed: filterForSubresource(c.removed, subresource),
  };
}

function printManager(m: ManagerState): string {
  let printed = JSON.stringify(m.manager);
  if (m.subresource) printed += ` with subresource ${JSON.stringify(m.subresource)}`;
  return m.operation === 'Update' ? `${printed} using ${m.apiVersion}` : printed;
}

function conflictError(conflicts: Array<{ owner: ManagerState; path: Element[] }>): ApplyConflictError {
  const causes: ApplyConflict[] = conflicts.map(({ owner, path }) => ({
    manager: owner.manager,
    field: pathString(path),
    message: `conflict with ${printManager(owner)}`,
  }));
  if (conflicts.length === 1) {
    const [only] = conflicts;
    return new ApplyConflictError(`Apply failed with 1 conflict: conflict with ${printManager(only!.owner)}: ${causes[0]!.field}`, causes);
  }
  const byManager = new Map<string, { owner: ManagerState; fields: string[] }>();
  conflicts.forEach(({ owner }, i) => {
    const key = managerKey(owner);
    const group = byManager.get(key) ?? { owner, fields: [] };
    group.fields.push(causes[i]!.field);
    byManager.set(key, group);
  });
  const lines = [...byManager.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([, { owner, fields }]) => [`conflicts with ${printManager(owner)}:`, ...fields.map((f) => `- ${f}`)]);
  return new ApplyConflictError(`Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`, causes);
}

function gvkString(apiVersion: unknown, kind: unknown): string {
  const version = typeof apiVersion === 'string' ? apiVersion : '';
  const slash = version.lastIndexOf('/');
  const group = slash < 0 ? '' : version.slice(0, slash);
  return `${group}/${version.slice(slash + 1)}, Kind=${typeof kind === 'string' ? kind : ''}`;
}

/** Keeps the live object's server-set metadata (absent when creating). */
function keepSystemMetadata(merged: JsonObject, live: KubeObject | undefined): void {
  if (!isObject(merged.metadata)) merged.metadata = {};
  const metadata = merged.metadata as JsonObject;
  const liveMetadata = (live?.metadata ?? {}) as JsonObject;
  for (const field of systemMetadataFields) {
    if (liveMetadata[field] === undefined) delete metadata[field];
    else metadata[field] = deepClone(liveMetadata[field]);
  }
}

function dropNullFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNullFields);
  if (!isObject(value)) return value;
  for (const [key, member] of Object.entries(value)) {
    if (member === null) delete value[key];
    else value[key] = dropNullFields(member);
  }
  return value;
}

/**
 * Fields of the last-applied annotation whose live values still match it: conflicts on them come from client-side
 * apply and do not block `kubectl apply --server-side` (upstream lastAppliedManager).
 */
function fieldsStillAsLastApplied(live: KubeObject | undefined, liveBody: JsonObject, schema: SchemaNode, apiVersion: string): FieldSet | undefined {
  const annotation = live?.metadata.annotations?.[lastAppliedConfigAnnotation];
  if (!annotation) return undefined;
  let lastApplied: unknown;
  try {
    lastApplied = JSON.parse(annotation);
  } catch {
    return undefined;
  }
  if (!isObject(lastApplied) || lastApplied.apiVersion !== apiVersion) return undefined;
  const changed = compare(lastApplied, liveBody, schema);
  return toFieldSet(lastApplied, schema).difference(changed.modified).difference(changed.added).difference(changed.removed);
}

/** The annotation kubectl server-side apply keeps in sync: the applied object, minus the annotation itself. */
function buildLastApplied(applied: KubeObject): string {
  const copy = deepClone(applied);
  const annotations = copy.metadata?.annotations;
  if (annotations) delete annotations[lastAppliedConfigAnnotation];
  return `${goJson(copy)}\n`;
}

/**
 * Server-side apply of `applied` onto `live` (undefined when creating) by `opts.manager`. Returns the merged object
 * with metadata.managedFields updated; throws ApplyConflictError (409) unless forced, PatchError (400) for a body of
 * another kind or carrying managedFields. An apply that changes nothing returns an object deep-equal to `live`.
 */
export function serverSideApply(live: KubeObject | undefined, applied: KubeObject, opts: ApplyOptions): KubeObject {
  const { apiVersion, kind } = parseGvk(opts.gvk);
  if (applied.apiVersion !== apiVersion || applied.kind !== kind) {
    throw new PatchError(400, 'BadRequest', `invalid object type: ${gvkString(applied.apiVersion, applied.kind)}`);
  }
  if (applied.metadata?.managedFields != null) throw new PatchError(400, 'BadRequest', 'metadata.managedFields must be nil');
  let managers: Managers;
  try {
    managers = decodeManagedFields(live?.metadata.managedFields);
  } catch (err) {
    throw new PatchError(500, '', `failed to decode managed fields: ${(err as Error).message}`);
  }

  const schema = schemaForGvk(opts.gvk);
  const liveBody = withoutManagedFields(live);
  const config = withoutManagedFields(applied);
  const applier: ManagerState = {
    manager: opts.manager,
    operation: 'Apply',
    apiVersion,
    time: toMetaTime(opts.now),
    set: new FieldSet(),
    ...(opts.subresource ? { subresource: opts.subresource } : {}),
  };
  const applierKey = managerKey(applier);
  const configSet = filterForSubresource(toFieldSet(config, schema), opts.subresource);

  let merged = merge(liveBody, config, schema) as JsonObject;
  keepSystemMetadata(merged, live);
  merged = dropNullFields(merged) as JsonObject;

  // Prune what this applier set last time, no longer sets, and nobody else owns.
  const lastSet = managers.get(applierKey)?.set;
  if (lastSet && !lastSet.isEmpty()) {
    let toRemove = ensureNamedFieldsAreMembers(lastSet, schema).difference(ensureNamedFieldsAreMembers(configSet, schema));
    for (const [key, other] of managers) if (key !== applierKey) toRemove = toRemove.difference(ensureNamedFieldsAreMembers(other.set, schema));
    merged = removeItems(merged, toRemove, schema) as JsonObject;
  }

  const changes = filterComparison(compare(liveBody, merged, schema), opts.subresource);
  const changed = changes.modified.union(changes.added);
  const conflicts: Array<{ owner: ManagerState; path: Element[] }> = [];
  const conflictSets = new Map<string, FieldSet>();
  for (const [key, other] of managers) {
    if (key === applierKey) continue;
    const conflictSet = other.set.intersection(changed);
    if (conflictSet.isEmpty()) continue;
    conflictSets.set(key, conflictSet);
    for (const path of conflictSet.paths()) conflicts.push({ owner: other, path });
  }
  if (conflicts.length > 0 && !opts.force) {
    const allowed = opts.manager === 'kubectl' ? fieldsStillAsLastApplied(live, liveBody, schema, apiVersion) : undefined;
    const blocking = allowed ? conflicts.filter(({ path }) => !allowed.has(path)) : conflicts;
    if (blocking.length > 0) throw conflictError(blocking);
  }

  for (const [key, other] of managers) {
    if (key === applierKey) continue;
    other.set = other.set.difference(conflictSets.get(key) ?? new FieldSet()).difference(changes.removed);
    if (other.set.isEmpty()) managers.delete(key);
  }
  applier.set = configSet.difference(strippedFields);
  managers.delete(applierKey);
  if (!applier.set.isEmpty()) managers.set(applierKey, applier);

  const result = merged as KubeObject;
  const annotations = result.metadata.annotations;
  if (opts.manager === 'kubectl' && annotations?.[lastAppliedConfigAnnotation]) {
    annotations[lastAppliedConfigAnnotation] = buildLastApplied(applied);
  }
  setManagedFields(result, managers, live);
  return result;
}

/**
 * Records a non-apply write (create, update, any patch) by `opts.manager` in `updated.metadata.managedFields`: the
 * manager takes the fields the write added or changed, every manager loses the fields it changed or removed.
 */
export function recordUpdate(old: KubeObject | undefined, updated: KubeObject, opts: UpdateOptions): void {
  const { apiVersion } = parseGvk(opts.gvk);
  const managers = decodeLiveOrNew(old, updated, opts.subresource !== undefined);
  const schema = schemaForGvk(opts.gvk);
  const all = compare(withoutManagedFields(old), withoutManagedFields(updated), schema);
  const changes = filterComparison(all, opts.subresource);
  const changed = changes.modified.union(changes.added);
  const touched = changed.union(changes.removed);
  for (const [key, m] of managers) {
    if (m.encoded && !fieldsV1Intersects(m.encoded, touched)) continue; // loses nothing: keep it as stored
    m.set = m.set.difference(touched);
    if (m.set.isEmpty()) managers.delete(key);
  }
  const taken = changed.difference(changes.removed).difference(strippedFields);
  if (!taken.isEmpty()) {
    const writer: ManagerState = {
      manager: opts.manager,
      operation: 'Update',
      apiVersion,
      time: toMetaTime(opts.now),
      set: taken,
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    };
    const key = managerKey(writer);
    const previous = managers.get(key);
    if (previous) writer.set = previous.set.union(taken);
    managers.set(key, writer);
  }
  // A write that changed anything besides managedFields cannot be a no-op: the check for one is skipped.
  const noopPossible = all.added.isEmpty() && all.modified.isEmpty() && all.removed.isEmpty();
  setManagedFields(updated, managers, noopPossible ? old : undefined);
}

/**
 * The managers to start from: the live object's, unless the write sets managedFields itself (`[{}]` resets them).
 * Subresource writes cannot set managedFields.
 */
function decodeLiveOrNew(old: KubeObject | undefined, updated: KubeObject, isSubresource: boolean): Managers {
  const fromLive = (): Managers => {
    try {
      return decodeManagedFields(old?.metadata.managedFields, true);
    } catch {
      return new Map();
    }
  };
  if (isSubresource) return fromLive();
  const requested = updated.metadata.managedFields;
  if (Array.isArray(requested) && requested.length === 1 && deepEqual(requested[0], {})) return new Map();
  // Most writers send back the entries they read: those are the live ones, which need no full decode.
  if (old && requested !== undefined && deepEqual(requested, old.metadata.managedFields)) return fromLive();
  try {
    const managers = decodeManagedFields(requested);
    return managers.size > 0 ? managers : fromLive();
  } catch {
    return fromLive();
  }
}

/**
 * Writes managedFields; when nothing but managedFields timestamps would change, keeps the previous entries so the
 * write is a no-op (upstream IgnoreManagedFieldsTimestampsTransformer). Without `previous`, no such check.
 */
function setManagedFields(obj: KubeObject, managers: Managers, previous: KubeObject | undefined): void {
  const entries = encodeManagedFields(managers);
  if (entries.length > 0) obj.metadata.managedFields = entries;
  else delete obj.metadata.managedFields;
  if (!previous) return;
  const before = previous.metadata.managedFields ?? [];
  const withoutTime = (list: ManagedFieldsEntry[]): ManagedFieldsEntry[] => list.map(({ time: _time, ...rest }) => rest);
  if (
    before.length === entries.length &&
    deepEqual(withoutTime(before), withoutTime(entries)) &&
    deepEqual(withoutManagedFields(previous), withoutManagedFields(obj))
  ) {
    obj.metadata.managedFields = deepClone(before);
  }
}
