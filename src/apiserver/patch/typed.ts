// Schema-aware walks over objects for server-side apply, after structured-merge-diff's typed package:
// field sets of an object, comparison, merge (applied config wins), and removal of set members.

import { PatchError } from './errors.ts';
import { canonicalJson, type Element, FieldSet, fieldElement, pathString } from './fieldpath.ts';
import { childSchema, type SchemaNode } from './smp-schema.ts';
import { deepEqual, isEmptyObject, isObject, own, setMember, type JsonObject } from './values.ts';

// Objects without schema behave like structs (every key is a named field); lists without schema are atomic.
const deducedStruct: SchemaNode = { kind: 'struct', fields: {} };
const atomicList: SchemaNode = { kind: 'list', atomic: true };

/** The node to walk `value` with; undefined means a scalar (a leaf). */
function resolve(node: SchemaNode | undefined, value: unknown): SchemaNode | undefined {
  if (node) return node;
  if (isObject(value)) return deducedStruct;
  return Array.isArray(value) ? atomicList : undefined;
}

/** Whether `value` fits the shape of `node` (null and absent fit everything). */
function fits(node: SchemaNode | undefined, value: unknown): boolean {
  if (value === undefined || value === null || !node) return true;
  return node.kind === 'list' ? Array.isArray(value) : isObject(value);
}

function isLeaf(node: SchemaNode | undefined, ...values: unknown[]): boolean {
  return !node || node.atomic === true || !values.every((v) => fits(node, v));
}

/** The path element of a list item: `v:` for sets, `k:` for associative lists. */
export function itemElement(list: SchemaNode, item: unknown, path: Element[]): Element {
  if (list.listType === 'set') return `v:${canonicalJson(item)}`;
  const keys = list.listKeys ?? [];
  if (!isObject(item)) throw invalidApplyList(path, 'associative list with keys has an element that is not a map');
  const key: JsonObject = {};
  for (const field of keys) {
    const value = item[field] ?? list.keyDefaults?.[field];
    if (value === undefined) {
      throw invalidApplyList(path, `associative list with keys has an element that omits key field ${JSON.stringify(field)} (and doesn't have default value)`);
    }
    key[field] = value;
  }
  return `k:${canonicalJson(key)}`;
}

function invalidApplyList(path: Element[], message: string): PatchError {
  return new PatchError(500, '', `${pathString(path)}: ${message}`);
}

/** Items of a list by path element, first occurrence winning, in list order. */
function indexItems(list: SchemaNode, items: unknown[], path: Element[]): Map<Element, unknown> {
  const byElement = new Map<Element, unknown>();
  for (const item of items) {
    const element = itemElement(list, item, path);
    if (!byElement.has(element)) byElement.set(element, item);
  }
  return byElement;
}

/** Every leaf field and list item the object sets (smd ToFieldSet). */
export function toFieldSet(value: unknown, node: SchemaNode | undefined): FieldSet {
  const set = new FieldSet();
  collect(value, node, set, []);
  return set.compact();
}

function collect(value: unknown, node: SchemaNode | undefined, here: FieldSet, path: Element[]): void {
  const n = resolve(node, value);
  if (isLeaf(n, value)) {
    here.member = true;
    return;
  }
  if (n!.kind === 'list') {
    if (!Array.isArray(value)) return;
    for (const item of value) {
      const element = itemElement(n!, item, path);
      const child = here.ensure(element);
      collect(item, n!.elem, child, [...path, element]);
      child.member = true;
    }
    return;
  }
  if (!isObject(value)) return;
  for (const [key, member] of Object.entries(value)) {
    const element = fieldElement(key);
    const child = here.ensure(element);
    collect(member, childSchema(n, key), child, [...path, element]);
    // Map entries are members themselves; struct fields only when null or empty.
    if (member === null || isEmptyObject(member) || n!.kind === 'map') child.member = true;
  }
}

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** Fields added, modified and removed going from `lhs` to `rhs` (smd Compare). */
export function compare(lhs: unknown, rhs: unknown, node: SchemaNode | undefined): Comparison {
  const out: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  compareAt(lhs, rhs, node, undefined, out);
  return out;
}

// Where a walk is, as links up to the root: the path is written out only where a member is inserted or an error
// names it, not at every node visited.
interface Trail {
  readonly up: Trail | undefined;
  readonly element: Element;
}

function trailPath(trail: Trail | undefined): Element[] {
  const path: Element[] = [];
  for (let t = trail; t; t = t.up) path.push(t.element);
  return path.reverse();
}

/** The node of `set` at the trail's path, made (as a non-member) where missing. */
function nodeAt(set: FieldSet, trail: Trail | undefined): FieldSet {
  return trail ? nodeAt(set, trail.up).ensure(trail.element) : set;
}

function insertAt(set: FieldSet, trail: Trail | undefined): void {
  if (trail) nodeAt(set, trail).member = true; // the root is never a member
}

function compareAt(lhs: unknown, rhs: unknown, node: SchemaNode | undefined, trail: Trail | undefined, out: Comparison): void {
  // A side that is absent makes the whole other side added (or removed): every node of it a member.
  if (trail && (lhs === undefined) !== (rhs === undefined)) {
    if (lhs === undefined) allOf(rhs, node, nodeAt(out.added, trail), trail);
    else allOf(lhs, node, nodeAt(out.removed, trail), trail);
    return;
  }
  // Nothing below two equal values is added, modified or removed: skip the walk (most of an update is unchanged).
  if (lhs !== undefined && rhs !== undefined && deepEqual(lhs, rhs)) return;
  const n = resolve(node, rhs ?? lhs);
  const leafRule = (): void => {
    if (lhs === undefined) insertAt(out.added, trail);
    else if (rhs === undefined) insertAt(out.removed, trail);
    else if (!deepEqual(lhs, rhs)) insertAt(out.modified, trail);
  };
  if (isLeaf(n, lhs, rhs)) {
    leafRule();
    return;
  }
  if (n!.kind === 'list') {
    const left = Array.isArray(lhs) ? lhs : [];
    const right = Array.isArray(rhs) ? rhs : [];
    if (left.length === 0 && right.length === 0) {
      leafRule();
      return;
    }
    const path = trailPath(trail);
    const leftItems = indexItems(n!, left, path);
    const rightItems = indexItems(n!, right, path);
    for (const element of new Set([...leftItems.keys(), ...rightItems.keys()])) {
      compareAt(leftItems.get(element), rightItems.get(element), n!.elem, { up: trail, element }, out);
    }
  } else {
    const left = isObject(lhs) ? lhs : undefined;
    const right = isObject(rhs) ? rhs : undefined;
    if ((!left || isEmptyObject(left)) && (!right || isEmptyObject(right))) {
      leafRule();
      return;
    }
    const visit = (key: string): void => {
      const child = childSchema(n, key);
      // A non-pointer struct is `{}` in Go's zero value: it exists wherever its parent does.
      const fill = (parent: JsonObject | undefined, v: unknown): unknown => (child?.present && parent && v === undefined ? {} : v);
      compareAt(fill(left, own(left, key)), fill(right, own(right, key)), child, { up: trail, element: fieldElement(key) }, out);
    };
    for (const key in left) visit(key);
    for (const key in right) if (!left || !Object.hasOwn(left, key)) visit(key);
  }
  if (lhs === undefined) insertAt(out.added, trail);
  else if (rhs === undefined) insertAt(out.removed, trail);
}

/**
 * Makes `here` and everything below it members: what compareAt finds when one side is absent, walked directly into
 * the set. It visits what compareAt would: list items by their element, object fields, leaves by the same rule.
 */
function allOf(value: unknown, node: SchemaNode | undefined, here: FieldSet, trail: Trail): void {
  here.member = true;
  const n = resolve(node, value);
  if (isLeaf(n, value)) return;
  if (n!.kind === 'list') {
    if (!Array.isArray(value) || value.length === 0) return;
    for (const [element, item] of indexItems(n!, value, trailPath(trail))) allOf(item, n!.elem, here.ensure(element), { up: trail, element });
    return;
  }
  if (!isObject(value)) return;
  for (const key in value) {
    const element = fieldElement(key);
    allOf(value[key], childSchema(n, key), here.ensure(element), { up: trail, element });
  }
}

/** Merges the applied configuration into the live object; the configuration wins on leaves (smd Merge). */
export function merge(lhs: unknown, rhs: unknown, node: SchemaNode | undefined, path: Element[] = []): unknown {
  if (rhs === undefined) return lhs;
  if (lhs === undefined) return rhs;
  const n = resolve(node, rhs);
  if (isLeaf(n, lhs, rhs) || lhs === null || rhs === null) return rhs;
  if (n!.kind === 'list') return mergeLists(lhs as unknown[], rhs as unknown[], n!, path);
  const left = lhs as JsonObject;
  const right = rhs as JsonObject;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(left)) {
    setMember(out, key, Object.hasOwn(right, key) ? merge(value, right[key], childSchema(n, key), [...path, fieldElement(key)]) : value);
  }
  for (const [key, value] of Object.entries(right)) if (!Object.hasOwn(left, key)) setMember(out, key, value);
  return out;
}

/**
 * Item order of a merged list: the applied order for its items, live-only items kept where they were relative to
 * the shared items.
 */
function mergeLists(lhs: unknown[], rhs: unknown[], list: SchemaNode, path: Element[]): unknown[] {
  const leftItems = indexItems(list, lhs, path);
  const rightItems = indexItems(list, rhs, path);
  const leftOrder = [...leftItems.keys()];
  const rightOrder = [...rightItems.keys()];
  const shared = rightOrder.filter((element) => leftItems.has(element));
  let nextShared = shared.shift();
  const out: unknown[] = [];
  const mergeItem = (element: Element): void => {
    out.push(merge(leftItems.get(element), rightItems.get(element), list.elem, [...path, element]));
  };
  let li = 0;
  let ri = 0;
  while (li < leftOrder.length || ri < rightOrder.length) {
    const progress = li + ri;
    if (li < leftOrder.length && ri < rightOrder.length) {
      const element = leftOrder[li]!;
      if (element === rightOrder[ri]) {
        mergeItem(element);
        li++;
        ri++;
        nextShared = shared.shift();
        continue;
      }
      if (rightItems.has(element) && nextShared !== undefined && nextShared !== element) {
        li++; // shared item that the applied order places later
        continue;
      }
    }
    if (li < leftOrder.length && !rightItems.has(leftOrder[li]!)) {
      out.push(leftItems.get(leftOrder[li]!));
      li++;
      continue;
    }
    if (ri < rightOrder.length) {
      const element = rightOrder[ri]!;
      mergeItem(element);
      ri++;
      if (nextShared === element) nextShared = shared.shift();
    }
    if (li + ri === progress) li++; // a shared item already emitted from the applied side
  }
  return out;
}

/** Removes the members of `set` from the object: fields, map entries, list items (smd RemoveItems). */
export function removeItems(value: unknown, set: FieldSet, node: SchemaNode | undefined): unknown {
  const n = resolve(node, value);
  if (isLeaf(n, value) || value === null) return value;
  if (n!.kind === 'list') {
    const out: unknown[] = [];
    for (const item of value as unknown[]) {
      const sub = set.children.get(itemElement(n!, item, []));
      if (sub?.member) continue;
      out.push(sub && sub.children.size > 0 ? removeItems(item, sub, n!.elem) : item);
    }
    return out;
  }
  const out: JsonObject = {};
  for (const [key, member] of Object.entries(value as JsonObject)) {
    const sub = set.children.get(fieldElement(key));
    if (sub?.member) continue;
    if (!sub || sub.children.size === 0) {
      setMember(out, key, member);
      continue;
    }
    const child = childSchema(n, key);
    const kept = removeItems(member, sub, child);
    // Go drops emptied maps and lists (omitempty); emptied structs stay.
    const emptied = (Array.isArray(kept) && kept.length === 0) || (child?.kind === 'map' && isEmptyObject(kept));
    if (!emptied) setMember(out, key, kept);
  }
  return out;
}

/** Adds struct fields leading to members as members themselves (smd EnsureNamedFieldsAreMembers). */
export function ensureNamedFieldsAreMembers(set: FieldSet, node: SchemaNode | undefined): FieldSet {
  const out = new FieldSet();
  out.member = set.member;
  const n = node ?? deducedStruct;
  for (const [element, child] of set.children) {
    const isField = element.startsWith('f:');
    const childNode = isField ? childSchema(n, element.slice(2)) : n.elem;
    const copy = ensureNamedFieldsAreMembers(child, childNode);
    if (isField && n.kind === 'struct') copy.member = true;
    out.children.set(element, copy);
  }
  return out;
}
