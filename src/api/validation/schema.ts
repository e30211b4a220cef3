// Structural schemas: unknown-field detection for every kind (built-in kinds read @kubernetes/client-node's model
// metadata), and OpenAPI v3 + x-kubernetes-validations checking for the custom resources, with the apiserver's wording.
// The generated model classes alone: much cheaper to load than the whole client.
import { modelRegistry } from './models.ts';
import { type FieldError, type PathLink, child, index, invalid, notSupported, pathOf, required, typeInvalid } from '../field-errors.ts';
import { arr, isObject, obj } from './util.ts';

export type SchemaType = 'object' | 'string' | 'integer' | 'boolean' | 'array';

// One x-kubernetes-validations rule, written out as code. Transition rules (those using oldSelf) run only on
// update and only where the old object had a value at the same place, as CEL does.
export interface CelRule {
  message: string;
  transition?: boolean;
  check(self: unknown, oldSelf: unknown): boolean;
}

export interface SchemaNode {
  type: SchemaType;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: SchemaNode;
  items?: SchemaNode;
  enum?: string[];
  minimum?: number;
  pattern?: string;
  format?: 'date-time' | 'int64';
  intOrString?: boolean;
  // A field whose schema is a client-node model (metadata): checked for unknown fields only.
  model?: string;
  rules?: CelRule[];
}

// ---- unknown fields ----
const modelFields = new Map<string, Map<string, string>>();

function fieldsOfModel(name: string): Map<string, string> | undefined {
  let fields = modelFields.get(name);
  if (!fields) {
    const model = modelRegistry.get(name);
    if (typeof model?.getAttributeTypeMap !== 'function') return undefined;
    fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
    modelFields.set(name, fields);
  }
  return fields;
}

// How to walk a value of a client-node type name: a model (its fields), `Array<X>`, `{ [key: string]: X; }`, or a leaf.
type TypeWalk = { kind: 'list' | 'map'; elem: string } | { kind: 'model'; fields: Map<string, string> } | { kind: 'leaf' };
const typeWalks = new Map<string, TypeWalk>();

function typeWalk(type: string): TypeWalk {
  let walk = typeWalks.get(type);
  if (!walk) {
    const list = /^Array<(.+)>$/.exec(type);
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    const fields = list || map ? undefined : fieldsOfModel(type);
    walk = list ? { kind: 'list', elem: list[1]! } : map ? { kind: 'map', elem: map[1]! } : fields ? { kind: 'model', fields } : { kind: 'leaf' };
    typeWalks.set(type, walk);
  }
  return walk;
}

function unknownInType(type: string, value: unknown, at: PathLink | undefined, out: string[]): void {
  const walk = typeWalk(type);
  if (walk.kind === 'list') {
    arr(value).forEach((item, i) => unknownInType(walk.elem, item, { up: at, i }, out));
  } else if (walk.kind === 'map') {
    for (const [k, v] of Object.entries(obj(value))) unknownInType(walk.elem, v, { up: at, name: k }, out);
  } else if (walk.kind === 'model' && isObject(value)) {
    for (const k in value) {
      const fieldType = walk.fields.get(k);
      if (fieldType === undefined) out.push(pathOf({ up: at, name: k }));
      else if (typeWalk(fieldType).kind !== 'leaf') unknownInType(fieldType, value[k], { up: at, name: k }, out);
    }
  }
}

function unknownInSchema(schema: SchemaNode, value: unknown, path: string, out: string[]): void {
  if (schema.model) return unknownInType(schema.model, value, path === '' ? undefined : { up: undefined, name: path }, out);
  if (schema.type === 'array' && schema.items) {
    arr(value).forEach((item, i) => unknownInSchema(schema.items!, item, index(path, i), out));
    return;
  }
  if (schema.type !== 'object' || !isObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const property = schema.properties?.[k] ?? schema.additionalProperties;
    if (!property) out.push(child(path, k));
    else unknownInSchema(property, v, child(path, k), out);
  }
}

// Paths as kube-apiserver's strict decoder reports them: "spec.foo", "spec.containers[0].bar".
export function unknownFieldPaths(schema: string | SchemaNode, value: unknown): string[] {
  const out: string[] = [];
  if (typeof schema === 'string') unknownInType(schema, value, undefined, out);
  else unknownInSchema(schema, value, '', out);
  return out;
}

// ---- OpenAPI v3 validation of custom resources ----
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const dateTime = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

// kube-openapi names the location "<path> in body"; the root's fields have no prefix.
function bodyName(path: string): string {
  return path === '' ? 'body' : path;
}

function typeMatches(schema: SchemaNode, value: unknown): boolean {
  const actual = jsonType(value);
  if (schema.intOrString) return actual === 'integer' || actual === 'string';
  return actual === schema.type;
}

function validateValue(schema: SchemaNode, value: unknown, path: string, errs: FieldError[]): void {
  if (!typeMatches(schema, value)) {
    const actual = jsonType(value);
    errs.push(typeInvalid(path, actual, `${bodyName(path)} in body must be of type ${schema.type}: "${actual}"`));
    return;
  }
  if (schema.enum && !schema.enum.includes(value as string)) errs.push(notSupported(path, value, schema.enum));
  if (schema.minimum !== undefined && typeof value === 'number' && value < schema.minimum) {
    errs.push(invalid(path, value, `${bodyName(path)} in body should be greater than or equal to ${schema.minimum}`));
  }
  if (schema.pattern && typeof value === 'string' && !new RegExp(schema.pattern).test(value)) {
    errs.push(invalid(path, value, `${bodyName(path)} in body should match '${schema.pattern}'`));
  }
  if (schema.format === 'date-time' && typeof value === 'string' && !dateTime.test(value)) {
    errs.push(invalid(path, value, `${bodyName(path)} in body must be of type date-time: "${value}"`));
  }
  if (schema.type === 'object' && isObject(value)) {
    for (const name of schema.required ?? []) if (!(name in value)) errs.push(required(child(path, name)));
    for (const [k, v] of Object.entries(value)) {
      const property = schema.properties?.[k] ?? schema.additionalProperties;
      if (property) validateValue(property, v, child(path, k), errs);
    }
  }
  if (schema.type === 'array' && schema.items) arr(value).forEach((v, i) => validateValue(schema.items!, v, index(path, i), errs));
}

function validateRules(schema: SchemaNode, value: unknown, oldValue: unknown, hasOld: boolean, path: string, errs: FieldError[]): void {
  if (value === undefined) return;
  for (const rule of schema.rules ?? []) {
    if (rule.transition && !hasOld) continue;
    if (!rule.check(value, oldValue)) errs.push(invalid(path, schema.type, rule.message));
  }
  if (schema.type === 'object' && isObject(value) && schema.properties) {
    const old = obj(oldValue);
    for (const [k, property] of Object.entries(schema.properties)) {
      validateRules(property, value[k], old[k], hasOld && isObject(oldValue) && old[k] !== undefined, child(path, k), errs);
    }
  }
}

// Schema errors first; CEL rules run only when no value had the wrong type, as the apiserver does.
export function validateAgainstSchema(schema: SchemaNode, value: unknown, oldValue?: unknown): FieldError[] {
  const errs: FieldError[] = [];
  validateValue(schema, value, '', errs);
  if (errs.some((e) => e.type === 'FieldValueTypeInvalid')) return errs;
  validateRules(schema, value, oldValue, oldValue !== undefined, '', errs);
  return errs;
}
