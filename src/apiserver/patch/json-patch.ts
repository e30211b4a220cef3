// RFC 6902 JSON patch and RFC 7386 JSON merge patch, with kube-apiserver's error mapping (evanphx/json-patch v4
// semantics: merge patch drops nulls from the values it adds).

import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { PatchError } from './errors.ts';
import { deepClone, isObject, jsonKind, own, setMember } from './values.ts';

const maxJsonPatchOperations = 10000;
const genericInvalidMessage = 'the server rejected our request due to an error in our request';

export function applyJsonPatch(original: unknown, operations: unknown): unknown {
  if (operations === null) return deepClone(original); // decodes to an empty patch
  if (!Array.isArray(operations)) {
    throw new PatchError(400, 'BadRequest', `json: cannot unmarshal ${jsonKind(operations)} into Go value of type jsonpatch.Patch`);
  }
  const notAnOperation = operations.find((op) => op !== null && !isObject(op));
  if (notAnOperation !== undefined) {
    throw new PatchError(400, 'BadRequest', `json: cannot unmarshal ${jsonKind(notAnOperation)} into Go value of type jsonpatch.Operation`);
  }
  if (operations.length > maxJsonPatchOperations) {
    throw new PatchError(
      413,
      'RequestEntityTooLarge',
      `Request entity too large: The allowed maximum operations in a JSON patch is ${maxJsonPatchOperations}, got ${operations.length}`,
    );
  }
  try {
    const result = jsonPatch.applyPatch(deepClone(original), deepClone(operations) as Operation[], true, true).newDocument;
    return result;
  } catch (err) {
    throw new PatchError(422, 'Invalid', genericInvalidMessage, err instanceof Error ? err.message : String(err));
  }
}

export function applyMergePatch(original: unknown, patch: unknown): unknown {
  if (Array.isArray(patch)) {
    // The patch replaces the whole document; the apiserver then fails to decode a list as an object.
    const patched = JSON.stringify(patch.map((item) => (item === null ? item : withoutNulls(item))));
    const decodeError =
      'couldn\'t get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }';
    throw new PatchError(422, 'Invalid', ` "" is invalid: patch: Invalid value: ${JSON.stringify(patched)}: ${decodeError}`);
  }
  if (!isObject(patch)) throw new PatchError(400, 'BadRequest', 'Invalid JSON Patch');
  if (!isObject(original)) return withoutNulls(deepClone(patch));
  return mergeObjects(deepClone(original), deepClone(patch));
}

function mergeObjects(doc: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(patch)) {
    const current = own(doc, key);
    if (value === null) delete doc[key];
    else if (current === undefined || current === null || !isObject(current)) setMember(doc, key, withoutNulls(value));
    else setMember(doc, key, isObject(value) ? mergeObjects(current, value) : value);
  }
  return doc;
}

/** Removes null members of objects at any depth; nulls directly inside lists stay (as evanphx does). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === null ? item : withoutNulls(item)));
  if (!isObject(value)) return value;
  for (const [key, member] of Object.entries(value)) {
    if (member === null) delete value[key];
    else value[key] = withoutNulls(member);
  }
  return value;
}
