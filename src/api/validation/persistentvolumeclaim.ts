// core/v1 PersistentVolumeClaim: ValidatePersistentVolumeClaim{,Update,StatusUpdate} and SetDefaults_PersistentVolumeClaim.
import type { KubeObject, PersistentVolumeClaim } from '../types.ts';
import { type FieldError, child, forbidden, invalid, key, notSupported, required } from '../field-errors.ts';
import { isDNS1123Subdomain, nameIsDNSLabel, nameIsDNSSubdomain } from '../names.ts';
import { compareQuantity, tryParseQuantity } from '../quantity.ts';
import type { KindRules } from './rules.ts';
import { parseQuantityAt, validateClassName, validateLabelSelector, validatePositiveQuantityValue } from './common.ts';
import { validateObjectMeta, validateObjectMetaUpdate, validateImmutableField } from './meta.ts';
import { cloneJSON } from '../json.ts';
import { arr, isObject, obj, semanticEqual, specDiff, str } from './util.ts';

const supportedAccessModes = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
export const supportedVolumeModes = ['Block', 'Filesystem'];
const betaStorageClassAnnotation = 'volume.beta.kubernetes.io/storage-class';

export function validateAccessModes(modes: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  let foundRWOP = false;
  let foundOther = false;
  for (const mode of arr(modes).map(str)) {
    if (!supportedAccessModes.includes(mode)) errs.push(notSupported(path, mode, supportedAccessModes));
    if (mode === 'ReadWriteOncePod') foundRWOP = true;
    else if (supportedAccessModes.includes(mode)) foundOther = true;
  }
  if (foundRWOP && foundOther) errs.push(forbidden(path, 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

function validateDataSource(raw: unknown, path: string, withNamespace: boolean): FieldError[] {
  const ref = obj(raw);
  const errs: FieldError[] = [];
  const kind = str(ref.kind);
  if (str(ref.name).length === 0) errs.push(required(child(path, 'name')));
  if (kind.length === 0) errs.push(required(child(path, 'kind')));
  const apiGroup = str(ref.apiGroup);
  if (apiGroup.length === 0 && kind !== 'PersistentVolumeClaim') {
    errs.push(invalid(path, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
  }
  if (apiGroup.length > 0) for (const msg of isDNS1123Subdomain(apiGroup)) errs.push(invalid(child(path, 'apiGroup'), apiGroup, msg));
  const namespace = str(ref.namespace);
  if (withNamespace && namespace.length > 0) {
    for (const msg of nameIsDNSLabel(namespace, false)) errs.push(invalid(child(path, 'namespace'), namespace, msg));
  }
  return errs;
}

export function validatePersistentVolumeClaimSpec(specValue: unknown, path: string): FieldError[] {
  const spec = obj(specValue);
  const errs: FieldError[] = [];
  if (arr(spec.accessModes).length === 0) errs.push(required(child(path, 'accessModes'), 'at least 1 access mode is required'));
  if (spec.selector !== undefined && spec.selector !== null) errs.push(...validateLabelSelector(spec.selector, child(path, 'selector')));
  errs.push(...validateAccessModes(spec.accessModes, child(path, 'accessModes')));

  const storagePath = key(child(path, 'resources'), 'storage');
  const requests = obj(obj(spec.resources).requests);
  if (!('storage' in requests)) {
    errs.push(required(storagePath));
  } else {
    const { quantity, errs: parseErrs } = parseQuantityAt(requests.storage, storagePath);
    errs.push(...parseErrs);
    if (quantity) errs.push(...validatePositiveQuantityValue(quantity, storagePath));
  }
  const className = str(spec.storageClassName);
  if (className.length > 0) {
    for (const msg of validateClassName(className, false)) errs.push(invalid(child(path, 'storageClassName'), className, msg));
  }
  if (typeof spec.volumeMode === 'string' && !supportedVolumeModes.includes(spec.volumeMode)) {
    errs.push(notSupported(child(path, 'volumeMode'), spec.volumeMode, supportedVolumeModes));
  }
  if (isObject(spec.dataSource)) errs.push(...validateDataSource(spec.dataSource, child(path, 'dataSource'), false));
  if (isObject(spec.dataSourceRef)) errs.push(...validateDataSource(spec.dataSourceRef, child(path, 'dataSourceRef'), true));
  const dataSource = isObject(spec.dataSource) ? spec.dataSource : undefined;
  const dataSourceRef = isObject(spec.dataSourceRef) ? spec.dataSourceRef : undefined;
  // Upstream passes the *field.Path itself as the bad value, which prints as the path string.
  const dataSourcePath = child(path, 'dataSource');
  if (dataSourceRef && str(dataSourceRef.namespace).length > 0) {
    if (dataSource) errs.push(invalid(path, dataSourcePath, 'may not be specified when dataSourceRef.namespace is specified'));
  } else if (dataSource && dataSourceRef) {
    const same =
      (dataSource.apiGroup ?? null) === (dataSourceRef.apiGroup ?? null) &&
      str(dataSource.kind) === str(dataSourceRef.kind) &&
      str(dataSource.name) === str(dataSourceRef.name);
    if (!same) errs.push(invalid(path, dataSourcePath, 'must match dataSourceRef'));
  }
  const vacName = str(spec.volumeAttributesClassName);
  if (vacName.length > 0) {
    for (const msg of validateClassName(vacName, false)) errs.push(invalid(child(path, 'volumeAttributesClassName'), vacName, msg));
  }
  return errs;
}

function validateCreate(pvc: KubeObject): FieldError[] {
  return [
    ...validateObjectMeta(pvc.metadata, { namespaced: true, nameFn: nameIsDNSSubdomain, kubeFinalizers: true }),
    ...validatePersistentVolumeClaimSpec(pvc.spec, 'spec'),
  ];
}

function validateUpdate(newObj: KubeObject, oldObj: KubeObject): FieldError[] {
  const newPvc = newObj as PersistentVolumeClaim;
  const oldPvc = oldObj as PersistentVolumeClaim;
  const errs = [...validateObjectMetaUpdate(newPvc.metadata, oldPvc.metadata, true), ...validateCreate(newPvc)];
  const newSpec = cloneJSON(obj(newPvc.spec));
  const oldSpec = cloneJSON(obj(oldPvc.spec));
  // The PV binder sets volumeName once.
  if (str(oldSpec.volumeName).length === 0) oldSpec.volumeName = newSpec.volumeName;

  const oldAnnotations = obj(oldPvc.metadata?.annotations);
  const newAnnotations = obj(newPvc.metadata?.annotations);
  const oldBeta = oldAnnotations[betaStorageClassAnnotation];
  const newBeta = newAnnotations[betaStorageClassAnnotation];
  const oldClass = oldSpec.storageClassName;
  const newClass = newSpec.storageClassName;
  const upgradeFromAnnotation =
    oldBeta !== undefined &&
    oldClass === undefined &&
    newClass !== undefined &&
    newClass === oldBeta &&
    (newBeta === undefined || newBeta === oldBeta);
  if (upgradeFromAnnotation) {
    delete newSpec.storageClassName;
  } else {
    if ((newBeta ?? '') !== (oldBeta ?? '')) {
      errs.push(invalid(child('metadata', 'annotations', betaStorageClassAnnotation), str(newBeta), 'field is immutable'));
    }
    // Setting a class on a claim that had none (and no conflicting annotation) is allowed.
    if (newClass !== undefined && oldClass === undefined && (oldBeta === undefined || newClass === oldBeta)) {
      delete newSpec.storageClassName;
    }
  }
  // Bound claims may change their storage request (expansion); the size check follows.
  if (newPvc.status?.phase === 'Bound' && isObject(obj(newSpec.resources).requests)) {
    const requests = obj(obj(newSpec.resources).requests);
    const oldStorage = obj(obj(oldPvc.spec?.resources).requests).storage;
    if (oldStorage === undefined) delete requests.storage;
    else requests.storage = oldStorage;
  }
  newSpec.volumeAttributesClassName = oldSpec.volumeAttributesClassName;
  if (newSpec.volumeAttributesClassName === undefined) delete newSpec.volumeAttributesClassName;
  if (!semanticEqual(newSpec, oldSpec)) {
    errs.push(
      forbidden(
        'spec',
        `spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n${specDiff(oldSpec, newSpec).join('\n')}`,
      ),
    );
  }
  const oldSize = tryParseQuantity(obj(oldPvc.spec?.resources?.requests).storage ?? '0');
  const newSize = tryParseQuantity(obj(newPvc.spec?.resources?.requests).storage ?? '0');
  if (oldSize && newSize && compareQuantity(newSize, oldSize) < 0) {
    // RecoverVolumeExpansionFailure (on by default) allows shrinking back to just above status.capacity.
    const statusSize = tryParseQuantity(obj(oldPvc.status?.capacity).storage ?? '0');
    if (statusSize && compareQuantity(newSize, statusSize) <= 0) {
      errs.push(forbidden('spec.resources.requests.storage', 'field can not be less than status.capacity'));
    }
  }
  // Upstream reports this one at "volumeMode", without the spec prefix.
  errs.push(...validateImmutableField(newPvc.spec?.volumeMode, oldPvc.spec?.volumeMode, 'volumeMode'));
  const oldVac = oldPvc.spec?.volumeAttributesClassName;
  const newVac = newPvc.spec?.volumeAttributesClassName;
  if (oldVac !== undefined && oldVac !== newVac) {
    if (newVac === undefined) errs.push(forbidden('spec.volumeAttributesClassName', 'update from non-nil value to nil is forbidden'));
    else if (newVac === '') errs.push(forbidden('spec.volumeAttributesClassName', 'update from non-nil value to an empty string is forbidden'));
  }
  return errs;
}

function validateStatusUpdate(newObj: KubeObject, oldObj: KubeObject): FieldError[] {
  const newPvc = newObj as PersistentVolumeClaim;
  const errs = validateObjectMetaUpdate(newPvc.metadata, oldObj.metadata, true);
  if (str(newPvc.metadata?.resourceVersion).length === 0) errs.push(required('resourceVersion'));
  if (arr(newPvc.spec?.accessModes).length === 0) errs.push(required('Spec.accessModes'));
  for (const [name, raw] of Object.entries(obj(newPvc.status?.capacity))) {
    const p = key('status.capacity', name);
    const { quantity, errs: parseErrs } = parseQuantityAt(raw, p);
    errs.push(...parseErrs);
    if (quantity && quantity.milli < 0n) errs.push(invalid(p, String(raw), 'must be a valid resource quantity'));
  }
  return errs;
}

function applyDefaults(pvc: KubeObject): void {
  const spec = obj(pvc.spec);
  if (isObject(pvc.spec) && spec.volumeMode === undefined) spec.volumeMode = 'Filesystem';
  const status = isObject(pvc.status) ? pvc.status : (pvc.status = {});
  if (!status.phase) status.phase = 'Pending';
}

export const persistentVolumeClaimRules: KindRules = {
  namespaced: true,
  schema: 'V1PersistentVolumeClaim',
  applyDefaults,
  // The strategy drops client-supplied status; defaulting then makes it Pending.
  prepareForCreate(pvc) {
    pvc.status = { phase: 'Pending' };
  },
  validateCreate,
  validateUpdate,
  validateStatusUpdate,
};
