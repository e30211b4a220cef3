// storage.k8s.io/v1 CSIStorageCapacity: ValidateCSIStorageCapacity{,Update}.
import type { KubeObject } from '../types.ts';
import { type FieldError, invalid } from '../field-errors.ts';
import { nameIsDNSSubdomain } from '../names.ts';
import type { KindRules } from './rules.ts';
import { parseQuantityAt, validateClassName, validateLabelSelector, validateNonnegativeQuantity } from './common.ts';
import { validateImmutableField, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { str } from './util.ts';

function validateCreate(capacity: KubeObject): FieldError[] {
  const errs = validateObjectMeta(capacity.metadata, { namespaced: true, nameFn: nameIsDNSSubdomain, kubeFinalizers: true });
  errs.push(...validateLabelSelector(capacity.nodeTopology, 'nodeTopology'));
  const className = str(capacity.storageClassName);
  for (const msg of validateClassName(className, false)) errs.push(invalid('storageClassName', className, msg));
  for (const field of ['capacity', 'maximumVolumeSize']) {
    if (capacity[field] === undefined || capacity[field] === null) continue;
    const { quantity, errs: parseErrs } = parseQuantityAt(capacity[field], field);
    errs.push(...parseErrs);
    if (quantity && field === 'capacity') errs.push(...validateNonnegativeQuantity(quantity, field));
  }
  return errs;
}

// The inputs of CSI GetCapacity are immutable.
function validateUpdate(capacity: KubeObject, old: KubeObject): FieldError[] {
  return [
    ...validateObjectMetaUpdate(capacity.metadata, old.metadata, true),
    ...validateCreate(capacity),
    ...validateImmutableField(capacity.nodeTopology, old.nodeTopology, 'nodeTopology'),
    ...validateImmutableField(capacity.storageClassName, old.storageClassName, 'storageClassName'),
  ];
}

export const csiStorageCapacityRules: KindRules = {
  namespaced: true,
  schema: 'V1CSIStorageCapacity',
  validateCreate,
  validateUpdate,
};
