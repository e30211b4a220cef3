// Decoded JSON values: a deep copy, and reads and writes of members that never touch Object.prototype. Objects in
// Strata are plain JSON (no Dates, Maps or cycles), for which a direct walk is several times faster than
// structuredClone — and cloning is on every write path.
export function cloneJSON<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJSON(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) setMember(out, k, cloneJSON(v));
  }
  return out as T;
}

/**
 * A member of a decoded object: its own, never one inherited from Object.prototype. Keys come from clients, and
 * `constructor` or `__proto__` are valid keys of a ConfigMap's data or a class's parameters.
 */
export function own(obj: Record<string, unknown> | undefined, key: string): unknown {
  return obj && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * Sets obj[key] as the own member JSON.parse makes: `__proto__` is a valid key of a ConfigMap's data or a class's
 * parameters, and assigning it would set the prototype instead (and lose the member).
 */
export function setMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
