// coordination.k8s.io/v1 Lease: ValidateLease{,Update}.
import type { KubeObject } from '../types.ts';
import { type FieldError, invalid } from '../field-errors.ts';
import { nameIsDNSSubdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { obj } from './util.ts';

function validateLeaseSpec(specValue: unknown): FieldError[] {
  const spec = obj(specValue);
  const errs: FieldError[] = [];
  if (typeof spec.leaseDurationSeconds === 'number' && spec.leaseDurationSeconds <= 0) {
    errs.push(invalid('spec.leaseDurationSeconds', spec.leaseDurationSeconds, 'must be greater than 0'));
  }
  if (typeof spec.leaseTransitions === 'number' && spec.leaseTransitions < 0) {
    errs.push(invalid('spec.leaseTransitions', spec.leaseTransitions, 'must be greater than or equal to 0'));
  }
  return errs;
}

export const leaseRules: KindRules = {
  namespaced: true,
  schema: 'V1Lease',
  validateCreate: (lease: KubeObject) => [
    ...validateObjectMeta(lease.metadata, { namespaced: true, nameFn: nameIsDNSSubdomain, kubeFinalizers: true }),
    ...validateLeaseSpec(lease.spec),
  ],
  validateUpdate: (lease: KubeObject, old: KubeObject) => [
    ...validateObjectMetaUpdate(lease.metadata, old.metadata, true),
    ...validateLeaseSpec(lease.spec),
  ],
};
