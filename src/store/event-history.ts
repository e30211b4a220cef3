// An in-memory, revision-ordered log of watch events: what the memory and etcd backends keep so a watch can resume
// from a revision. (SQLite keeps the same log in a table.)
import type { WatchEvent } from './types.ts';

export class EventHistory {
  #events: WatchEvent[] = [];

  append(event: WatchEvent): void {
    this.#events.push(event);
  }

  /** Events under prefix with revision > afterRevision, oldest first. */
  since(prefix: string, afterRevision: number): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (let i = this.#firstAfter(afterRevision); i < this.#events.length; i++) {
      const event = this.#events[i]!;
      if (event.kv.key.startsWith(prefix)) out.push(event);
    }
    return out;
  }

  /** Forgets every event with revision <= revision. */
  dropThrough(revision: number): void {
    this.#events = this.#events.slice(this.#firstAfter(revision));
  }

  /** Index of the first event with revision > revision. */
  #firstAfter(revision: number): number {
    let low = 0;
    let high = this.#events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#events[middle]!.revision <= revision) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
