// ObjectMeta rules: apimachinery/pkg/api/validation/objectmeta.go, plus the finalizer-name rule core adds on top.
import type { ObjectMeta } from '../types.ts';
import { type FieldError, child, forbidden, index, invalid, required, tooLong } from '../field-errors.ts';
import { isQualifiedName, nameIsDNSLabel, type NameValidator } from '../names.ts';
import { validateLabelKey, validateLabelValue } from '../labels.ts';
import { arr, goTime, isObject, obj, semanticEqual, str, strMap } from './util.ts';


export const fieldImmutableErrorMsg = 'field is immutable';
const totalAnnotationSizeLimitB = 256 * (1 << 10);
const standardFinalizers = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

export interface MetaOptions {
  namespaced: boolean;
  nameFn: NameValidator;
  // Core and storage kinds also reject unqualified finalizer names that are not standard ones.
  kubeFinalizers: boolean;
}

export function validateLabels(labels: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(strMap(labels))) {
    errs.push(...validateLabelName(k, path));
    for (const msg of validateLabelValue(v)) errs.push(invalid(path, v, msg));
  }
  return errs;
}

export function validateLabelName(name: string, path: string): FieldError[] {
  return validateLabelKey(name).map((msg) => invalid(path, name, msg));
}

export function validateQualifiedName(value: string, path: string): FieldError[] {
  return isQualifiedName(value).map((msg) => invalid(path, value, msg));
}

export function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  let totalSize = 0;
  for (const [k, v] of Object.entries(strMap(annotations))) {
    // Annotation keys are qualified names, but case does not matter.
    for (const msg of isQualifiedName(k.toLowerCase())) errs.push(invalid(path, k, msg));
    totalSize += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (totalSize > totalAnnotationSizeLimitB) errs.push(tooLong(path, '', totalAnnotationSizeLimitB));
  return errs;
}

export function validateNonnegativeField(value: number, path: string): FieldError[] {
  return value < 0 ? [invalid(path, value, 'must be greater than or equal to 0')] : [];
}

function validateOwnerReferences(refs: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  let firstController = '';
  for (const raw of arr(refs)) {
    const ref = obj(raw);
    const apiVersion = str(ref.apiVersion);
    const kind = str(ref.kind);
    const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
    if (version.length === 0) errs.push(invalid(child(path, 'apiVersion'), apiVersion, 'version must not be empty'));
    if (kind.length === 0) errs.push(invalid(child(path, 'kind'), kind, 'must not be empty'));
    if (str(ref.name).length === 0) errs.push(invalid(child(path, 'name'), str(ref.name), 'must not be empty'));
    if (str(ref.uid).length === 0) errs.push(invalid(child(path, 'uid'), str(ref.uid), 'must not be empty'));
    if (apiVersion === 'v1' && kind === 'Event') errs.push(invalid(path, ref, '/v1, Kind=Event is disallowed from being an owner'));
    if (ref.controller === true) {
      const current = `${kind}/${str(ref.name)}`;
      if (firstController !== '') {
        errs.push(
          invalid(path, refs, `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`),
        );
      } else {
        firstController = current;
      }
    }
  }
  return errs;
}

function validateFinalizers(finalizers: string[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of finalizers) errs.push(...validateQualifiedName(f, path));
  if (finalizers.includes('orphan') && finalizers.includes('foregroundDeletion')) {
    errs.push(invalid(path, finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return errs;
}

export function validateKubeFinalizerName(name: string, path: string): FieldError[] {
  if (!name.includes('/') && !standardFinalizers.has(name)) {
    return [invalid(path, name, 'name is neither a standard finalizer name nor is it fully qualified')];
  }
  return [];
}

function validateManagedFields(entries: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  arr(entries).forEach((raw, i) => {
    const entry = obj(raw);
    const p = index(path, i);
    if (entry.operation !== 'Apply' && entry.operation !== 'Update') {
      errs.push(invalid(child(p, 'operation'), str(entry.operation), 'must be `Apply` or `Update`'));
    }
    const fieldsType = str(entry.fieldsType);
    if (fieldsType.length > 0 && fieldsType !== 'FieldsV1') {
      errs.push(invalid(child(p, 'fieldsType'), fieldsType, 'must be `FieldsV1`'));
    }
  });
  return errs;
}

function finalizersOf(meta: ObjectMeta): string[] {
  return arr(meta.finalizers).map(str);
}

function kubeFinalizerErrors(meta: ObjectMeta, path: string): FieldError[] {
  return finalizersOf(meta).flatMap((f, i) => validateKubeFinalizerName(f, index(child(path, 'finalizers'), i)));
}

export function validateObjectMeta(metaValue: unknown, opts: MetaOptions, path = 'metadata'): FieldError[] {
  const meta = obj(metaValue) as ObjectMeta;
  const errs: FieldError[] = [];
  const generateName = str(meta.generateName);
  const name = str(meta.name);
  if (generateName.length > 0) {
    for (const msg of opts.nameFn(generateName, true)) errs.push(invalid(child(path, 'generateName'), generateName, msg));
  }
  if (name.length === 0) errs.push(required(child(path, 'name'), 'name or generateName is required'));
  else for (const msg of opts.nameFn(name, false)) errs.push(invalid(child(path, 'name'), name, msg));

  const namespace = str(meta.namespace);
  if (opts.namespaced) {
    if (namespace.length === 0) errs.push(required(child(path, 'namespace')));
    else for (const msg of nameIsDNSLabel(namespace, false)) errs.push(invalid(child(path, 'namespace'), namespace, msg));
  } else if (namespace.length > 0) {
    errs.push(forbidden(child(path, 'namespace'), 'not allowed on this type'));
  }
  if (typeof meta.generation === 'number') errs.push(...validateNonnegativeField(meta.generation, child(path, 'generation')));
  errs.push(...validateLabels(meta.labels, child(path, 'labels')));
  errs.push(...validateAnnotations(meta.annotations, child(path, 'annotations')));
  errs.push(...validateOwnerReferences(meta.ownerReferences, child(path, 'ownerReferences')));
  errs.push(...validateFinalizers(finalizersOf(meta), child(path, 'finalizers')));
  errs.push(...validateManagedFields(meta.managedFields, child(path, 'managedFields')));
  if (opts.kubeFinalizers) errs.push(...kubeFinalizerErrors(meta, path));
  return errs;
}

export function validateImmutableField(newValue: unknown, oldValue: unknown, path: string): FieldError[] {
  return semanticEqual(newValue, oldValue) ? [] : [invalid(path, newValue ?? null, fieldImmutableErrorMsg)];
}

export function validateObjectMetaUpdate(newValue: unknown, oldValue: unknown, kubeFinalizers: boolean, path = 'metadata'): FieldError[] {
  const newMeta = obj(newValue) as ObjectMeta;
  const oldMeta = obj(oldValue) as ObjectMeta;
  const errs: FieldError[] = [];
  if (oldMeta.deletionTimestamp) {
    const oldFinalizers = new Set(finalizersOf(oldMeta));
    const extra = [...new Set(finalizersOf(newMeta).filter((f) => !oldFinalizers.has(f)))].sort();
    if (extra.length > 0) {
      errs.push(
        forbidden(
          child(path, 'finalizers'),
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${extra.map((f) => JSON.stringify(f)).join(', ')}}`,
        ),
      );
    }
  }
  if (str(newMeta.resourceVersion).length === 0) {
    errs.push(invalid(child(path, 'resourceVersion'), '', 'must be specified for an update'));
  }
  if ((newMeta.generation ?? 0) < (oldMeta.generation ?? 0)) {
    errs.push(invalid(child(path, 'generation'), newMeta.generation ?? 0, 'must not be decremented'));
  }
  const same = (a: unknown, b: unknown) => (a ?? '') === (b ?? '');
  const immutable = (field: keyof ObjectMeta, render: (v: unknown) => unknown) => {
    if (!same(newMeta[field], oldMeta[field])) errs.push(invalid(child(path, field), render(newMeta[field]), fieldImmutableErrorMsg));
  };
  immutable('name', (v) => str(v));
  immutable('namespace', (v) => str(v));
  immutable('uid', (v) => str(v));
  immutable('creationTimestamp', (v) => goTime(typeof v === 'string' ? v : undefined));
  immutable('deletionTimestamp', (v) => (typeof v === 'string' ? goTime(v) : null));
  immutable('deletionGracePeriodSeconds', (v) => (typeof v === 'number' ? v : null));
  errs.push(...validateLabels(newMeta.labels, child(path, 'labels')));
  errs.push(...validateAnnotations(newMeta.annotations, child(path, 'annotations')));
  errs.push(...validateOwnerReferences(newMeta.ownerReferences, child(path, 'ownerReferences')));
  errs.push(...validateManagedFields(newMeta.managedFields, child(path, 'managedFields')));
  if (kubeFinalizers) errs.push(...kubeFinalizerErrors(newMeta, path));
  return errs;
}

export function metadataOf(o: unknown): ObjectMeta {
  const m = isObject(o) ? o.metadata : undefined;
  return obj(m) as ObjectMeta;
}
