// core/v1 Secret: ValidateSecret{,Update} and SetDefaults_Secret. stringData counts as data, as after conversion.
import type { KubeObject } from '../types.ts';
import { type FieldError, forbidden, invalid, key, required, tooLong } from '../field-errors.ts';
import { isConfigMapKey, nameIsDNSSubdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateImmutableField, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { obj, semanticEqual, str } from './util.ts';

export const maxSecretSize = 1 * 1024 * 1024;
export const immutableWhenSetMsg = 'field is immutable when `immutable` is set';

// Secret payloads as bytes: data is base64 on the wire, stringData is plain text.
function payload(secret: KubeObject): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(obj(secret.data))) out.set(k, Buffer.from(str(v), 'base64'));
  for (const [k, v] of Object.entries(obj(secret.stringData))) out.set(k, Buffer.from(str(v)));
  return out;
}

function validateCreate(secret: KubeObject): FieldError[] {
  const errs = validateObjectMeta(secret.metadata, { namespaced: true, nameFn: nameIsDNSSubdomain, kubeFinalizers: true });
  const data = payload(secret);
  let totalSize = 0;
  for (const [k, v] of data) {
    for (const msg of isConfigMapKey(k)) errs.push(invalid(key('data', k), k, msg));
    totalSize += v.length;
  }
  if (totalSize > maxSecretSize) errs.push(tooLong('data', '', maxSecretSize));
  const need = (...keys: string[]) => keys.filter((k) => !data.has(k)).forEach((k) => errs.push(required(key('data', k))));
  switch (str(secret.type)) {
    case 'kubernetes.io/service-account-token':
      if (str(secret.metadata?.annotations?.['kubernetes.io/service-account.name']).length === 0) {
        errs.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
      }
      break;
    case 'kubernetes.io/dockercfg':
      need('.dockercfg');
      break;
    case 'kubernetes.io/dockerconfigjson':
      need('.dockerconfigjson');
      break;
    case 'kubernetes.io/basic-auth':
      if (!data.has('username') && !data.has('password')) need('username', 'password');
      break;
    case 'kubernetes.io/ssh-auth':
      if ((data.get('ssh-privatekey')?.length ?? 0) === 0) errs.push(required(key('data', 'ssh-privatekey')));
      break;
    case 'kubernetes.io/tls':
      need('tls.crt', 'tls.key');
      break;
  }
  return errs;
}

function validateUpdate(secret: KubeObject, old: KubeObject): FieldError[] {
  const errs = [...validateObjectMetaUpdate(secret.metadata, old.metadata, true)];
  errs.push(...validateImmutableField(str(secret.type), str(old.type), 'type'));
  if (old.immutable === true) {
    if (secret.immutable !== true) errs.push(forbidden('immutable', immutableWhenSetMsg));
    if (!semanticEqual(secret.data, old.data)) errs.push(forbidden('data', immutableWhenSetMsg));
  }
  errs.push(...validateCreate(secret));
  return errs;
}

export const secretRules: KindRules = {
  namespaced: true,
  schema: 'V1Secret',
  applyDefaults(secret) {
    if (!secret.type) secret.type = 'Opaque';
  },
  validateCreate,
  validateUpdate,
};
