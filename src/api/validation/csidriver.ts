// storage.k8s.io/v1 CSIDriver: ValidateCSIDriver{,Update} and SetDefaults_CSIDriver. Upstream checks only the
// name here; the rest of ObjectMeta gets the generic pass.
import type { KubeObject } from '../types.ts';
import { type FieldError, child, duplicate, index, notSupported, required } from '../field-errors.ts';
import type { KindRules } from './rules.ts';
import { validateCSIDriverName } from './common.ts';
import { validateImmutableField } from './meta.ts';
import { arr, isObject, obj, str } from './util.ts';

const fsGroupPolicies = ['File', 'None', 'ReadWriteOnceWithFSType'];
const volumeLifecycleModes = ['Ephemeral', 'Persistent'];

function validateSpec(specValue: unknown, path: string): FieldError[] {
  const spec = obj(specValue);
  const errs: FieldError[] = [];
  for (const field of ['attachRequired', 'podInfoOnMount', 'storageCapacity']) {
    if (typeof spec[field] !== 'boolean') errs.push(required(child(path, field)));
  }
  if (spec.fsGroupPolicy === undefined || spec.fsGroupPolicy === null) errs.push(required(child(path, 'fsGroupPolicy')));
  else if (!fsGroupPolicies.includes(str(spec.fsGroupPolicy))) {
    errs.push(notSupported(child(path, 'fsGroupPolicy'), str(spec.fsGroupPolicy), fsGroupPolicies));
  }
  const audiences = new Set<string>();
  arr(spec.tokenRequests).forEach((raw, i) => {
    const audience = str(obj(raw).audience);
    if (audiences.has(audience)) errs.push(duplicate(child(index(child(path, 'tokenRequests'), i), 'audience'), audience));
    audiences.add(audience);
  });
  for (const mode of arr(spec.volumeLifecycleModes).map(str)) {
    if (!volumeLifecycleModes.includes(mode)) errs.push(notSupported(child(path, 'volumeLifecycleModes'), mode, volumeLifecycleModes));
  }
  if (typeof spec.seLinuxMount !== 'boolean' && spec.seLinuxMount !== undefined) errs.push(required(child(path, 'seLinuxMount')));
  return errs;
}

function validateCreate(driver: KubeObject): FieldError[] {
  return [...validateCSIDriverName(str(driver.metadata?.name), 'name'), ...validateSpec(driver.spec, 'spec')];
}

function validateUpdate(driver: KubeObject, old: KubeObject): FieldError[] {
  const spec = obj(driver.spec);
  const oldSpec = obj(old.spec);
  return [
    ...validateCreate(driver),
    // "attachedRequired" is upstream's spelling of this path.
    ...validateImmutableField(spec.attachRequired, oldSpec.attachRequired, 'spec.attachedRequired'),
    ...validateImmutableField(spec.fsGroupPolicy, oldSpec.fsGroupPolicy, 'spec.fsGroupPolicy'),
    ...validateImmutableField(spec.volumeLifecycleModes, oldSpec.volumeLifecycleModes, 'spec.volumeLifecycleModes'),
  ];
}

function applyDefaults(driver: KubeObject): void {
  const spec = isObject(driver.spec) ? driver.spec : (driver.spec = {});
  const defaults: Record<string, unknown> = {
    attachRequired: true,
    podInfoOnMount: false,
    storageCapacity: false,
    fsGroupPolicy: 'ReadWriteOnceWithFSType',
    requiresRepublish: false,
    seLinuxMount: false,
  };
  for (const [field, value] of Object.entries(defaults)) if (spec[field] === undefined || spec[field] === null) spec[field] = value;
  if (arr(spec.volumeLifecycleModes).length === 0) spec.volumeLifecycleModes = ['Persistent'];
}

export const csiDriverRules: KindRules = {
  namespaced: false,
  schema: 'V1CSIDriver',
  applyDefaults,
  validateCreate,
  validateUpdate,
};
