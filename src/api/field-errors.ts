// Field-level validation errors with the exact wording of k8s.io/apimachinery/pkg/util/validation/field.
// Field paths are plain strings built the upstream way: children joined by '.', indexes and map keys in brackets.

export type FieldErrorType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'InternalError'
  | 'FieldValueTypeInvalid';

// badValue: `undefined` means "no value to print" (upstream's omitValue); `null` prints as null, like a Go nil.
export interface FieldError {
  type: FieldErrorType;
  field: string;
  badValue?: unknown;
  detail: string;
}

const typeText: Record<FieldErrorType, string> = {
  FieldValueNotFound: 'Not found',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  InternalError: 'Internal error',
  FieldValueTypeInvalid: 'Invalid value',
};

// A value already rendered the way Go's %#v would print it (a struct or a typed slice).
export class GoLiteral {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

// Go's %q for a string.
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

// How ErrorBody prints a bad value: simple types with %v, strings with %q, anything else with %#v.
export function goValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof GoLiteral) return value.text;
  switch (typeof value) {
    case 'string':
      return goQuote(value);
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.length === 0 ? '[]string{}' : `[]string{${value.map(goQuote).join(', ')}}`;
  }
  return JSON.stringify(value);
}

export function fieldErrorBody(e: FieldError): string {
  let s = typeText[e.type];
  const valueless =
    e.type === 'FieldValueRequired' ||
    e.type === 'FieldValueForbidden' ||
    e.type === 'FieldValueTooLong' ||
    e.type === 'InternalError' ||
    e.badValue === undefined;
  if (!valueless) s += `: ${goValue(e.badValue)}`;
  if (e.detail.length > 0) s += `: ${e.detail}`;
  return s;
}

export function fieldErrorMessage(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

// ---- paths ----
export function child(path: string, ...names: string[]): string {
  let p = path;
  for (const name of names) p = p === '' ? name : `${p}.${name}`;
  return p;
}
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}
export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}

/**
 * Where a walk over a value is, as links up to the root (a field `name` or a list index `i`): written out as a path
 * ("spec.containers[0].bar") by pathOf only where an error names it, as almost every request has none.
 */
export interface PathLink {
  readonly up: PathLink | undefined;
  readonly name?: string;
  readonly i?: number;
}

export function pathOf(link: PathLink | undefined): string {
  const links: PathLink[] = [];
  for (let l = link; l; l = l.up) links.push(l);
  let path = '';
  for (let j = links.length - 1; j >= 0; j--) {
    const l = links[j]!;
    path = l.name === undefined ? index(path, l.i!) : child(path, l.name);
  }
  return path;
}

// ---- constructors (upstream field.Required, field.Invalid, …) ----
export function notFound(field: string, value: unknown): FieldError {
  return { type: 'FieldValueNotFound', field, badValue: value, detail: '' };
}
export function required(field: string, detail = ''): FieldError {
  return { type: 'FieldValueRequired', field, badValue: '', detail };
}
export function duplicate(field: string, value: unknown): FieldError {
  return { type: 'FieldValueDuplicate', field, badValue: value, detail: '' };
}
export function invalid(field: string, value: unknown, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field, badValue: value, detail };
}
export function notSupported(field: string, value: unknown, validValues: readonly string[]): FieldError {
  const detail = validValues.length > 0 ? 'supported values: ' + validValues.map(goQuote).join(', ') : '';
  return { type: 'FieldValueNotSupported', field, badValue: value, detail };
}
export function forbidden(field: string, detail: string): FieldError {
  return { type: 'FieldValueForbidden', field, badValue: '', detail };
}
export function tooLong(field: string, value: unknown, maxLength: number): FieldError {
  return { type: 'FieldValueTooLong', field, badValue: value, detail: `must have at most ${maxLength} bytes` };
}
export function tooLongMaxLength(field: string, value: unknown, maxLength: number): FieldError {
  const detail = maxLength >= 0 ? `may not be longer than ${maxLength}` : 'value is too long';
  return { type: 'FieldValueTooLong', field, badValue: value, detail };
}
export function tooMany(field: string, actualQuantity: number, maxQuantity: number): FieldError {
  const detail = maxQuantity >= 0 ? `must have at most ${maxQuantity} items` : 'too many items';
  return { type: 'FieldValueTooMany', field, badValue: actualQuantity >= 0 ? actualQuantity : undefined, detail };
}
export function internalError(field: string, err: Error): FieldError {
  return { type: 'InternalError', field, badValue: null, detail: err.message };
}
export function typeInvalid(field: string, value: unknown, detail: string): FieldError {
  return { type: 'FieldValueTypeInvalid', field, badValue: value, detail };
}
