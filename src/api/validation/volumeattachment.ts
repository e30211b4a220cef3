// storage.k8s.io/v1 VolumeAttachment: ValidateVolumeAttachment + ValidateVolumeAttachmentV1, and the update rule
// that the spec is read-only.
import type { KubeObject } from '../types.ts';
import { type FieldError, child, forbidden, invalid, required, tooLong } from '../field-errors.ts';
import { nameIsDNSSubdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateCSIDriverName, validateClassName, validateNodeName } from './common.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { validatePersistentVolumeSpec } from './persistentvolume.ts';
import { isObject, obj, semanticEqual, str } from './util.ts';

const maxAttachedVolumeMetadataSize = 256 * (1 << 10);
const maxVolumeErrorMessageSize = 1024;

function validateSource(sourceValue: unknown, path: string): FieldError[] {
  const source = obj(sourceValue);
  const hasInline = isObject(source.inlineVolumeSpec);
  const hasName = typeof source.persistentVolumeName === 'string';
  const msg = 'must specify exactly one of inlineVolumeSpec and persistentVolumeName';
  if (!hasInline && !hasName) return [required(path, msg)];
  if (hasInline && hasName) return [forbidden(path, msg)];
  if (hasName) {
    return str(source.persistentVolumeName).length === 0 ? [required(child(path, 'persistentVolumeName'), 'must specify non empty persistentVolumeName')] : [];
  }
  return validatePersistentVolumeSpec(source.inlineVolumeSpec, child(path, 'inlineVolumeSpec'), true);
}

function validateVolumeError(errValue: unknown, path: string): FieldError[] {
  const message = str(obj(errValue).message);
  return Buffer.byteLength(message) > maxVolumeErrorMessageSize ? [tooLong(child(path, 'message'), message, maxVolumeErrorMessageSize)] : [];
}

function validateCreate(va: KubeObject): FieldError[] {
  const errs = validateObjectMeta(va.metadata, { namespaced: false, nameFn: validateClassName, kubeFinalizers: true });
  const spec = obj(va.spec);
  const attacher = str(spec.attacher);
  if (attacher.length === 0) errs.push(required('spec.attacher', attacher));
  errs.push(...validateSource(spec.source, 'spec.source'));
  const nodeName = str(spec.nodeName);
  for (const msg of validateNodeName(nodeName, false)) errs.push(invalid('spec.nodeName', nodeName, msg));
  const status = obj(va.status);
  let metadataSize = 0;
  for (const [k, v] of Object.entries(obj(status.attachmentMetadata))) metadataSize += Buffer.byteLength(k) + Buffer.byteLength(str(v));
  if (metadataSize > maxAttachedVolumeMetadataSize) {
    errs.push(tooLong('status.attachmentMetadata', status.attachmentMetadata, maxAttachedVolumeMetadataSize));
  }
  errs.push(...validateVolumeError(status.attachError, 'status.attachError'));
  errs.push(...validateVolumeError(status.detachError, 'status.detachError'));
  // storage/v1 additionally requires a CSI driver name and a valid PV name.
  errs.push(...validateCSIDriverName(attacher, 'spec.attacher'));
  const pvName = obj(spec.source).persistentVolumeName;
  if (typeof pvName === 'string') {
    for (const msg of nameIsDNSSubdomain(pvName, false)) errs.push(invalid('spec.source.persistentVolumeName', pvName, msg));
  }
  return errs;
}

function validateUpdate(va: KubeObject, old: KubeObject): FieldError[] {
  const errs = [...validateObjectMetaUpdate(va.metadata, old.metadata, true), ...validateCreate(va)];
  if (!semanticEqual(va.spec, old.spec)) errs.push(invalid('spec', va.spec, 'field is immutable'));
  return errs;
}

export const volumeAttachmentRules: KindRules = {
  namespaced: false,
  schema: 'V1VolumeAttachment',
  prepareForCreate(va) {
    delete va.status;
  },
  validateCreate,
  validateUpdate,
  validateStatusUpdate: (va, old) => [...validateObjectMetaUpdate(va.metadata, old.metadata, true), ...validateCreate(va)],
};
