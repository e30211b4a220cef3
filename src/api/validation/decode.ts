// Type checking of request bodies for built-in kinds, standing in for kube-apiserver's typed JSON decoding: a value
// of the wrong JSON type is refused (400) with Go's encoding/json wording rather than stored.
import { type PathLink, pathOf } from '../field-errors.ts';
import { modelRegistry } from './models.ts';

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

// A client-node type string, parsed once: every request body is checked against the same few hundred types.
type TypeShape =
  | { kind: 'any' }
  | { kind: 'list' | 'map'; of: string }
  | { kind: 'scalar'; accepts: ReadonlySet<string> }
  | { kind: 'model'; fields: ReadonlyMap<string, string>; struct: string };

const scalarKinds: Record<string, ReadonlySet<string>> = {
  string: new Set(['string']), Date: new Set(['string']), number: new Set(['number']), boolean: new Set(['boolean']),
  IntOrString: new Set(['string', 'number']),
};
const shapes = new Map<string, TypeShape>();

function shapeOf(type: string): TypeShape {
  let shape = shapes.get(type);
  if (shape) return shape;
  const list = /^Array<(.+)>$/.exec(type);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  const model = modelRegistry.get(type);
  if (type === 'any' || type === 'object') shape = { kind: 'any' };
  else if (list) shape = { kind: 'list', of: list[1]! };
  else if (map) shape = { kind: 'map', of: map[1]! };
  else if (scalarKinds[type]) shape = { kind: 'scalar', accepts: scalarKinds[type] };
  else if (typeof model?.getAttributeTypeMap === 'function') {
    shape = { kind: 'model', fields: new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type])), struct: type.replace(/^V1|^CoreV1|^StorageV1/, '') };
  } else shape = { kind: 'any' };
  shapes.set(type, shape);
  return shape;
}

// The walk's place below the kind's struct is a PathLink of field names (Go's messages name no list index).
function mismatch(type: string, kind: string, at: PathLink | undefined, struct: string): Mismatch {
  return { path: pathOf(at), struct, actual: GO_JSON_KIND[kind] ?? kind, expected: goType(type) };
}

function check(type: string, value: unknown, at: PathLink | undefined, struct: string): Mismatch | undefined {
  if (value === null || value === undefined) return undefined;
  const shape = shapeOf(type);
  if (shape.kind === 'any') return undefined;
  const kind = jsonKind(value);
  switch (shape.kind) {
    case 'scalar':
      return shape.accepts.has(kind) ? undefined : mismatch(type, kind, at, struct);
    case 'list':
      if (kind !== 'array') return mismatch(type, kind, at, struct);
      for (const item of value as unknown[]) {
        const m = check(shape.of, item, at, struct);
        if (m) return m;
      }
      return undefined;
    case 'map':
      if (kind !== 'object') return mismatch(type, kind, at, struct);
      for (const k in value as object) {
        const m = check(shape.of, (value as Record<string, unknown>)[k], at, struct);
        if (m) return m;
      }
      return undefined;
    case 'model':
      if (kind !== 'object') return mismatch(type, kind, at, struct);
      for (const k in value as object) {
        const t = shape.fields.get(k);
        if (t === undefined) continue;
        const m = check(t, (value as Record<string, unknown>)[k], { up: at, name: k }, shape.struct);
        if (m) return m;
      }
      return undefined;
  }
}

/**
 * The first value of the wrong JSON type in a built-in object, as Go's decoder reports it
 * (`json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string`),
 * or undefined. `model` is the client-node model name of the kind (e.g. V1ConfigMap).
 */
export function decodeError(model: string, value: unknown): string | undefined {
  const m = check(model, value, undefined, model);
  if (!m) return undefined;
  if (!m.path) return `json: cannot unmarshal ${m.actual} into Go value of type ${goType(model)}`;
  return `json: cannot unmarshal ${m.actual} into Go struct field ${m.struct}.${m.path} of type ${m.expected}`;
}
