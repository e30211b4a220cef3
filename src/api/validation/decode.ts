// Type checking of request bodies for built-in kinds, standing in for kube-apiserver's typed JSON decoding: a value
// of the wrong JSON type is refused (400) with Go's encoding/json wording rather than stored.
import * as models from '@kubernetes/client-node/dist/gen/models/all.js';

interface ModelClass {
  getAttributeTypeMap(): Array<{ name: string; baseName: string; type: string }>;
}
const registry = models as unknown as Record<string, ModelClass | undefined>;

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

// Go's names for the JSON kinds in "cannot unmarshal X into ..." messages.
const GO_JSON_KIND: Record<string, string> = { string: 'string', number: 'number', boolean: 'bool', array: 'array', object: 'object' };

function goType(type: string): string {
  const list = /^Array<(.+)>$/.exec(type);
  if (list) return `[]${goType(list[1]!)}`;
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return `map[string]${goType(map[1]!)}`;
  if (type === 'number') return 'int64';
  if (type === 'boolean') return 'bool';
  if (type === 'Date') return 'v1.Time';
  if (type === 'IntOrString') return 'intstr.IntOrString';
  return type.replace(/^V1/, 'v1.').replace(/^Core(V1)/, 'v1.').replace(/^Storage(V1)/, 'v1.');
}

interface Mismatch {
  path: string;
  struct: string;
  actual: string;
  expected: string;
}

function check(type: string, value: unknown, path: string, struct: string): Mismatch | undefined {
  if (value === null || value === undefined || type === 'any' || type === 'object') return undefined;
  const kind = jsonKind(value);
  const bad = (): Mismatch => ({ path, struct, actual: GO_JSON_KIND[kind] ?? kind, expected: goType(type) });
  const list = /^Array<(.+)>$/.exec(type);
  if (list) {
    if (kind !== 'array') return bad();
    for (const item of value as unknown[]) {
      const m = check(list[1]!, item, path, struct);
      if (m) return m;
    }
    return undefined;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (kind !== 'object') return bad();
    for (const v of Object.values(value as object)) {
      const m = check(map[1]!, v, path, struct);
      if (m) return m;
    }
    return undefined;
  }
  switch (type) {
    case 'string':
    case 'Date':
      return kind === 'string' ? undefined : bad();
    case 'number':
      return kind === 'number' ? undefined : bad();
    case 'boolean':
      return kind === 'boolean' ? undefined : bad();
    case 'IntOrString':
      return kind === 'string' || kind === 'number' ? undefined : bad();
  }
  const model = registry[type];
  if (typeof model?.getAttributeTypeMap !== 'function') return undefined;
  if (kind !== 'object') return bad();
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value as object)) {
    const t = fields.get(k);
    if (t === undefined) continue;
    const m = check(t, v, path ? `${path}.${k}` : k, type.replace(/^V1|^CoreV1|^StorageV1/, ''));
    if (m) return m;
  }
  return undefined;
}

/**
 * The first value of the wrong JSON type in a built-in object, as Go's decoder reports it
 * (`json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string`),
 * or undefined. `model` is the client-node model name of the kind (e.g. V1ConfigMap).
 */
export function decodeError(model: string, value: unknown): string | undefined {
  const m = check(model, value, '', model);
  if (!m) return undefined;
  if (!m.path) return `json: cannot unmarshal ${m.actual} into Go value of type ${goType(model)}`;
  return `json: cannot unmarshal ${m.actual} into Go struct field ${m.struct}.${m.path} of type ${m.expected}`;
}
