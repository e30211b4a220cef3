// Validators shared by several kinds (core validation.go helpers and meta/v1 selector validation).
import {
  type FieldError,
  child,
  duplicate,
  forbidden,
  index,
  invalid,
  notSupported,
  required,
  tooLong,
} from '../field-errors.ts';
import { isDNS1123Subdomain, nameIsDNSSubdomain } from '../names.ts';
import { validateLabelValue } from '../labels.ts';
import { type Quantity, QuantityParseError, formatQuantity, parseQuantity } from '../quantity.ts';
import { validateLabelName, validateLabels } from './meta.ts';
import { arr, isObject, obj, str } from './util.ts';

export const validateClassName = nameIsDNSSubdomain;
export const validateNodeName = nameIsDNSSubdomain;

export function validateCSIDriverName(name: string, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (name.length === 0) errs.push(required(path));
  if (name.length > 63) errs.push(tooLong(path, name, 63));
  for (const msg of isDNS1123Subdomain(name.toLowerCase())) errs.push(invalid(path, name, msg));
  return errs;
}

// ---- quantities ----
// A quantity that does not parse is rejected by upstream's decoder; here it becomes an Invalid error on its field.
export function parseQuantityAt(raw: unknown, path: string): { quantity?: Quantity; errs: FieldError[] } {
  if (typeof raw === 'number') raw = String(raw);
  try {
    return { quantity: parseQuantity(str(raw)), errs: [] };
  } catch (e) {
    if (e instanceof QuantityParseError) return { errs: [invalid(path, raw ?? null, e.message)] };
    throw e;
  }
}
export function validatePositiveQuantityValue(q: Quantity, path: string): FieldError[] {
  return q.nano <= 0n ? [invalid(path, formatQuantity(q), 'must be greater than zero')] : [];
}
export function validateNonnegativeQuantity(q: Quantity, path: string): FieldError[] {
  return q.nano < 0n ? [invalid(path, formatQuantity(q), 'must be greater than or equal to 0')] : [];
}

// ---- selectors ----
export function validateLabelSelector(selector: unknown, path: string): FieldError[] {
  if (!isObject(selector)) return [];
  const errs = validateLabels(selector.matchLabels, child(path, 'matchLabels'));
  arr(selector.matchExpressions).forEach((raw, i) => {
    const req = obj(raw);
    const p = index(child(path, 'matchExpressions'), i);
    const values = arr(req.values).map(str);
    switch (req.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(required(child(p, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errs.push(forbidden(child(p, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        errs.push(invalid(child(p, 'operator'), str(req.operator), 'not a valid selector operator'));
    }
    errs.push(...validateLabelName(str(req.key), child(p, 'key')));
    values.forEach((v, j) => {
      for (const msg of validateLabelValue(v)) errs.push(invalid(index(child(p, 'values'), j), v, msg));
    });
  });
  return errs;
}

export function validateNodeSelectorRequirement(raw: unknown, path: string): FieldError[] {
  const req = obj(raw);
  const values = arr(req.values).map(str);
  const errs: FieldError[] = [];
  switch (req.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) errs.push(required(child(path, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) errs.push(forbidden(child(path, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1) errs.push(required(child(path, 'values'), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
      break;
    default:
      errs.push(invalid(child(path, 'operator'), str(req.operator), 'not a valid selector operator'));
  }
  errs.push(...validateLabelName(str(req.key), child(path, 'key')));
  values.forEach((v, i) => {
    for (const msg of validateLabelValue(v)) errs.push(invalid(index(child(path, 'values'), i), v, msg));
  });
  return errs;
}

function validateNodeFieldSelectorRequirement(raw: unknown, path: string): FieldError[] {
  const req = obj(raw);
  const values = arr(req.values).map(str);
  const errs: FieldError[] = [];
  if (req.operator === 'In' || req.operator === 'NotIn') {
    if (values.length !== 1) {
      errs.push(required(child(path, 'values'), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
    }
  } else {
    errs.push(invalid(child(path, 'operator'), str(req.operator), 'not a valid selector operator'));
  }
  if (req.key !== 'metadata.name') {
    errs.push(invalid(child(path, 'key'), str(req.key), 'not a valid field selector key'));
  } else {
    values.forEach((v, i) => {
      for (const msg of validateNodeName(v, false)) errs.push(invalid(index(child(path, 'values'), i), v, msg));
    });
  }
  return errs;
}

export function validateNodeSelectorTerm(raw: unknown, path: string): FieldError[] {
  const term = obj(raw);
  return [
    ...arr(term.matchExpressions).flatMap((req, j) => validateNodeSelectorRequirement(req, index(child(path, 'matchExpressions'), j))),
    ...arr(term.matchFields).flatMap((req, j) => validateNodeFieldSelectorRequirement(req, index(child(path, 'matchFields'), j))),
  ];
}

export function validateNodeSelector(raw: unknown, path: string): FieldError[] {
  const terms = arr(obj(raw).nodeSelectorTerms);
  const termsPath = child(path, 'nodeSelectorTerms');
  if (terms.length === 0) return [required(termsPath, 'must have at least one node selector term')];
  return terms.flatMap((term, i) => validateNodeSelectorTerm(term, index(termsPath, i)));
}

// Returns the term's key → value-set map too, which StorageClass uses to find duplicate terms.
export function validateTopologySelectorTerm(raw: unknown, path: string): { exprs: Map<string, Set<string>>; errs: FieldError[] } {
  const errs: FieldError[] = [];
  const exprs = new Map<string, Set<string>>();
  const exprPath = child(path, 'matchLabelExpressions');
  arr(obj(raw).matchLabelExpressions).forEach((rawReq, i) => {
    const req = obj(rawReq);
    const p = index(exprPath, i);
    const key = str(req.key);
    const values = arr(req.values).map(str);
    const valueSet = new Set<string>();
    if (values.length === 0) errs.push(required(child(p, 'values')));
    values.forEach((v, j) => {
      if (valueSet.has(v)) errs.push(duplicate(index(child(p, 'values'), j), v));
      valueSet.add(v);
    });
    errs.push(...validateLabelName(key, child(p, 'key')));
    if (exprs.has(key)) errs.push(duplicate(child(p, 'key'), key));
    exprs.set(key, valueSet);
  });
  return { exprs, errs };
}

// ---- volume sources shared by PVs and pod volumes ----
export function validatePathNoBacksteps(targetPath: string, path: string): FieldError[] {
  return targetPath.split(/[\\/]/).includes('..') ? [invalid(path, targetPath, "must not contain '..'")] : [];
}

const hostPathTypes = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];
export function validateHostPathVolumeSource(raw: unknown, path: string): FieldError[] {
  const source = obj(raw);
  const hostPath = str(source.path);
  if (hostPath.length === 0) return [required(child(path, 'path'))];
  const errs = validatePathNoBacksteps(hostPath, child(path, 'path'));
  if (source.type !== undefined && source.type !== null && !hostPathTypes.includes(str(source.type))) {
    errs.push(notSupported(child(path, 'type'), str(source.type), hostPathTypes));
  }
  return errs;
}
