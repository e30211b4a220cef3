// The REST verbs over the watch cache and the store: get, list, create, update, patch, delete, deletecollection
// and the pods/binding subresource. HTTP-agnostic: http.ts parses requests into these calls and renders results.
import { randomUUID } from 'node:crypto';
import type { KubeObject, Pod } from '../api/types.ts';
import { applyDefaults, decodeErrorFor, unknownFields, validateCreate, validateStatusUpdate, validateUpdate } from '../api/validation/index.ts';
import { fieldErrorBody, fieldErrorMessage } from '../api/field-errors.ts';
import type { FieldError } from '../api/field-errors.ts';
import { cloneJSON } from '../api/json.ts';
import { metaTime } from '../api/time.ts';
import type { Store } from '../store/types.ts';
import { KeyExistsError, KeyNotFoundError, RevisionConflictError } from '../store/errors.ts';
import type { Admission } from './admission.ts';
import { ApiError, OBJECT_MODIFIED, alreadyExists, badRequest, conflict, fromPatchError, invalid, notFound } from './errors.ts';
import { ApplyConflictError, PatchError } from './patch/errors.ts';
import {
  applyJsonPatch, applyMergePatch, applyStrategicMergePatch, recordUpdate, serverSideApply, supportsStrategicMerge, unsupportedPatchMediaType,
} from './patch/index.ts';
import type { PatchType } from './patch/index.ts';
import type { ResourceDef } from './resources.ts';
import { apiVersionOf, findResource, gvkOf, objectKey } from './resources.ts';
import {
  gracePeriodSeconds, prepareForCreate, prepareForStatusUpdate, prepareForUpdate, preserveSystemMetadata, semanticallyEqual,
} from './strategy.ts';
import type { CachedObject, WatchCache } from './watch-cache.ts';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  dryRun: boolean;
  fieldManager: string;
  fieldValidation: FieldValidation;
  /** Warnings to return in Warning headers (filled in by the verbs). */
  warnings: string[];
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  dryRun: boolean;
}

export interface DeleteResult {
  /** The object as it now is (with deletionTimestamp) when it stays for finalizers or graceful deletion (as it would be, for a dry run). */
  remaining?: CachedObject | KubeObject;
  /** The last state when it was removed. */
  removed?: KubeObject;
}

const GENERATE_NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_CONFLICT_RETRIES = 8;

function randomSuffix(n = 5): string {
  let s = '';
  for (let i = 0; i < n; i++) s += GENERATE_NAME_CHARS[Math.floor(Math.random() * GENERATE_NAME_CHARS.length)];
  return s;
}

function fieldErrorsToInvalid(r: ResourceDef, name: string, errs: FieldError[]): ApiError {
  return invalid(
    r,
    name,
    errs.map((e) => ({ reason: e.type, text: fieldErrorMessage(e), message: fieldErrorBody(e), field: e.field })),
  );
}

/** Removes the fields at the given paths (`spec.foo`, `spec.containers[0].bar`). */
function pruneFields(obj: unknown, paths: string[]): void {
  for (const path of paths) {
    const parts = path.match(/[^.[\]]+/g) ?? [];
    let cur: unknown = obj;
    for (let i = 0; i < parts.length - 1 && cur && typeof cur === 'object'; i++) {
      cur = (cur as Record<string, unknown>)[parts[i]];
    }
    if (cur && typeof cur === 'object') delete (cur as Record<string, unknown>)[parts[parts.length - 1]];
  }
}

function serialize(obj: KubeObject): string {
  const rv = obj.metadata.resourceVersion;
  delete obj.metadata.resourceVersion;
  const s = JSON.stringify(obj);
  if (rv !== undefined) obj.metadata.resourceVersion = rv;
  return s;
}

export class Rest {
  private readonly store: Store;
  private readonly cache: WatchCache;
  private readonly admission: Admission;

  constructor(store: Store, cache: WatchCache, admission: Admission) {
    this.store = store;
    this.cache = cache;
    this.admission = admission;
  }

  /**
   * After a store conflict the cache may not yet show the write that won (it lands when that write's batch
   * commits, at the end of the event-loop turn): wait until it does before reading again, so the retry works on
   * the winner's state instead of spinning on the stale one.
   */
  private async catchUp(e: RevisionConflictError): Promise<void> {
    await this.cache.waitForRevision(e.currentModRevision, 2000);
  }

  get(r: ResourceDef, ns: string | undefined, name: string): CachedObject {
    const c = this.cache.get(r, objectKey(r, ns, name));
    if (!c) throw notFound(r, name);
    return c;
  }

  tryGet(r: ResourceDef, ns: string | undefined, name: string): CachedObject | undefined {
    return this.cache.get(r, objectKey(r, ns, name));
  }

  /** Checks the body's kind/apiVersion/name/namespace against the request, as the upstream decoder and handlers do. */
  private checkIdentity(r: ResourceDef, obj: KubeObject, ns: string | undefined, urlName: string | undefined): void {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw badRequest('the body of the request must be a JSON or YAML object');
    // As upstream's decoder: a body without kind/apiVersion takes them from the endpoint it was sent to.
    obj.kind ??= r.kind;
    obj.apiVersion ??= apiVersionOf(r);
    if (obj.kind !== r.kind || obj.apiVersion !== apiVersionOf(r)) {
      throw badRequest(`the object provided is unrecognized (must be of type ${r.kind}): ${obj.apiVersion ?? ''}, Kind=${obj.kind} in version "${apiVersionOf(r)}" cannot be handled as a ${r.kind}`);
    }
    const decodeErr = decodeErrorFor(gvkOf(r), obj);
    if (decodeErr) throw badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${decodeErr}`);
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    const m = obj.metadata;
    if (r.namespaced) {
      if (m.namespace && ns && m.namespace !== ns) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      if (ns) m.namespace = ns;
    } else {
      delete m.namespace;
    }
    if (urlName !== undefined && m.name !== urlName) {
      if (!m.name) m.name = urlName;
      else throw badRequest(`the name of the object (${m.name}) does not match the name on the URL (${urlName})`);
    }
  }

  private checkUnknownFields(r: ResourceDef, obj: KubeObject, opts: WriteOptions): void {
    const unknown = unknownFields(gvkOf(r), obj);
    if (unknown.length === 0) return;
    if (opts.fieldValidation === 'Strict') {
      throw badRequest(`strict decoding error: ${unknown.map((p) => `unknown field "${p}"`).join(', ')}`);
    }
    if (opts.fieldValidation === 'Warn') for (const p of unknown) opts.warnings.push(`unknown field "${p}"`);
    pruneFields(obj, unknown);
  }

  async create(r: ResourceDef, ns: string | undefined, body: KubeObject, opts: WriteOptions, fromApply = false): Promise<CachedObject | KubeObject> {
    this.checkIdentity(r, body, ns, undefined);
    this.checkUnknownFields(r, body, opts);
    const obj = body;
    const m = obj.metadata;
    const generated = !m.name && !!m.generateName;
    if (generated) m.name = `${m.generateName}${randomSuffix()}`;
    this.admission.checkNamespace(r, m.namespace, m.name ?? '', 'create');
    const now = metaTime();
    applyDefaults(gvkOf(r), obj);
    prepareForCreate(r, obj);
    this.admission.mutateCreate(r, obj);
    const errs = validateCreate(gvkOf(r), obj);
    if (errs.length) throw fieldErrorsToInvalid(r, m.name ?? '', errs);
    m.uid = randomUUID();
    m.creationTimestamp = now;
    delete m.resourceVersion;
    if (!fromApply) recordUpdate(undefined, obj, { manager: opts.fieldManager, gvk: gvkOf(r), now });
    if (opts.dryRun) {
      if (this.tryGet(r, m.namespace, m.name!)) throw alreadyExists(r, m.name!);
      return obj;
    }
    for (let attempt = 0; ; attempt++) {
      const key = objectKey(r, m.namespace, m.name!);
      try {
        await this.put(key, obj);
        return this.cache.get(r, key)!;
      } catch (e) {
        if (e instanceof KeyExistsError) {
          if (generated && attempt < 3) {
            m.name = `${m.generateName}${randomSuffix()}`;
            continue;
          }
          throw alreadyExists(r, m.name!);
        }
        throw e;
      }
    }
  }

  /** Stores obj: a create without `rev`, else an update of that revision. */
  private put(key: string, obj: KubeObject, rev?: number): Promise<number> {
    const value = serialize(obj);
    return rev === undefined ? this.store.create(key, value) : this.store.update(key, value, rev);
  }

  /**
   * Read-modify-write with optimistic concurrency: `mutate` gets a private copy of the current object and returns
   * the desired one (or throws). Retries on store conflicts unless the caller pinned a resourceVersion.
   */
  private async guaranteedUpdate(
    r: ResourceDef,
    ns: string | undefined,
    name: string,
    opts: WriteOptions,
    mutate: (current: () => KubeObject | undefined) => { next: KubeObject; subresource?: 'status'; pinnedRV?: string; create?: boolean },
  ): Promise<{ result: CachedObject | KubeObject; created: boolean }> {
    const key = objectKey(r, ns, name);
    for (let attempt = 0; ; attempt++) {
      const cur = this.cache.get(r, key);
      // cur.obj decodes a private copy each time: one for mutate to change (if it reads it: a PUT does not), one as the
      // unchanged old state.
      const { next, subresource, pinnedRV, create } = mutate(() => cur?.obj);
      if (!cur) {
        if (!create) throw notFound(r, name);
        return { result: await this.create(r, ns, next, opts, true), created: true };
      }
      if (pinnedRV !== undefined && pinnedRV !== '' && pinnedRV !== String(cur.rev)) throw conflict(r, name, OBJECT_MODIFIED);
      const old = cur.obj;
      const now = metaTime();
      let desired: KubeObject;
      if (subresource === 'status') {
        desired = prepareForStatusUpdate(next, old);
      } else {
        desired = next;
        preserveSystemMetadata(desired, old);
        prepareForUpdate(r, desired, old);
      }
      recordUpdate(old, desired, { manager: opts.fieldManager, gvk: gvkOf(r), now, subresource });
      const errs = subresource === 'status' ? validateStatusUpdate(gvkOf(r), desired, old) : validateUpdate(gvkOf(r), desired, old);
      if (errs.length) throw fieldErrorsToInvalid(r, name, errs);
      desired.metadata.resourceVersion = String(cur.rev);
      if (semanticallyEqual(desired, old)) return { result: cur, created: false };
      if (opts.dryRun) return { result: desired, created: false };
      const finalizersGone = !!desired.metadata.deletionTimestamp && !(desired.metadata.finalizers?.length) &&
        !((desired.spec as { finalizers?: string[] } | undefined)?.finalizers?.length && r.kind === 'Namespace');
      try {
        if (finalizersGone && !this.awaitingGracefulDeletion(r, desired)) {
          // Removing the last finalizer of an object being deleted deletes it.
          await this.put(key, desired, cur.rev);
          const updated = this.cache.get(r, key)!;
          await this.store.delete(key, updated.rev).catch((e) => {
            if (!(e instanceof KeyNotFoundError || e instanceof RevisionConflictError)) throw e;
          });
          return { result: updated, created: false };
        }
        await this.put(key, desired, cur.rev);
        return { result: this.cache.get(r, key)!, created: false };
      } catch (e) {
        if (e instanceof RevisionConflictError) {
          if (pinnedRV || attempt >= MAX_CONFLICT_RETRIES) throw conflict(r, name, OBJECT_MODIFIED);
          await this.catchUp(e);
          continue;
        }
        if (e instanceof KeyNotFoundError) throw notFound(r, name);
        throw e;
      }
    }
  }

  /** Pods with a deletionTimestamp in the future wait for their node even when finalizers are gone. */
  private awaitingGracefulDeletion(r: ResourceDef, obj: KubeObject): boolean {
    return r.kind === 'Pod' && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  async update(r: ResourceDef, ns: string | undefined, name: string, body: KubeObject, opts: WriteOptions, subresource?: 'status') {
    this.checkIdentity(r, body, ns, name);
    this.checkUnknownFields(r, body, opts);
    applyDefaults(gvkOf(r), body);
    const pinnedRV = body.metadata.resourceVersion;
    // A pinned resourceVersion means one attempt (a conflict is the client's to resolve): the body itself can be the
    // object to write. Otherwise each attempt starts from a copy, as the last one changed its own.
    return this.guaranteedUpdate(r, ns, name, opts, () => ({ next: pinnedRV ? body : cloneJSON(body), subresource, pinnedRV, create: false }));
  }

  async patch(
    r: ResourceDef, ns: string | undefined, name: string, type: PatchType, patch: unknown, opts: WriteOptions & { force: boolean },
    subresource?: 'status',
  ) {
    if (type === 'strategic' && !supportsStrategicMerge(gvkOf(r))) {
      throw fromPatchError(unsupportedPatchMediaType(gvkOf(r)));
    }
    if (type === 'apply') {
      const applied = patch as KubeObject;
      this.checkIdentity(r, applied, ns, name);
      this.checkUnknownFields(r, applied, opts);
    }
    return this.guaranteedUpdate(r, ns, name, opts, (readCurrent) => {
      const current = readCurrent();
      try {
        let next: KubeObject;
        switch (type) {
          case 'json':
            if (!current) throw notFound(r, name);
            next = applyJsonPatch(current, patch) as KubeObject;
            break;
          case 'merge':
            if (!current) throw notFound(r, name);
            next = applyMergePatch(current, patch) as KubeObject;
            break;
          case 'strategic':
            if (!current) throw notFound(r, name);
            next = applyStrategicMergePatch(current, patch, gvkOf(r)) as KubeObject;
            break;
          case 'apply': {
            const applied = cloneJSON(patch as KubeObject);
            if (!current) {
              const created = serverSideApply(undefined, applied, { manager: opts.fieldManager, force: opts.force, gvk: gvkOf(r), now: metaTime(), subresource });
              return { next: created, create: true };
            }
            next = serverSideApply(current, applied, { manager: opts.fieldManager, force: opts.force, gvk: gvkOf(r), now: metaTime(), subresource });
            break;
          }
        }
        if (!next || typeof next !== 'object' || Array.isArray(next)) throw badRequest('the patch did not produce an object');
        next.metadata ??= {};
        if (type !== 'apply') {
          this.checkIdentity(r, next, ns, name);
          this.checkUnknownFields(r, next, opts);
        }
        applyDefaults(gvkOf(r), next);
        const pinnedRV = next.metadata.resourceVersion !== current?.metadata.resourceVersion ? next.metadata.resourceVersion : undefined;
        return { next, subresource, pinnedRV };
      } catch (e) {
        if (e instanceof ApplyConflictError) throw new ApiError(409, 'Conflict', e.message, { causes: e.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}"`, field: c.field })) });
        if (e instanceof PatchError) throw fromPatchError(e);
        throw e;
      }
    });
  }

  async delete(r: ResourceDef, ns: string | undefined, name: string, opts: DeleteOptions): Promise<DeleteResult> {
    this.admission.checkDelete(r, name);
    const key = objectKey(r, ns, name);
    for (let attempt = 0; ; attempt++) {
      const cur = this.cache.get(r, key);
      if (!cur) throw notFound(r, name);
      const obj = cur.obj;
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== obj.metadata.uid) {
        throw conflict(r, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== String(cur.rev)) {
        throw conflict(r, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.rev}`);
      }
      const grace = gracePeriodSeconds(r, obj, opts.gracePeriodSeconds);
      const hasFinalizers = (obj.metadata.finalizers?.length ?? 0) > 0 || r.kind === 'Namespace';
      try {
        if (grace > 0 || hasFinalizers) {
          const m = obj.metadata;
          const now = new Date();
          if (!m.deletionTimestamp) {
            m.deletionTimestamp = metaTime(now.getTime() + grace * 1000);
            m.deletionGracePeriodSeconds = grace;
            if (r.kind === 'Namespace') obj.status = { ...(obj.status as object), phase: 'Terminating' };
          } else if (grace < (m.deletionGracePeriodSeconds ?? 0)) {
            // A shorter grace period may replace a longer one.
            m.deletionTimestamp = metaTime(now.getTime() + grace * 1000);
            m.deletionGracePeriodSeconds = grace;
          } else {
            return { remaining: cur };
          }
          if (opts.dryRun) return { remaining: obj };
          if (grace === 0 && !hasFinalizers) {
            await this.store.delete(key, cur.rev);
            return { removed: obj };
          }
          await this.put(key, obj, cur.rev);
          return { remaining: this.cache.get(r, key)! };
        }
        if (opts.dryRun) return { removed: obj };
        await this.store.delete(key, cur.rev);
        return { removed: obj };
      } catch (e) {
        if (e instanceof RevisionConflictError && attempt < MAX_CONFLICT_RETRIES) {
          await this.catchUp(e);
          continue;
        }
        if (e instanceof KeyNotFoundError) throw notFound(r, name);
        throw e;
      }
    }
  }

  /**
   * namespaces/finalize: drops one spec finalizer of a terminating namespace; with none left (and no metadata
   * finalizers) the namespace is removed.
   */
  async finalizeNamespace(name: string, finalizer: string): Promise<void> {
    const r = findResource('', 'v1', 'namespaces')!;
    const key = objectKey(r, undefined, name);
    for (let attempt = 0; ; attempt++) {
      const cur = this.cache.get(r, key);
      const ns = cur?.obj;
      if (!cur || !ns?.metadata.deletionTimestamp) return;
      const spec = (ns.spec ?? {}) as { finalizers?: string[] };
      spec.finalizers = (spec.finalizers ?? []).filter((f) => f !== finalizer);
      ns.spec = spec;
      try {
        if (spec.finalizers.length === 0 && !(ns.metadata.finalizers?.length)) await this.store.delete(key, cur.rev);
        else await this.put(key, ns, cur.rev);
        return;
      } catch (e) {
        if (e instanceof RevisionConflictError && attempt < MAX_CONFLICT_RETRIES) {
          await this.catchUp(e);
          continue;
        }
        if (e instanceof KeyNotFoundError) return;
        throw e;
      }
    }
  }

  /** pods/binding: assigns the pod to a node, once (upstream assignPod). */
  async bind(r: ResourceDef, ns: string, name: string, binding: KubeObject, opts: WriteOptions): Promise<void> {
    const target = binding?.target as { kind?: string; name?: string } | undefined;
    if (!target?.name) {
      throw invalid(r, name, [{ reason: 'FieldValueRequired', text: 'target.name: Required value', message: 'Required value', field: 'target.name' }]);
    }
    if (target.kind && target.kind !== 'Node') {
      throw invalid(r, name, [{ reason: 'FieldValueNotSupported', text: `target.kind: Unsupported value: "${target.kind}": supported values: "Node"`, message: `Unsupported value: "${target.kind}": supported values: "Node"`, field: 'target.kind' }]);
    }
    const key = objectKey(r, ns, name);
    for (let attempt = 0; ; attempt++) {
      const cur = this.cache.get(r, key);
      if (!cur) throw notFound(r, name);
      const pod = cur.obj as Pod;
      const old = cur.obj;
      if (pod.metadata.deletionTimestamp) throw conflict({ ...r, plural: 'pods/binding' }, name, `pod ${name} is being deleted, cannot be assigned to a host`);
      if (pod.spec.nodeName) throw conflict({ ...r, plural: 'pods/binding' }, name, `pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
      pod.spec.nodeName = target.name;
      const now = metaTime();
      const conditions = ((pod.status ??= {}).conditions ??= []);
      const i = conditions.findIndex((c) => c.type === 'PodScheduled');
      const cond = { type: 'PodScheduled', status: 'True' as const, lastProbeTime: null, lastTransitionTime: now };
      if (i >= 0) conditions[i] = cond;
      else conditions.push(cond);
      recordUpdate(old, pod, { manager: opts.fieldManager, gvk: gvkOf(r), now, subresource: 'binding' });
      if (opts.dryRun) return;
      try {
        await this.put(key, pod, cur.rev);
        return;
      } catch (e) {
        if (e instanceof RevisionConflictError && attempt < MAX_CONFLICT_RETRIES) {
          await this.catchUp(e);
          continue;
        }
        throw e;
      }
    }
  }
}
