// core/v1 Node: ValidateNode, ValidateNodeUpdate (also used for /status) and SetDefaults_NodeStatus.
import type { KubeObject } from '../types.ts';
import { type FieldError, GoLiteral, child, duplicate, forbidden, goQuote, index, invalid, notSupported, required } from '../field-errors.ts';
import { validateLabelValue } from '../labels.ts';
import type { KindRules } from './rules.ts';
import { parseQuantityAt, validateNodeName, validateNonnegativeQuantity } from './common.ts';
import { validateLabelName, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { arr, isObject, obj, semanticEqual, str } from './util.ts';

export const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export function validateTaintEffect(effect: string, allowEmpty: boolean, path: string): FieldError[] {
  if (!allowEmpty && effect.length === 0) return [required(path)];
  return taintEffects.includes(effect) ? [] : [notSupported(path, effect, taintEffects)];
}

function goTaint(taint: Record<string, unknown>): GoLiteral {
  const timeAdded = taint.timeAdded ? `time.Date(${str(taint.timeAdded)})` : '(*v1.Time)(nil)';
  return new GoLiteral(
    `core.Taint{Key:${goQuote(str(taint.key))}, Value:${goQuote(str(taint.value))}, Effect:${goQuote(str(taint.effect))}, TimeAdded:${timeAdded}}`,
  );
}

// Upstream reports taints under metadata.taints.
function validateNodeTaints(taints: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Map<string, Set<string>>();
  taints.forEach((raw, i) => {
    const taint = obj(raw);
    const p = index(path, i);
    const taintKey = str(taint.key);
    const effect = str(taint.effect);
    errs.push(...validateLabelName(taintKey, child(p, 'key')));
    const valueErrs = validateLabelValue(str(taint.value));
    if (valueErrs.length > 0) errs.push(invalid(child(p, 'value'), str(taint.value), valueErrs.join(';')));
    errs.push(...validateTaintEffect(effect, false, child(p, 'effect')));
    if (seen.get(effect)?.has(taintKey)) {
      errs.push({ ...duplicate(p, goTaint(taint)), detail: 'taints must be unique by key and effect pair' });
      return;
    }
    seen.set(effect, (seen.get(effect) ?? new Set()).add(taintKey));
  });
  return errs;
}

function validateNodeResources(node: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const status = obj(node.status);
  for (const field of ['capacity', 'allocatable']) {
    for (const [name, raw] of Object.entries(obj(status[field]))) {
      const p = child('status', field, name);
      const { quantity, errs: parseErrs } = parseQuantityAt(raw, p);
      errs.push(...parseErrs);
      if (quantity) errs.push(...validateNonnegativeQuantity(quantity, p));
    }
  }
  return errs;
}

function validateCreate(node: KubeObject): FieldError[] {
  const errs = validateObjectMeta(node.metadata, { namespaced: false, nameFn: validateNodeName, kubeFinalizers: true });
  errs.push(...validateNodeTaints(arr(obj(node.spec).taints), 'metadata.taints'));
  errs.push(...validateNodeResources(node));
  return errs;
}

function validateUpdate(node: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateObjectMetaUpdate(node.metadata, old.metadata, true);
  errs.push(...validateNodeResources(node));
  const seen: unknown[] = [];
  arr(obj(node.status).addresses).forEach((address, i) => {
    if (seen.some((a) => semanticEqual(a, address))) errs.push(duplicate(index('status.addresses', i), address));
    seen.push(address);
  });
  const spec = obj(node.spec);
  const oldSpec = obj(old.spec);
  const oldCIDRs = arr(oldSpec.podCIDRs);
  const newCIDRs = arr(spec.podCIDRs);
  const cidrMsg = 'node updates may not change podCIDR except from "" to valid';
  if (oldCIDRs.length > 0) {
    if (oldCIDRs.length !== newCIDRs.length) errs.push(forbidden('spec.podCIDRs', cidrMsg));
    else oldCIDRs.forEach((cidr, i) => cidr !== newCIDRs[i] && errs.push(forbidden('spec.podCIDRs', cidrMsg)));
  }
  const oldProvider = str(oldSpec.providerID);
  if (oldProvider.length > 0 && oldProvider !== str(spec.providerID)) {
    errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  errs.push(...validateNodeTaints(arr(spec.taints), 'metadata.taints'));
  if (str(spec.externalID) !== str(oldSpec.externalID)) errs.push(forbidden('spec.externalID', 'may not be updated'));
  return errs;
}

function applyDefaults(node: KubeObject): void {
  if (!isObject(node.status)) return;
  const status = node.status;
  if (status.allocatable === undefined && isObject(status.capacity)) status.allocatable = { ...status.capacity };
}

export const nodeRules: KindRules = {
  namespaced: false,
  schema: 'V1Node',
  applyDefaults,
  validateCreate,
  validateUpdate,
  validateStatusUpdate: validateUpdate,
};
