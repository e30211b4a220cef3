// core/v1 Binding (pods/binding): ValidatePodBinding. Its REST storage validates nothing else.
import type { KubeObject } from '../types.ts';
import { type FieldError, notSupported, required } from '../field-errors.ts';
import type { KindRules } from './rules.ts';
import { obj, str } from './util.ts';

function validateCreate(binding: KubeObject): FieldError[] {
  const target = obj(binding.target);
  const errs: FieldError[] = [];
  const kind = str(target.kind);
  if (kind.length > 0 && kind !== 'Node') errs.push(notSupported('target.kind', kind, ['Node', '<empty>']));
  if (str(target.name).length === 0) errs.push(required('target.name'));
  return errs;
}

export const bindingRules: KindRules = {
  namespaced: true,
  schema: 'V1Binding',
  validateCreate,
  validateUpdate: validateCreate,
  skipGenericMeta: true,
};
