import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { KeyExistsError, StoreError } from './errors.ts';
import { Checkpointer } from './sqlite-checkpointer.ts';
import { RevisionedStore } from './revisioned-store.ts';
import type { KeyValue, ListResult, WatchEvent } from './types.ts';

export interface SqliteStoreOptions {
  /** Database file; created if missing. */
  path: string;
  /** Events of history kept by automatic compaction. */
  historyLimit?: number;
}

const SCHEMA_VERSION = 2;

// kv holds current values; history holds one row per revision so a watch can resume after a restart. A delete row
// keeps the deleted value in `value`; an update row keeps the value it replaced in `prev_value`. The current revision
// is not stored: it is the newest history row, or the compacted revision once compaction has emptied history.
// kv is a rowid table with its key in a separate index: in a WITHOUT ROWID table a value of more than ~1,000 bytes
// (a PV with managedFields) overflows the b-tree cell, and every key comparison on the way to a row then reads the
// overflow pages — about 17 page reads per create at 50,000 objects, against 2 this way.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  create_revision INTEGER NOT NULL,
  mod_revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
  revision INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_value TEXT,
  prev_mod_revision INTEGER
);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = ${SCHEMA_VERSION};
`;

const KV_COLUMNS = 'key, value, create_revision, mod_revision';
const EVENT_COLUMNS = 'revision, key, type, value, create_revision, prev_value, prev_mod_revision';

// Statements return rows as arrays (no per-row property names): about a third faster for a 10,000-key list.
type KvRow = [key: string, value: string, createRevision: number, modRevision: number];

type EventRow = [
  revision: number,
  key: string,
  type: 'put' | 'delete',
  value: string,
  createRevision: number,
  prevValue: string | null,
  prevModRevision: number | null,
];

interface PendingWrite {
  event: WatchEvent;
  resolve: (revision: number) => void;
  reject: (err: Error) => void;
}

/**
 * The first string after every string that starts with prefix, in code point (= UTF-8 byte, = SQLite BINARY) order;
 * undefined when every string from prefix on starts with it (empty prefix, or only U+10FFFF).
 */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = Array.from(prefix, (char) => char.codePointAt(0)!);
  while (codePoints.length > 0) {
    const last = codePoints.pop()!;
    if (last < 0x10ffff) {
      codePoints.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...codePoints);
    }
  }
  return undefined;
}

/**
 * The embedded durable backend on node:sqlite. WAL with synchronous=NORMAL: a commit is written to the WAL before
 * the call returns, so it survives the process being killed (not necessarily a power loss). Checkpoints run on a
 * worker thread (sqlite-checkpointer.ts). One store at a time may use a file, because watches only see writes made
 * through this object: it holds an exclusive lock on PATH.lock (a lock the kernel drops when the process dies).
 */
export class SqliteStore extends RevisionedStore {
  readonly #db: DatabaseSync;
  readonly #lock: DatabaseSync;
  readonly #checkpointer: Checkpointer;
  /** Bytes the open transaction writes (each value twice: kv and history). */
  #batchBytes = 0;
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #rollback: StatementSync;
  readonly #restart: StatementSync;
  readonly #getValue: StatementSync;
  readonly #listAll: StatementSync;
  readonly #listRange: StatementSync;
  readonly #insertValue: StatementSync;
  readonly #updateValue: StatementSync;
  readonly #deleteValue: StatementSync;
  readonly #insertEvent: StatementSync;
  readonly #eventsAll: StatementSync;
  readonly #eventsRange: StatementSync;
  readonly #deleteEvents: StatementSync;
  readonly #saveCompacted: StatementSync;
  /** Writes in the open transaction, in revision order. */
  #batch: PendingWrite[] = [];
  /** Revision of the last write in the open transaction (== revision when none is open). */
  #pendingRevision: number;
  #flushScheduled: NodeJS.Immediate | undefined;

  constructor(options: SqliteStoreOptions) {
    super(options.historyLimit);
    const lock = new DatabaseSync(`${options.path}.lock`);
    const db = new DatabaseSync(options.path);
    try {
      // An exclusive lock held until the connection closes: a second store on the file fails here.
      lock.exec('PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;');
      // Automatic checkpoints would run inside commits, on the event loop: the checkpointer runs them instead.
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;');
      const version = db.prepare('PRAGMA user_version').get()!.user_version as number;
      if (version > SCHEMA_VERSION) {
        throw new StoreError(`${options.path} has schema version ${version}; this build knows ${SCHEMA_VERSION}`);
      }
      db.exec(`BEGIN IMMEDIATE; ${SCHEMA} COMMIT;`);
    } catch (err) {
      db.close();
      lock.close();
      if ((err as { errcode?: number }).errcode === 5 /* SQLITE_BUSY */) {
        throw new StoreError(`${options.path} is in use by another store`, { cause: err });
      }
      throw err;
    }
    this.#db = db;
    this.#lock = lock;
    const asArrays = { returnArrays: true };
    this.#begin = db.prepare('BEGIN');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
    this.#getValue = db.prepare(`SELECT ${KV_COLUMNS} FROM kv WHERE key = ?`, asArrays);
    this.#listAll = db.prepare(`SELECT ${KV_COLUMNS} FROM kv WHERE key >= ? ORDER BY key`, asArrays);
    this.#listRange = db.prepare(`SELECT ${KV_COLUMNS} FROM kv WHERE key >= ? AND key < ? ORDER BY key`, asArrays);
    this.#insertValue = db.prepare('INSERT INTO kv (key, value, create_revision, mod_revision) VALUES (?, ?, ?, ?)');
    this.#updateValue = db.prepare('UPDATE kv SET value = ?, mod_revision = ? WHERE key = ?');
    this.#deleteValue = db.prepare('DELETE FROM kv WHERE key = ?');
    this.#insertEvent = db.prepare(`INSERT INTO history (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.#eventsAll = db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM history WHERE revision > ? AND key >= ? ORDER BY revision`,
      asArrays,
    );
    this.#eventsRange = db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM history WHERE revision > ? AND key >= ? AND key < ? ORDER BY revision`,
      asArrays,
    );
    this.#deleteEvents = db.prepare('DELETE FROM history WHERE revision <= ?');
    this.#saveCompacted = db.prepare(
      "INSERT INTO meta (name, value) VALUES ('compacted_revision', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    );
    const compacted = db.prepare("SELECT value FROM meta WHERE name = 'compacted_revision'").get()?.value as
      | number
      | undefined;
    const newest = db.prepare('SELECT max(revision) AS revision FROM history').get()!.revision as number | null;
    this.compacted = compacted ?? 0;
    this.revision = Math.max(newest ?? 0, this.compacted);
    this.#pendingRevision = this.revision;
    this.#checkpointer = new Checkpointer(
      options.path,
      (message) => process.emitWarning(`SQLite checkpoint of ${options.path}: ${message}`),
      () => {
        if (!db.isOpen) return;
        process.emitWarning(`SQLite checkpoints of ${options.path} are back on the event loop: their worker thread stopped`);
        db.exec('PRAGMA wal_autocheckpoint = 1000');
      },
    );
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.#flush();
    return this.#read(key);
  }

  async list(prefix: string): Promise<ListResult> {
    this.#flush();
    const end = prefixEnd(prefix);
    const rows = (end === undefined ? this.#listAll.all(prefix) : this.#listRange.all(prefix, end)) as unknown as KvRow[];
    return { items: rows.map(toKeyValue), revision: this.revision };
  }

  async create(key: string, value: string): Promise<number> {
    if (this.#read(key)) throw new KeyExistsError(key);
    const revision = this.#pendingRevision + 1;
    const kv = { key, value, modRevision: revision, createRevision: revision };
    return this.#write({ type: 'put', kv, revision }, () => {
      this.#insertValue.run(key, value, revision, revision);
      this.#insertEvent.run(revision, key, 'put', value, revision, null, null);
      this.#batchBytes += 2 * value.length;
    });
  }

  async update(key: string, value: string, expectedModRevision?: number): Promise<number> {
    const prevKv = this.requireCurrent(key, this.#read(key), expectedModRevision);
    const revision = this.#pendingRevision + 1;
    const kv = { key, value, modRevision: revision, createRevision: prevKv.createRevision };
    return this.#write({ type: 'put', kv, prevKv, revision }, () => {
      this.#updateValue.run(value, revision, key);
      this.#insertEvent.run(revision, key, 'put', value, prevKv.createRevision, prevKv.value, prevKv.modRevision);
      this.#batchBytes += 2 * value.length + prevKv.value.length;
    });
  }

  async delete(key: string, expectedModRevision?: number): Promise<number> {
    const prevKv = this.requireCurrent(key, this.#read(key), expectedModRevision);
    const revision = this.#pendingRevision + 1;
    return this.#write({ type: 'delete', kv: prevKv, prevKv, revision }, () => {
      this.#deleteValue.run(key);
      this.#insertEvent.run(revision, key, 'delete', prevKv.value, prevKv.createRevision, null, prevKv.modRevision);
      this.#batchBytes += prevKv.value.length;
    });
  }

  override async close(): Promise<void> {
    if (this.#db.isOpen) this.#flush();
    await this.#checkpointer.close();
    await super.close();
  }

  protected historySince(prefix: string, afterRevision: number): WatchEvent[] {
    this.#flush();
    const end = prefixEnd(prefix);
    const rows = (
      end === undefined ? this.#eventsAll.all(afterRevision, prefix) : this.#eventsRange.all(afterRevision, prefix, end)
    ) as unknown as EventRow[];
    return rows.map(toEvent);
  }

  protected dropHistory(revision: number): void {
    this.#apply(() => {
      this.#deleteEvents.run(revision);
      this.#saveCompacted.run(revision);
    });
    this.#flush();
  }

  protected closeBackend(): void {
    // Commits what watchers wrote while close() delivered the last batch (they are detached by now).
    this.#flush();
    // The last connection to close checkpoints the WAL into the database and removes it.
    this.#db.close();
    this.#lock.close();
  }

  // Synchronous, so a write's precondition check and its statements run in one turn with nothing in between. Inside
  // an open batch it sees the batch's earlier writes, which is the order they will commit in.
  #read(key: string): KeyValue | undefined {
    const row = this.#getValue.get(key) as unknown as KvRow | undefined;
    return row && toKeyValue(row);
  }

  /**
   * Group commit: the first write of an event-loop turn opens a transaction, later writes of the same turn join it,
   * and one COMMIT at the end of the turn makes them all durable. Only then are watchers told and promises resolved.
   */
  #write(event: WatchEvent, statements: () => void): Promise<number> {
    this.#apply(statements);
    this.#pendingRevision = event.revision;
    return new Promise((resolve, reject) => this.#batch.push({ event, resolve, reject }));
  }

  /** Runs statements in the open transaction, opening one if needed; a failure aborts the whole batch. */
  #apply(statements: () => void): void {
    if (!this.#db.isTransaction) {
      this.#begin.run();
      this.#flushScheduled = setImmediate(() => this.#flush());
    }
    try {
      statements();
    } catch (err) {
      this.#abort(err as Error);
      throw err;
    }
  }

  /** Commits the open batch, if any. Reads call it first so they only ever see committed writes. */
  #flush(): void {
    if (!this.#db.isTransaction) return;
    clearImmediate(this.#flushScheduled);
    const batch = this.#batch;
    this.#batch = [];
    try {
      this.#commit.run();
    } catch (err) {
      this.#batch = batch;
      this.#abort(err as Error);
      return;
    }
    this.#wroteBatch();
    for (const { event } of batch) this.committed(event);
    for (const { event, resolve } of batch) resolve(event.revision);
  }

  /** Tells the checkpointer what the commit wrote (the pages it appended, roughly: its values and one for the rest). */
  #wroteBatch(): void {
    this.#checkpointer.committed(this.#batchBytes + 4096, () => this.#restart.get());
    this.#batchBytes = 0;
  }

  /** Rolls the open batch back and fails every write in it. */
  #abort(err: Error): void {
    clearImmediate(this.#flushScheduled);
    if (this.#db.isTransaction) this.#rollback.run();
    this.#pendingRevision = this.revision;
    this.#batchBytes = 0;
    const batch = this.#batch;
    this.#batch = [];
    for (const { reject } of batch) reject(err);
  }
}

function toKeyValue([key, value, createRevision, modRevision]: KvRow): KeyValue {
  return { key, value, modRevision, createRevision };
}

function toEvent([revision, key, type, value, createRevision, prevValue, prevModRevision]: EventRow): WatchEvent {
  if (type === 'delete') {
    const kv = { key, value, modRevision: prevModRevision!, createRevision };
    return { type, kv, prevKv: kv, revision };
  }
  const kv = { key, value, modRevision: revision, createRevision };
  if (prevModRevision === null) return { type, kv, revision };
  return { type, kv, prevKv: { key, value: prevValue!, modRevision: prevModRevision, createRevision }, revision };
}
