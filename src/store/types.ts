// The one storage interface every backend (memory, SQLite, etcd) implements. It is a revisioned key-value store in
// the shape of etcd's: every write gets the next value of one global revision counter, watches resume from a
// revision, and history older than the compacted revision is gone (a watch from there fails with Expired).
//
// Keys are opaque strings chosen by the API server (e.g. "/persistentvolumeclaims/default/data"); values are the
// serialized object (JSON text). The store never parses values: resourceVersion is derived by the API server from
// the revision the store reports.

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the last write to this key (etcd's mod_revision); the object's resourceVersion. */
  modRevision: number;
  /** Revision at which the key was created (etcd's create_revision). */
  createRevision: number;
}

export type WatchEventType = 'put' | 'delete';

export interface WatchEvent {
  type: WatchEventType;
  /** For 'put': the new value. For 'delete': the value as it was just before the delete. */
  kv: KeyValue;
  /** For 'put' of an existing key: the previous value. Absent for creates. */
  prevKv?: KeyValue;
  /** The revision of this event (== kv.modRevision for puts; the delete's revision for deletes). */
  revision: number;
}

export interface ListResult {
  items: KeyValue[];
  /** The store's revision at the time of the list; a watch from here misses nothing. */
  revision: number;
}

export interface Watch {
  /** Stops delivery. Idempotent. */
  cancel(): void;
}

export interface WatchOptions {
  /** Deliver every event with revision > afterRevision. */
  afterRevision: number;
  onEvent: (event: WatchEvent) => void;
  /** Called once if the watch ends abnormally (e.g. the backend connection is lost). */
  onError?: (err: Error) => void;
}

/** Operations fail with these (src/store/errors.ts): KeyExistsError, KeyNotFoundError, RevisionConflictError, CompactedError. */
export interface Store {
  /** Current value of a key, or undefined. */
  get(key: string): Promise<KeyValue | undefined>;
  /** All keys starting with prefix, in key order, and the revision they reflect. */
  list(prefix: string): Promise<ListResult>;
  /** Creates key; fails with KeyExistsError if it exists. Returns the new revision. */
  create(key: string, value: string): Promise<number>;
  /**
   * Replaces key's value. If expectedModRevision is given and the key's modRevision differs, fails with
   * RevisionConflictError; a missing key fails with KeyNotFoundError. Returns the new revision.
   */
  update(key: string, value: string, expectedModRevision?: number): Promise<number>;
  /** Deletes key (same preconditions as update). Returns the revision of the delete. */
  delete(key: string, expectedModRevision?: number): Promise<number>;
  /** The latest revision written (0 for an empty store). */
  currentRevision(): Promise<number>;
  /** Oldest revision a watch may resume after; watches from before it fail with CompactedError. */
  compactedRevision(): number;
  /** Drops history up to and including revision. */
  compact(revision: number): Promise<void>;
  /**
   * Streams every change to keys under prefix with revision > afterRevision, in revision order, then live ones.
   * Throws CompactedError synchronously-or-rejected if afterRevision < compactedRevision().
   */
  watch(prefix: string, options: WatchOptions): Promise<Watch>;
  close(): Promise<void>;
}
