// core/v1 PersistentVolume: ValidatePersistentVolume{,Update,StatusUpdate} and SetDefaults_PersistentVolume.
import { posix } from 'node:path';
import type { KubeObject, PersistentVolume } from '../types.ts';
import { type FieldError, GoLiteral, child, forbidden, invalid, key, notSupported, required } from '../field-errors.ts';
import { nameIsDNSLabel, nameIsDNSSubdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import {
  parseQuantityAt,
  validateCSIDriverName,
  validateClassName,
  validateHostPathVolumeSource,
  validateNodeSelector,
  validatePathNoBacksteps,
  validatePositiveQuantityValue,
} from './common.ts';
import { validateImmutableField, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { supportedVolumeModes, validateAccessModes } from './persistentvolumeclaim.ts';
import { arr, isObject, obj, semanticEqual, specDiff, str } from './util.ts';
import { metaTime } from '../time.ts';

const supportedReclaimPolicy = ['Delete', 'Recycle', 'Retain'];

// Every PersistentVolumeSource member, in the order upstream checks them.
const volumeSources = [
  'hostPath', 'gcePersistentDisk', 'awsElasticBlockStore', 'glusterfs', 'flocker', 'nfs', 'rbd', 'quobyte', 'cephfs',
  'iscsi', 'cinder', 'fc', 'flexVolume', 'azureFile', 'vsphereVolume', 'photonPersistentDisk', 'portworxVolume',
  'azureDisk', 'scaleIO', 'local', 'storageos', 'csi',
];

function validateSecretReference(raw: unknown, path: string): FieldError[] {
  const ref = obj(raw);
  const errs: FieldError[] = [];
  const name = str(ref.name);
  const namespace = str(ref.namespace);
  if (name.length === 0) errs.push(required(child(path, 'name')));
  else for (const msg of nameIsDNSSubdomain(name, false)) errs.push(invalid(child(path, 'name'), name, msg));
  if (namespace.length === 0) errs.push(required(child(path, 'namespace')));
  else for (const msg of nameIsDNSLabel(namespace, false)) errs.push(invalid(child(path, 'namespace'), namespace, msg));
  return errs;
}

function validateCSISource(raw: unknown, path: string): FieldError[] {
  const csi = obj(raw);
  const errs = validateCSIDriverName(str(csi.driver), child(path, 'driver'));
  if (str(csi.volumeHandle).length === 0) errs.push(required(child(path, 'volumeHandle')));
  for (const ref of ['controllerPublishSecretRef', 'controllerExpandSecretRef', 'nodePublishSecretRef', 'nodeExpandSecretRef', 'nodeStageSecretRef']) {
    if (isObject(csi[ref])) errs.push(...validateSecretReference(csi[ref], child(path, ref)));
  }
  return errs;
}

function validateLocalSource(raw: unknown, path: string): FieldError[] {
  const local = str(obj(raw).path);
  if (local.length === 0) return [required(child(path, 'path'))];
  return validatePathNoBacksteps(local, child(path, 'path'));
}

function validateSource(name: string, raw: unknown, path: string): FieldError[] {
  switch (name) {
    case 'hostPath':
      return validateHostPathVolumeSource(raw, path);
    case 'local':
      return validateLocalSource(raw, path);
    case 'csi':
      return validateCSISource(raw, path);
    default:
      return []; // in-tree plugins Strata cannot run are accepted as they are
  }
}

const inlineForbidden = 'may not be specified in the context of inline volumes';

// `inline` is upstream's validateInlinePersistentVolumeSpec, for a VolumeAttachment's inlineVolumeSpec.
export function validatePersistentVolumeSpec(specValue: unknown, path: string, inline = false): FieldError[] {
  const spec = obj(specValue);
  const errs: FieldError[] = [];
  const capacityPath = child(path, 'capacity');
  const capacity = obj(spec.capacity);
  const capacityNames = Object.keys(capacity);
  if (inline) {
    if (isObject(spec.claimRef)) errs.push(forbidden(child(path, 'claimRef'), inlineForbidden));
    if (capacityNames.length > 0) errs.push(forbidden(capacityPath, inlineForbidden));
    if (!isObject(spec.csi)) errs.push(required(child(path, 'csi'), 'has to be specified in the context of inline volumes'));
  }
  if (arr(spec.accessModes).length === 0) errs.push(required(child(path, 'accessModes')));
  errs.push(...validateAccessModes(spec.accessModes, child(path, 'accessModes')));

  if (!inline) {
    if (capacityNames.length === 0) errs.push(required(capacityPath));
    if (!('storage' in capacity) || capacityNames.length > 1) {
      const rendered = capacityNames.length === 0 ? 'core.ResourceList(nil)' : `core.ResourceList{${capacityNames.map((n) => JSON.stringify(n)).join(', ')}}`;
      errs.push(notSupported(capacityPath, new GoLiteral(rendered), ['storage']));
    }
    for (const [name, raw] of Object.entries(capacity)) {
      const p = key(capacityPath, name);
      const { quantity, errs: parseErrs } = parseQuantityAt(raw, p);
      errs.push(...parseErrs);
      if (quantity) errs.push(...validatePositiveQuantityValue(quantity, p));
    }
  }
  const reclaimPolicy = str(spec.persistentVolumeReclaimPolicy);
  if (reclaimPolicy.length > 0) {
    if (inline) {
      if (reclaimPolicy !== 'Retain') errs.push(forbidden(child(path, 'persistentVolumeReclaimPolicy'), 'may only be Retain in the context of inline volumes'));
    } else if (!supportedReclaimPolicy.includes(reclaimPolicy)) {
      errs.push(notSupported(child(path, 'persistentVolumeReclaimPolicy'), reclaimPolicy, supportedReclaimPolicy));
    }
  }
  let nodeAffinitySpecified = false;
  if (isObject(spec.nodeAffinity)) {
    const nodeAffinityPath = child(path, 'nodeAffinity');
    if (inline) {
      errs.push(forbidden(nodeAffinityPath, inlineForbidden));
    } else {
      nodeAffinitySpecified = true;
      if (isObject(spec.nodeAffinity.required)) errs.push(...validateNodeSelector(spec.nodeAffinity.required, child(nodeAffinityPath, 'required')));
      else errs.push(required(child(nodeAffinityPath, 'required'), 'must specify required node constraints'));
    }
  }
  let numVolumes = 0;
  for (const name of volumeSources) {
    if (!isObject(spec[name])) continue;
    // flexVolume is counted without the "more than 1" check, as upstream does.
    if (numVolumes > 0 && name !== 'flexVolume') {
      errs.push(forbidden(child(path, name), 'may not specify more than 1 volume type'));
      continue;
    }
    numVolumes++;
    errs.push(...validateSource(name, spec[name], child(path, name)));
    if (name === 'local' && !nodeAffinitySpecified) {
      errs.push(required(child(path, 'nodeAffinity'), 'Local volume requires node affinity'));
    }
  }
  if (numVolumes === 0) errs.push(required(path, 'must specify a volume type'));
  if (isObject(spec.hostPath) && posix.normalize(str(spec.hostPath.path)) === '/' && reclaimPolicy === 'Recycle') {
    errs.push(forbidden(child(path, 'persistentVolumeReclaimPolicy'), "may not be 'recycle' for a hostPath mount of '/'"));
  }
  const className = str(spec.storageClassName);
  if (className.length > 0) {
    if (inline) errs.push(forbidden(child(path, 'storageClassName'), inlineForbidden));
    else for (const msg of validateClassName(className, false)) errs.push(invalid(child(path, 'storageClassName'), className, msg));
  }
  if (typeof spec.volumeMode === 'string') {
    if (inline) {
      if (spec.volumeMode !== 'Filesystem') {
        errs.push(forbidden(child(path, 'volumeMode'), 'may not specify volumeMode other than Filesystem in the context of inline volumes'));
      }
    } else if (!supportedVolumeModes.includes(spec.volumeMode)) {
      errs.push(notSupported(child(path, 'volumeMode'), spec.volumeMode, supportedVolumeModes));
    }
  }
  if (typeof spec.volumeAttributesClassName === 'string') {
    const vac = spec.volumeAttributesClassName;
    if (vac.length === 0) errs.push(required(child(path, 'volumeAttributesClassName'), 'an empty string is disallowed'));
    else for (const msg of validateClassName(vac, false)) errs.push(invalid(child(path, 'volumeAttributesClassName'), vac, msg));
    if (!isObject(spec.csi)) errs.push(required(child(path, 'csi'), 'has to be specified when using volumeAttributesClassName'));
  }
  return errs;
}

function validateCreate(pv: KubeObject): FieldError[] {
  return [
    ...validateObjectMeta(pv.metadata, { namespaced: false, nameFn: nameIsDNSSubdomain, kubeFinalizers: true }),
    ...validatePersistentVolumeSpec(pv.spec, 'spec'),
  ];
}

function sourceOf(spec: Record<string, unknown>): Record<string, unknown> {
  const source: Record<string, unknown> = {};
  for (const name of volumeSources) if (spec[name] !== undefined) source[name] = spec[name];
  return source;
}

function validateUpdate(newObj: KubeObject, oldObj: KubeObject): FieldError[] {
  const newPv = newObj as PersistentVolume;
  const oldPv = oldObj as PersistentVolume;
  const errs = [...validateCreate(newPv)];
  const newSpec = obj(newPv.spec);
  const oldSpec = obj(oldPv.spec);
  const newSource = sourceOf(newSpec);
  const oldSource = sourceOf(oldSpec);
  // controllerExpandSecretRef may be added to an existing CSI source.
  if (isObject(oldSource.csi) && oldSource.csi.controllerExpandSecretRef === undefined && isObject(newSource.csi)) {
    const { controllerExpandSecretRef: _added, ...rest } = newSource.csi;
    newSource.csi = rest;
  }
  if (!semanticEqual(newSource, oldSource)) {
    errs.push(
      forbidden('spec.persistentvolumesource', `spec.persistentvolumesource is immutable after creation\n${specDiff(oldSource, newSource).join('\n')}`),
    );
  }
  errs.push(...validateImmutableField(newSpec.volumeMode, oldSpec.volumeMode, 'volumeMode'));
  if (isObject(oldSpec.nodeAffinity)) errs.push(...validateImmutableField(newSpec.nodeAffinity, oldSpec.nodeAffinity, 'nodeAffinity'));
  if (oldSpec.volumeAttributesClassName !== undefined && newSpec.volumeAttributesClassName === undefined) {
    errs.push(forbidden('spec.volumeAttributesClassName', 'update from non-nil value to nil is forbidden'));
  }
  // ObjectMeta update rules reach PVs only through the generic pass (see index.ts).
  return errs;
}

function validateStatusUpdate(newObj: KubeObject, oldObj: KubeObject): FieldError[] {
  const errs = validateObjectMetaUpdate(newObj.metadata, oldObj.metadata, true);
  if (str(newObj.metadata?.resourceVersion).length === 0) errs.push(required('resourceVersion'));
  return errs;
}

function applyDefaults(pv: KubeObject): void {
  if (isObject(pv.spec)) {
    const spec = pv.spec;
    if (!spec.persistentVolumeReclaimPolicy) spec.persistentVolumeReclaimPolicy = 'Retain';
    if (spec.volumeMode === undefined) spec.volumeMode = 'Filesystem';
    if (isObject(spec.hostPath) && spec.hostPath.type === undefined) spec.hostPath.type = '';
  }
  const status = isObject(pv.status) ? pv.status : (pv.status = {});
  if (!status.phase) status.phase = 'Pending';
}

export const persistentVolumeRules: KindRules = {
  namespaced: false,
  schema: 'V1PersistentVolume',
  applyDefaults,
  prepareForCreate(pv) {
    pv.status = { phase: 'Pending', lastPhaseTransitionTime: metaTime() };
  },
  validateCreate,
  validateUpdate,
  validateStatusUpdate,
};
