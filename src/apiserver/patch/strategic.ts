// Strategic merge patch, the server-side half of k8s.io/apimachinery/pkg/util/strategicpatch (StrategicMergeMapPatch
// with MergeParallelList and IgnoreUnmatchedNulls): list merging by patchMergeKey, primitive list union, `$patch`
// directives, `$setElementOrder/`, `$deleteFromPrimitiveList/`, `$retainKeys`, and null deleting a field.
// Directives never reach the result: upstream drops them when decoding into the typed object.

import { PatchError } from './errors.ts';
import { childSchema, schemaForGvk, type SchemaNode } from './smp-schema.ts';
import { deepClone, goFormat, goTypeName, isObject, jsonKind, own, setMember, type JsonObject } from './values.ts';

const directiveMarker = '$patch';
const retainKeysDirective = '$retainKeys';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList';
const setElementOrderPrefix = '$setElementOrder';

const badRequest = (message: string): PatchError => new PatchError(400, 'BadRequest', message);
// Errors upstream does not map to a status become 500 with reason Unknown and the error text as message.
const internal = (message: string): PatchError => new PatchError(500, '', message);
const errBadPatchFormatForPrimitiveList = (): PatchError => badRequest('invalid patch format of primitive list');
const errBadPatchFormatForRetainKeys = (): PatchError => badRequest('invalid patch format of retainKeys');
const errBadPatchFormatForSetElementOrderList = (): PatchError => badRequest('invalid patch format of setElementOrder list');
const errNoListOfLists = (): PatchError =>
  new PatchError(422, 'Invalid', 'the server rejected our request due to an error in our request', 'lists of lists are not supported');
const errNoMergeKey = (m: JsonObject, key: string): PatchError =>
  internal(`map: ${goFormat(m)} does not contain declared merge key: ${key}`);
const errBadArgType = (expected: string, actual: unknown): PatchError =>
  internal(`expected a ${expected}, but received a ${goTypeName(actual)}`);
const errBadPatchType = (directive: unknown, m: JsonObject): PatchError =>
  internal(`unknown patch type: ${goFormat(directive)} in map: ${goFormat(m)}`);

export function applyStrategicMergePatch(original: unknown, patch: unknown, gvk: string): unknown {
  if (patch === null) return deepClone(original);
  if (!isObject(patch)) {
    throw badRequest(`json: cannot unmarshal ${jsonKind(patch)} into Go value of type map[string]interface {}`);
  }
  const merged = mergeMap(isObject(original) ? deepClone(original) : {}, deepClone(patch), schemaForGvk(gvk));
  return removeDirectives(merged);
}

type ElementKind = 'map' | 'scalar';

function mergeMap(original: JsonObject, patch: JsonObject, schema: SchemaNode | undefined): JsonObject {
  if (directiveMarker in patch) {
    const directive = patch[directiveMarker];
    if (directive === 'replace') {
      delete patch[directiveMarker];
      return patch;
    }
    if (directive === 'delete') return {};
    throw errBadPatchType(directive, patch);
  }
  applyRetainKeys(original, patch);
  mergeOrderedLists(original, patch, schema);

  for (const [patchKey, patchValue] of Object.entries(patch)) {
    let key = patchKey;
    let isDeleteList = false;
    if (patchKey.startsWith(deleteFromPrimitiveListPrefix)) {
      key = extractKey(patchKey, deleteFromPrimitiveListPrefix);
      isDeleteList = true;
    }
    if (patchValue === null) {
      delete original[key];
      continue;
    }
    const current = own(original, key);
    if (current === undefined || valueType(current) !== valueType(patchValue)) {
      if (!isDeleteList) setMember(original, key, withoutNulls(patchValue));
      continue;
    }
    const child = childSchema(schema, key);
    if (isObject(current)) {
      setMember(original, key, mergeMap(current, patchValue as JsonObject, child));
    } else if (Array.isArray(current)) {
      setMember(original, key, mergeSliceHandler(current, patchValue as unknown[], child, isDeleteList));
    } else {
      setMember(original, key, patchValue);
    }
  }
  return original;
}

function valueType(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (isObject(value)) return 'map';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return typeof value;
}

/** `$retainKeys`: fields of the original missing from the list are cleared; the patch may only set listed fields. */
function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!(retainKeysDirective in patch)) return;
  const retainKeys = patch[retainKeysDirective];
  delete patch[retainKeysDirective];
  if (!Array.isArray(retainKeys)) throw errBadPatchFormatForRetainKeys();
  const retained = new Set(retainKeys);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || key.startsWith(deleteFromPrimitiveListPrefix) || key.startsWith(setElementOrderPrefix)) continue;
    if (!retained.has(key)) throw errBadPatchFormatForRetainKeys();
  }
  for (const key of Object.keys(original)) if (!retained.has(key)) delete original[key];
}

function extractKey(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    throw prefix === deleteFromPrimitiveListPrefix ? errBadPatchFormatForPrimitiveList() : errBadPatchFormatForSetElementOrderList();
  }
  return key.slice(slash + 1);
}

/**
 * `$setElementOrder/<list>`: merges the list it names (if patched) and orders the result: items named in the order
 * list follow it, server-only items keep their relative place from the live list.
 */
function mergeOrderedLists(original: JsonObject, patch: JsonObject, schema: SchemaNode | undefined): void {
  for (const [directiveKey, orderValue] of Object.entries(patch)) {
    if (!directiveKey.startsWith(setElementOrderPrefix)) continue;
    delete patch[directiveKey];
    if (!Array.isArray(orderValue)) throw errBadArgType('[]interface {}', orderValue);
    const key = extractKey(directiveKey, setElementOrderPrefix);
    const originalList = own(original, key);
    const patchList = own(patch, key);
    if (originalList !== undefined && !Array.isArray(originalList)) throw errBadArgType('[]interface {}', originalList);
    if (patchList !== undefined && !Array.isArray(patchList)) throw errBadArgType('[]interface {}', patchList);
    const child = childSchema(schema, key);
    const mergeKey = child?.patchMergeKey ?? '';
    validatePatchWithSetOrderList(patchList ?? [], orderValue, mergeKey);

    let merged: unknown[];
    if (originalList && patchList) merged = mergeSliceHandler(originalList, patchList, child, false);
    else if (originalList) merged = originalList;
    else if (patchList) merged = removeDirectives(withoutNulls(patchList)) as unknown[];
    else continue;

    const kind = sliceElementKind(originalList ?? [], patchList ?? []);
    const [patchItems, serverOnly] = partition(merged, orderValue, mergeKey);
    setMember(original, key, normalizeElementOrder(patchItems, serverOnly, orderValue, originalList ?? [], mergeKey, kind));
    delete patch[key];
  }
}

function validatePatchWithSetOrderList(patchList: unknown[], orderList: unknown[], mergeKey: string): void {
  if (orderList.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey ? splitDeleteItems(patchList)[0] : patchList;
  let patchIndex = 0;
  let orderIndex = 0;
  while (patchIndex < nonDelete.length && orderIndex < orderList.length) {
    const item = nonDelete[patchIndex];
    if (isObject(item) && directiveMarker in item) {
      patchIndex++;
      continue;
    }
    if (mergeKeyValueEqual(item, orderList[orderIndex], mergeKey)) patchIndex++;
    orderIndex++;
  }
  if (patchIndex < nonDelete.length && orderIndex >= orderList.length) {
    throw internal(
      `the order in patch list:\n${goFormat(patchList)}\n doesn't match ${setElementOrderPrefix} list:\n${goFormat(orderList)}`,
    );
  }
}

function mergeKeyValueEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (!mergeKey) return left === right;
  if (!isObject(left)) throw errBadArgType('map[string]interface {}', left);
  if (!isObject(right)) throw errBadArgType('map[string]interface {}', right);
  if (!(mergeKey in left)) throw errNoMergeKey(left, mergeKey);
  if (!(mergeKey in right)) throw errNoMergeKey(right, mergeKey);
  return left[mergeKey] === right[mergeKey];
}

function mergeSliceHandler(original: unknown[], patch: unknown[], schema: SchemaNode | undefined, isDeleteList: boolean): unknown[] {
  // Delete lists apply whatever the field's strategy; lists without the merge strategy are replaced.
  if (schema?.patchStrategy === 'merge' || isDeleteList) return mergeSlice(original, patch, schema, isDeleteList);
  return withoutNulls(patch) as unknown[];
}

function mergeSlice(original: unknown[], patch: unknown[], schema: SchemaNode | undefined, isDeleteList: boolean): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = sliceElementKind(original, patch);
  const mergeKey = schema?.patchMergeKey ?? '';
  let merged: unknown[];
  if (kind === 'scalar') {
    if (isDeleteList) {
      const toDelete = new Set(patch);
      return original.filter((item) => !toDelete.has(item));
    }
    merged = [...new Set([...original, ...patch])];
  } else {
    if (!mergeKey) throw internal('cannot merge lists without merge key for type map');
    [original, patch] = applyListItemDirectives(original, patch as JsonObject[], mergeKey);
    merged = [...original];
    for (const item of patch as JsonObject[]) {
      if (!(mergeKey in item)) throw errNoMergeKey(item, mergeKey);
      const index = merged.findIndex((existing) => {
        if (!isObject(existing)) throw internal(`value for key ${merged.indexOf(existing)} is not a map`);
        return mergeKey in existing && existing[mergeKey] === item[mergeKey];
      });
      if (index >= 0) merged[index] = mergeMap(merged[index] as JsonObject, item, schema?.elem);
      else merged.push(withoutNulls(item));
    }
  }
  const [patchItems, serverOnly] = partition(merged, patch, mergeKey);
  return normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind);
}

/** `{"$patch": "delete", <key>: v}` removes items; `{"$patch": "replace"}` makes the patch items the whole list. */
function applyListItemDirectives(original: unknown[], patch: JsonObject[], mergeKey: string): [unknown[], JsonObject[]] {
  const plainItems: JsonObject[] = [];
  let replace = false;
  for (const item of patch) {
    if (!(directiveMarker in item)) {
      plainItems.push(item);
      continue;
    }
    const directive = item[directiveMarker];
    if (directive === 'delete') {
      if (!(mergeKey in item)) throw errNoMergeKey(item, mergeKey);
      original = original.filter((existing) => !(isObject(existing) && mergeKey in existing && existing[mergeKey] === item[mergeKey]));
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw internal('merging lists cannot yet be specified in the patch');
    } else {
      throw errBadPatchType(directive, item);
    }
  }
  return replace ? [plainItems, []] : [original, plainItems];
}

function sliceElementKind(...lists: unknown[][]): ElementKind {
  let kind: string | undefined;
  for (const list of lists) {
    for (const item of list) {
      const itemKind = valueType(item);
      if (kind === undefined) {
        if (itemKind === 'list') throw errNoListOfLists();
        kind = itemKind;
      } else if (kind !== itemKind) {
        throw internal(`list element types are not identical: ${goFormat(lists)}`);
      }
    }
  }
  if (kind === undefined) throw internal('no elements in any of the given slices');
  return kind === 'map' ? 'map' : 'scalar';
}

function splitDeleteItems(list: unknown[]): [unknown[], unknown[]] {
  const keep: unknown[] = [];
  const toDelete: unknown[] = [];
  for (const item of list) {
    if (!isObject(item)) throw errBadArgType('map[string]interface {}', item);
    (item[directiveMarker] === 'delete' ? toDelete : keep).push(item);
  }
  return [keep, toDelete];
}

function identity(item: unknown, mergeKey: string): unknown {
  return mergeKey ? (isObject(item) ? item[mergeKey] : undefined) : item;
}

function indexIn(list: unknown[], item: unknown, mergeKey: string): number {
  const id = identity(item, mergeKey);
  return list.findIndex((candidate) => identity(candidate, mergeKey) === id);
}

/** Items present in `by` (by merge key or value) and the others, each keeping the order of `list`. */
function partition(list: unknown[], by: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const present: unknown[] = [];
  const absent: unknown[] = [];
  for (const item of list) {
    if (mergeKey) {
      if (!isObject(item)) throw errBadArgType('map[string]interface {}', item);
      if (!(mergeKey in item)) throw errNoMergeKey(item, mergeKey);
    }
    (indexIn(by, item, mergeKey) >= 0 ? present : absent).push(item);
  }
  return [present, absent];
}

/** Sorts patch items by the patch order and server-only items by the live order, then interleaves them. */
function normalizeElementOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: ElementKind,
): unknown[] {
  const sortedPatch = sortByOrder(patchItems, patchOrder, mergeKey, kind);
  const sortedServer = sortByOrder(serverOnly, serverOrder, mergeKey, kind);
  return mergeSorted(sortedServer, sortedPatch, serverOrder, mergeKey);
}

function sortByOrder(items: unknown[], order: unknown[], mergeKey: string, kind: ElementKind): unknown[] {
  let toSort = items;
  let toDelete: unknown[] = [];
  if (kind === 'map') {
    for (const item of [...items, ...order]) {
      if (!isObject(item)) throw errBadArgType('map[string]interface {}', item);
      if (!(mergeKey in item)) throw errNoMergeKey(item, mergeKey);
    }
    [toSort, toDelete] = splitDeleteItems(items);
  }
  const position = (item: unknown): number => {
    const i = indexIn(order, item, mergeKey);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return [...toSort.sort((a, b) => position(a) - position(b)), ...toDelete];
}

/**
 * Inserts server-only items (`left`) among patch items (`right`): a left item goes first while it comes before the
 * next right item in the live order; relative orders of both lists are kept.
 */
function mergeSorted(left: unknown[], right: unknown[], serverOrder: unknown[], mergeKey: string): unknown[] {
  const result: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) result.push(right[j++]);
    else if (j >= right.length) result.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey);
      const ri = indexIn(serverOrder, right[j], mergeKey);
      if (li >= 0 && ri >= 0 && li < ri) result.push(left[i++]);
      else result.push(right[j++]);
    }
  }
  return result;
}

/** Null members of a value taken whole from the patch are dropped (IgnoreUnmatchedNulls). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  for (const [key, member] of Object.entries(value)) {
    if (member === null) delete value[key];
    else value[key] = withoutNulls(member);
  }
  return value;
}

function isDirectiveKey(key: string): boolean {
  return (
    key === directiveMarker ||
    key === retainKeysDirective ||
    key.startsWith(`${setElementOrderPrefix}/`) ||
    key.startsWith(`${deleteFromPrimitiveListPrefix}/`)
  );
}

/** Maps still carrying `$patch` are dropped; other directive keys are removed. */
function removeDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((item) => !(isObject(item) && directiveMarker in item)).map(removeDirectives);
  if (!isObject(value)) return value;
  for (const [key, member] of Object.entries(value)) {
    if (isDirectiveKey(key) || (isObject(member) && directiveMarker in member)) delete value[key];
    else value[key] = removeDirectives(member);
  }
  return value;
}
