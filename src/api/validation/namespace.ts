// core/v1 Namespace: ValidateNamespace{,Update,StatusUpdate}, SetDefaults_Namespace{,Status} and the strategy's
// PrepareForCreate (status Active, the `kubernetes` finalizer in spec.finalizers).
import type { KubeObject } from '../types.ts';
import { type FieldError, child, invalid } from '../field-errors.ts';
import { nameIsDNSLabel } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateKubeFinalizerName, validateObjectMeta, validateObjectMetaUpdate, validateQualifiedName } from './meta.ts';
import { arr, isObject, obj, str } from './util.ts';

const metadataNameLabel = 'kubernetes.io/metadata.name';

function validateCreate(ns: KubeObject): FieldError[] {
  const errs = validateObjectMeta(ns.metadata, { namespaced: false, nameFn: nameIsDNSLabel, kubeFinalizers: true });
  const finalizersPath = child('spec', 'finalizers');
  for (const f of arr(obj(ns.spec).finalizers).map(str)) {
    errs.push(...validateQualifiedName(f, finalizersPath), ...validateKubeFinalizerName(f, finalizersPath));
  }
  return errs;
}

function validateUpdate(ns: KubeObject, old: KubeObject): FieldError[] {
  // spec and status of a namespace change only through /finalize and /status; the strategy restores them.
  return validateObjectMetaUpdate(ns.metadata, old.metadata, true);
}

function validateStatusUpdate(ns: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateObjectMetaUpdate(ns.metadata, old.metadata, true);
  const phase = str(obj(ns.status).phase);
  if (!ns.metadata?.deletionTimestamp) {
    if (phase !== 'Active') errs.push(invalid('status.Phase', phase, "may only be 'Active' if `deletionTimestamp` is empty"));
  } else if (phase !== 'Terminating') {
    errs.push(invalid('status.Phase', phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"));
  }
  return errs;
}

function applyDefaults(ns: KubeObject): void {
  const name = str(ns.metadata?.name);
  if (name.length > 0) {
    ns.metadata.labels = { ...(ns.metadata.labels ?? {}), [metadataNameLabel]: name };
  }
  const status = isObject(ns.status) ? ns.status : (ns.status = {});
  if (!status.phase) status.phase = 'Active';
}

function prepareForCreate(ns: KubeObject): void {
  ns.status = { phase: 'Active' };
  const spec = isObject(ns.spec) ? ns.spec : (ns.spec = {});
  const finalizers = arr(spec.finalizers).map(str);
  if (!finalizers.includes('kubernetes')) spec.finalizers = [...finalizers, 'kubernetes'];
}

export const namespaceRules: KindRules = {
  namespaced: false,
  schema: 'V1Namespace',
  applyDefaults,
  prepareForCreate,
  validateCreate,
  validateUpdate,
  validateStatusUpdate,
};
