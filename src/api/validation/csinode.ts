// storage.k8s.io/v1 CSINode: ValidateCSINode{,Update}.
import type { KubeObject } from '../types.ts';
import { type FieldError, child, duplicate, index, invalid, required } from '../field-errors.ts';
import type { KindRules } from './rules.ts';
import { validateCSIDriverName, validateNodeName } from './common.ts';
import { validateLabelName, validateNonnegativeField, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { arr, isObject, obj, semanticEqual, str } from './util.ts';

const csiNodeIDMaxLength = 192;

function validateDrivers(drivers: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  drivers.forEach((raw, i) => {
    const driver = obj(raw);
    const p = index(path, i);
    const name = str(driver.name);
    const nodeID = str(driver.nodeID);
    errs.push(...validateCSIDriverName(name, child(p, 'name')));
    if (nodeID.length === 0) errs.push(required(child(p, 'nodeID'), nodeID));
    if (nodeID.length > csiNodeIDMaxLength) {
      errs.push(invalid(child(p, 'nodeID'), nodeID, `must be ${csiNodeIDMaxLength} characters or less`));
    }
    const allocatable = obj(driver.allocatable);
    if (typeof allocatable.count === 'number') errs.push(...validateNonnegativeField(allocatable.count, child(p, 'allocatable', 'count')));
    if (names.has(name)) errs.push(duplicate(child(p, 'name'), name));
    names.add(name);
    const keys = new Set<string>();
    for (const topologyKey of arr(driver.topologyKeys).map(str)) {
      if (topologyKey.length === 0) errs.push(required(p, topologyKey));
      if (keys.has(topologyKey)) errs.push(duplicate(p, topologyKey));
      keys.add(topologyKey);
      errs.push(...validateLabelName(topologyKey, p));
    }
  });
  return errs;
}

function validateCreate(csiNode: KubeObject): FieldError[] {
  return [
    ...validateObjectMeta(csiNode.metadata, { namespaced: false, nameFn: validateNodeName, kubeFinalizers: true }),
    ...validateDrivers(arr(obj(csiNode.spec).drivers), 'spec.drivers'),
  ];
}

// An existing driver entry may not change; drivers may be added and removed.
function validateUpdate(csiNode: KubeObject, old: KubeObject): FieldError[] {
  const errs = [...validateObjectMetaUpdate(csiNode.metadata, old.metadata, true), ...validateCreate(csiNode)];
  for (const oldDriver of arr(obj(old.spec).drivers).filter(isObject)) {
    for (const newDriver of arr(obj(csiNode.spec).drivers).filter(isObject)) {
      if (oldDriver.name === newDriver.name && !semanticEqual(oldDriver, newDriver)) {
        errs.push(invalid('CSINodeDriver', newDriver, 'field is immutable'));
      }
    }
  }
  return errs;
}

export const csiNodeRules: KindRules = {
  namespaced: false,
  schema: 'V1CSINode',
  validateCreate,
  validateUpdate,
};
