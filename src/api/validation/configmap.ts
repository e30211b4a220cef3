// core/v1 ConfigMap: ValidateConfigMap{,Update}.
import type { KubeObject } from '../types.ts';
import { type FieldError, forbidden, invalid, key, tooLong } from '../field-errors.ts';
import { isConfigMapKey, nameIsDNSSubdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { immutableWhenSetMsg, maxSecretSize } from './secret.ts';
import { obj, semanticEqual, str } from './util.ts';

function validateCreate(cm: KubeObject): FieldError[] {
  const errs = validateObjectMeta(cm.metadata, { namespaced: true, nameFn: nameIsDNSSubdomain, kubeFinalizers: true });
  const data = obj(cm.data);
  const binaryData = obj(cm.binaryData);
  let totalSize = 0;
  for (const [k, v] of Object.entries(data)) {
    for (const msg of isConfigMapKey(k)) errs.push(invalid(key('data', k), k, msg));
    if (Object.hasOwn(binaryData, k)) errs.push(invalid(key('data', k), k, 'duplicate of key present in binaryData'));
    totalSize += Buffer.byteLength(str(v));
  }
  for (const [k, v] of Object.entries(binaryData)) {
    for (const msg of isConfigMapKey(k)) errs.push(invalid(key('binaryData', k), k, msg));
    if (Object.hasOwn(data, k)) errs.push(invalid(key('binaryData', k), k, 'duplicate of key present in data'));
    totalSize += Buffer.from(str(v), 'base64').length;
  }
  // Upstream reports the whole-object size at the empty path.
  if (totalSize > maxSecretSize) errs.push(tooLong('', '', maxSecretSize));
  return errs;
}

function validateUpdate(cm: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateObjectMetaUpdate(cm.metadata, old.metadata, true);
  if (old.immutable === true) {
    if (cm.immutable !== true) errs.push(forbidden('immutable', immutableWhenSetMsg));
    if (!semanticEqual(cm.data, old.data)) errs.push(forbidden('data', immutableWhenSetMsg));
    if (!semanticEqual(cm.binaryData, old.binaryData)) errs.push(forbidden('binaryData', immutableWhenSetMsg));
  }
  errs.push(...validateCreate(cm));
  return errs;
}

export const configMapRules: KindRules = {
  namespaced: true,
  schema: 'V1ConfigMap',
  validateCreate,
  validateUpdate,
};
