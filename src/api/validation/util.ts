// Helpers for reading untyped JSON objects the way Go's decoder would see them.
import { GoLiteral } from '../field-errors.ts';

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export function obj(v: unknown): JsonObject {
  return isObject(v) ? v : {};
}
export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
export function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v))) out[k] = str(val);
  return out;
}

// apiequality.Semantic.DeepEqual on decoded JSON: absent, null, empty list and empty map all mean "unset".
function isUnset(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (isUnset(a) || isUnset(b)) return isUnset(a) && isUnset(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => semanticEqual(v, b[i]));
  }
  if (isObject(a) || isObject(b)) {
    if (!isObject(a) || !isObject(b)) return false;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!semanticEqual(a[k], b[k])) return false;
    return true;
  }
  return a === b;
}


// A short cmp.Diff-like rendering of what changed between two specs, appended to "immutable" messages.
export function specDiff(oldValue: unknown, newValue: unknown, path = ''): string[] {
  if (semanticEqual(oldValue, newValue)) return [];
  if (isObject(oldValue) && isObject(newValue)) {
    const keys = [...new Set([...Object.keys(oldValue), ...Object.keys(newValue)])].sort();
    return keys.flatMap((k) => specDiff(oldValue[k], newValue[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(oldValue) && Array.isArray(newValue) && oldValue.length === newValue.length) {
    return oldValue.flatMap((v, i) => specDiff(v, newValue[i], `${path}[${i}]`));
  }
  return [`- ${path}: ${JSON.stringify(oldValue ?? null)}`, `+ ${path}: ${JSON.stringify(newValue ?? null)}`];
}

// metav1.Time as Go's %v prints it ("2024-01-02 03:04:05 +0000 UTC"); unset is Go's zero time.
export function goTime(rfc3339: string | undefined): GoLiteral {
  const d = rfc3339 ? new Date(rfc3339) : undefined;
  if (!d || Number.isNaN(d.getTime())) return new GoLiteral('0001-01-01 00:00:00 +0000 UTC');
  const iso = d.toISOString(); // always UTC, as the API server stores times
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return new GoLiteral(`${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? '.' + frac : ''} +0000 UTC`);
}
