// storage.k8s.io/v1 StorageClass: pkg/apis/storage/validation ValidateStorageClass{,Update} and SetDefaults_StorageClass.
import type { KubeObject } from '../types.ts';
import { type FieldError, child, duplicate, forbidden, index, invalid, notSupported, required, tooLong } from '../field-errors.ts';
import type { KindRules } from './rules.ts';
import { validateClassName, validateTopologySelectorTerm } from './common.ts';
import { validateImmutableField, validateObjectMeta, validateObjectMetaUpdate, validateQualifiedName } from './meta.ts';
import { arr, obj, semanticEqual, str } from './util.ts';

const maxProvisionerParameterSize = 256 * (1 << 10);
const maxProvisionerParameterLen = 512;
const supportedReclaimPolicy = ['Delete', 'Retain'];
const supportedVolumeBindingModes = ['Immediate', 'WaitForFirstConsumer'];

function validateProvisioner(provisioner: string, path: string): FieldError[] {
  if (provisioner.length === 0) return [required(path, provisioner)];
  return validateQualifiedName(provisioner.toLowerCase(), path);
}

function validateParameters(params: unknown, path: string): FieldError[] {
  const entries = Object.entries(obj(params));
  if (entries.length > maxProvisionerParameterLen) {
    return [tooLong(path, 'Provisioner Parameters exceeded max allowed', maxProvisionerParameterLen)];
  }
  const errs: FieldError[] = [];
  let totalSize = 0;
  for (const [k, v] of entries) {
    if (k.length < 1) errs.push(invalid(path, k, 'field can not be empty.'));
    totalSize += Buffer.byteLength(k) + Buffer.byteLength(str(v));
  }
  if (totalSize > maxProvisionerParameterSize) errs.push(tooLong(path, '', maxProvisionerParameterSize));
  return errs;
}

function validateAllowedTopologies(topologies: unknown, path: string): FieldError[] {
  const terms = arr(topologies);
  const errs: FieldError[] = [];
  // Upstream seeds its list with one empty entry per term, so an empty term always counts as a duplicate.
  const seen: Array<Map<string, Set<string>>> = terms.map(() => new Map());
  terms.forEach((term, i) => {
    const { exprs, errs: termErrs } = validateTopologySelectorTerm(term, index(path, i));
    errs.push(...termErrs);
    const asObject = (m: Map<string, Set<string>>) => Object.fromEntries([...m].map(([k, v]) => [k, [...v].sort()]));
    for (const other of seen) {
      if (semanticEqual(asObject(exprs), asObject(other))) errs.push(duplicate(child(index(path, i), 'matchLabelExpressions'), ''));
    }
    seen.push(exprs);
  });
  return errs;
}

function validateCreate(sc: KubeObject): FieldError[] {
  const errs = validateObjectMeta(sc.metadata, { namespaced: false, nameFn: validateClassName, kubeFinalizers: true });
  errs.push(...validateProvisioner(str(sc.provisioner), 'provisioner'));
  errs.push(...validateParameters(sc.parameters, 'parameters'));
  const reclaimPolicy = str(sc.reclaimPolicy);
  if (reclaimPolicy.length > 0 && !supportedReclaimPolicy.includes(reclaimPolicy)) {
    errs.push(notSupported('reclaimPolicy', reclaimPolicy, supportedReclaimPolicy));
  }
  if (sc.volumeBindingMode === undefined || sc.volumeBindingMode === null) errs.push(required('volumeBindingMode'));
  else if (!supportedVolumeBindingModes.includes(str(sc.volumeBindingMode))) {
    errs.push(notSupported('volumeBindingMode', str(sc.volumeBindingMode), supportedVolumeBindingModes));
  }
  errs.push(...validateAllowedTopologies(sc.allowedTopologies, 'allowedTopologies'));
  return errs;
}

function validateUpdate(sc: KubeObject, old: KubeObject): FieldError[] {
  const errs = [...validateCreate(sc), ...validateObjectMetaUpdate(sc.metadata, old.metadata, true)];
  if (!semanticEqual(sc.parameters, old.parameters)) errs.push(forbidden('parameters', 'updates to parameters are forbidden.'));
  if (str(sc.provisioner) !== str(old.provisioner)) errs.push(forbidden('provisioner', 'updates to provisioner are forbidden.'));
  if (str(sc.reclaimPolicy) !== str(old.reclaimPolicy)) errs.push(forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
  errs.push(...validateImmutableField(sc.volumeBindingMode, old.volumeBindingMode, 'volumeBindingMode'));
  return errs;
}

function applyDefaults(sc: KubeObject): void {
  if (!sc.reclaimPolicy) sc.reclaimPolicy = 'Delete';
  if (!sc.volumeBindingMode) sc.volumeBindingMode = 'Immediate';
}

export const storageClassRules: KindRules = {
  namespaced: false,
  schema: 'V1StorageClass',
  applyDefaults,
  validateCreate,
  validateUpdate,
};
