// Field sets of server-side apply (sigs.k8s.io/structured-merge-diff fieldpath) and their FieldsV1 encoding:
// `f:<field>`, `k:<json of key fields>` (associative list item), `v:<json>` (set item), `i:<index>`, and `.` for
// "the node itself is a member" when it also has children.

import { isObject } from './values.ts';

/** A path element in its FieldsV1 spelling. */
export type Element = string;

/** Canonical JSON (keys sorted) used inside `k:` and `v:` elements. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export const fieldElement = (name: string): Element => `f:${name}`;

// Order of path elements in smd: field names, then keys, then values, then indexes.
const elementRank: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };
function compareElements(a: Element, b: Element): number {
  const rank = (elementRank[a[0] ?? ''] ?? 4) - (elementRank[b[0] ?? ''] ?? 4);
  if (rank !== 0) return rank;
  if (a.startsWith('i:') && b.startsWith('i:')) return Number(a.slice(2)) - Number(b.slice(2));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Prints a path as upstream does: `.spec.containers[name="c"].image`, `.metadata.finalizers[="f"]`, `[0]`. */
export function pathString(path: Element[]): string {
  return path
    .map((element) => {
      const body = element.slice(2);
      switch (element[0]) {
        case 'f':
          return `.${body}`;
        case 'k': {
          const key = JSON.parse(body) as Record<string, unknown>;
          return `[${Object.keys(key)
            .map((k) => `${k}=${canonicalJson(key[k])}`)
            .join(',')}]`;
        }
        case 'v':
          return `[=${body}]`;
        default:
          return `[${body}]`;
      }
    })
    .join('');
}

export class FieldSet {
  /** Whether the path leading here is itself in the set (meaningless on the root). */
  member = false;
  readonly children = new Map<Element, FieldSet>();

  static fromFieldsV1(fields: unknown): FieldSet {
    const set = new FieldSet();
    set.readFieldsV1(fields);
    return set;
  }

  static of(...paths: Element[][]): FieldSet {
    const set = new FieldSet();
    for (const path of paths) set.insert(path);
    return set;
  }

  private readFieldsV1(fields: unknown): void {
    if (!isObject(fields)) throw new Error('FieldsV1 must be an object');
    for (const [element, sub] of Object.entries(fields)) {
      if (element === '.') {
        this.member = true;
        continue;
      }
      if (!/^[fkvi]:/.test(element)) throw new Error(`invalid FieldsV1 element ${JSON.stringify(element)}`);
      const child = this.ensure(element);
      child.readFieldsV1(sub);
      if (isObject(sub) && Object.keys(sub).length === 0) child.member = true;
    }
  }

  toFieldsV1(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (this.children.size === 0) return out;
    if (this.member) out['.'] = {};
    for (const element of this.children.size === 1 ? this.children.keys() : [...this.children.keys()].sort(compareElements)) {
      out[element] = this.children.get(element)!.toFieldsV1();
    }
    return out;
  }

  ensure(element: Element): FieldSet {
    let child = this.children.get(element);
    if (!child) {
      child = new FieldSet();
      this.children.set(element, child);
    }
    return child;
  }

  insert(path: Element[]): void {
    if (path.length === 0) return; // the root is never a member
    let node: FieldSet = this;
    for (const element of path) node = node.ensure(element);
    node.member = true;
  }

  has(path: Element[]): boolean {
    let node: FieldSet | undefined = this;
    for (const element of path) node = node?.children.get(element);
    return node !== undefined && node !== this && node.member;
  }

  isEmpty(): boolean {
    for (const child of this.children.values()) if (child.member || !child.isEmpty()) return false;
    return true;
  }

  // A set is not changed once built (fromFieldsV1, of, and the walks in typed.ts build theirs), so the results of the
  // operations below share the subtrees they take over unchanged instead of copying them.

  union(other: FieldSet): FieldSet {
    if (other.children.size === 0 && (this.member || !other.member)) return this;
    if (this.children.size === 0 && !this.member) return other;
    const out = new FieldSet();
    out.member = this.member || other.member;
    for (const [element, child] of this.children) out.children.set(element, child);
    for (const [element, child] of other.children) {
      const mine = this.children.get(element);
      out.children.set(element, mine ? mine.union(child) : child);
    }
    return out;
  }

  /** Members of this set not in `other` (a member of `other` does not remove this set's deeper members). */
  difference(other: FieldSet): FieldSet {
    if (other.children.size === 0 && !(this.member && other.member)) return this;
    const out = new FieldSet();
    out.member = this.member && !other.member;
    let same = out.member === this.member;
    for (const [element, child] of this.children) {
      const theirs = other.children.get(element);
      const rest = theirs ? child.difference(theirs) : child;
      if (rest !== child) same = false;
      if (rest.member || !rest.isEmpty()) out.children.set(element, rest);
      else same = false;
    }
    return same ? this : out;
  }

  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    out.member = this.member && other.member;
    for (const [element, child] of this.children) {
      const theirs = other.children.get(element);
      if (!theirs) continue;
      const both = child.intersection(theirs);
      if (both.member || !both.isEmpty()) out.children.set(element, both);
    }
    return out;
  }

  /** Removes every path under the given top-level elements (or keeps only them). */
  filterTop(elements: Element[], keep: boolean): FieldSet {
    const out = new FieldSet();
    out.member = this.member;
    for (const [element, child] of this.children) if (elements.includes(element) === keep) out.children.set(element, child);
    return out;
  }

  /** Drops children that are neither members nor lead to one. */
  compact(): this {
    for (const [element, child] of this.children) {
      child.compact();
      if (!child.member && child.children.size === 0) this.children.delete(element);
    }
    return this;
  }

  /** Member paths in smd iteration order: this level's members first, then each child's subtree. */
  paths(prefix: Element[] = []): Element[][] {
    const sorted = [...this.children.keys()].sort(compareElements);
    const out: Element[][] = [];
    for (const element of sorted) if (this.children.get(element)!.member) out.push([...prefix, element]);
    for (const element of sorted) out.push(...this.children.get(element)!.paths([...prefix, element]));
    return out;
  }
}
