// core/v1 ServiceAccount: ValidateServiceAccount{,Update} (ObjectMeta rules only).
import { nameIsDNSSubdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';

export const serviceAccountRules: KindRules = {
  namespaced: true,
  schema: 'V1ServiceAccount',
  validateCreate: (sa) => validateObjectMeta(sa.metadata, { namespaced: true, nameFn: nameIsDNSSubdomain, kubeFinalizers: true }),
  validateUpdate: (sa, old) => validateObjectMetaUpdate(sa.metadata, old.metadata, true),
};
