// Driver metadata in one SQLite database per data dir. SQLite gives atomic updates that survive a killed process and
// lets the controller and node processes of `strata up` share the data dir safely (WAL, busy timeout, BEGIN IMMEDIATE
// for allocation). Records move creating -> ready -> deleting; only ready ones are reported as existing.
// synchronous = NORMAL: in WAL mode a commit survives a killed process without an fsync per transaction (which blocked
// the event loop ~1.4 ms per record write); a power loss may roll back the newest commits, as it may lose the volume
// and snapshot files themselves, which are not fsynced either.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export type PoolKind = 'zonal' | 'local';
export type RecordState = 'creating' | 'ready' | 'deleting';

export interface VolumeRecord {
  seq: number;
  id: string;
  name: string;
  state: RecordState;
  kind: PoolKind;
  zone: string;
  node: string | null; // local volumes only
  capacity: bigint;
  parameters: Record<string, string>;
  sourceType: 'snapshot' | 'volume' | null;
  sourceId: string | null;
}

export interface SnapshotRecord {
  seq: number;
  id: string;
  name: string;
  state: RecordState;
  sourceVolumeId: string;
  size: bigint;
  creationTimeMs: number;
}

export interface PublicationRecord {
  volumeId: string;
  targetPath: string;
  node: string;
  readonly: boolean;
}

type Row = Record<string, unknown>;

function volumeOf(r: Row): VolumeRecord {
  return {
    seq: Number(r.seq),
    id: String(r.id),
    name: String(r.name),
    state: r.state as RecordState,
    kind: r.kind as PoolKind,
    zone: String(r.zone),
    node: r.node === null ? null : String(r.node),
    capacity: BigInt(r.capacity as bigint),
    parameters: JSON.parse(String(r.parameters)),
    sourceType: (r.source_type ?? null) as VolumeRecord['sourceType'],
    sourceId: r.source_id === null ? null : String(r.source_id),
  };
}

function snapshotOf(r: Row): SnapshotRecord {
  return {
    seq: Number(r.seq),
    id: String(r.id),
    name: String(r.name),
    state: r.state as RecordState,
    sourceVolumeId: String(r.source_volume_id),
    size: BigInt(r.size as bigint),
    creationTimeMs: Number(r.creation_time_ms),
  };
}

export class DriverStore {
  private readonly db: DatabaseSync;
  // Compiled once: preparing a statement costs more than running these one-row queries.
  private readonly statements = new Map<string, StatementSync>();

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.db = new DatabaseSync(join(dataDir, 'state.db'));
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 10000;
      CREATE TABLE IF NOT EXISTS volumes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
        kind TEXT NOT NULL, zone TEXT NOT NULL, node TEXT, capacity INTEGER NOT NULL, parameters TEXT NOT NULL,
        source_type TEXT, source_id TEXT);
      -- What a pool holds is summed on every placement and capacity query: from these covering indexes, not a scan.
      CREATE INDEX IF NOT EXISTS volumes_by_zone ON volumes (kind, zone, capacity);
      CREATE INDEX IF NOT EXISTS volumes_by_node ON volumes (kind, node, capacity);
      CREATE TABLE IF NOT EXISTS snapshots (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
        source_volume_id TEXT NOT NULL, size INTEGER NOT NULL, creation_time_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS publications (
        volume_id TEXT NOT NULL, target_path TEXT NOT NULL, node TEXT NOT NULL, readonly INTEGER NOT NULL,
        PRIMARY KEY (volume_id, target_path));
    `);
    this.db.exec('CREATE INDEX IF NOT EXISTS publications_by_target ON publications (target_path)');
    this.db.exec('SELECT 1'); // surface a locked or corrupt database at start, not on the first RPC
  }

  close(): void {
    this.db.close();
  }

  // Runs fn in a write transaction taken up front, so allocation decisions see every other process's commits.
  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  private statement(sql: string): StatementSync {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      stmt.setReadBigInts(true);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private rows(sql: string, ...params: Array<string | number | bigint | null>): Row[] {
    return this.statement(sql).all(...params) as Row[];
  }

  volumeById(id: string): VolumeRecord | undefined {
    const [r] = this.rows('SELECT * FROM volumes WHERE id = ?', id);
    return r && volumeOf(r);
  }
  volumeByName(name: string): VolumeRecord | undefined {
    const [r] = this.rows('SELECT * FROM volumes WHERE name = ?', name);
    return r && volumeOf(r);
  }
  readyVolumesAfter(seq: number, limit: number): VolumeRecord[] {
    return this.rows("SELECT * FROM volumes WHERE state = 'ready' AND seq > ? ORDER BY seq LIMIT ?", seq, limit).map(volumeOf);
  }
  // Capacity held in a pool, counting volumes still being created or deleted: their space is not free yet.
  allocated(kind: PoolKind, zoneOrNode: string): bigint {
    const column = kind === 'zonal' ? 'zone' : 'node';
    const [r] = this.rows(`SELECT COALESCE(SUM(capacity), 0) AS total FROM volumes WHERE kind = ? AND ${column} = ?`, kind, zoneOrNode);
    return BigInt(r.total as bigint);
  }
  insertVolume(v: Omit<VolumeRecord, 'seq'>): void {
    this.statement('INSERT INTO volumes (id, name, state, kind, zone, node, capacity, parameters, source_type, source_id) VALUES (?,?,?,?,?,?,?,?,?,?)')
      .run(v.id, v.name, v.state, v.kind, v.zone, v.node, v.capacity, JSON.stringify(v.parameters), v.sourceType, v.sourceId);
  }
  setVolumeState(id: string, state: RecordState): void {
    this.statement('UPDATE volumes SET state = ? WHERE id = ?').run(state, id);
  }
  setVolumeCapacity(id: string, capacity: bigint): void {
    this.statement('UPDATE volumes SET capacity = ? WHERE id = ?').run(capacity, id);
  }
  deleteVolume(id: string): void {
    this.statement('DELETE FROM volumes WHERE id = ?').run(id);
  }

  snapshotById(id: string): SnapshotRecord | undefined {
    const [r] = this.rows('SELECT * FROM snapshots WHERE id = ?', id);
    return r && snapshotOf(r);
  }
  snapshotByName(name: string): SnapshotRecord | undefined {
    const [r] = this.rows('SELECT * FROM snapshots WHERE name = ?', name);
    return r && snapshotOf(r);
  }
  readySnapshots(filter: { sourceVolumeId?: string; afterSeq: number; limit: number }): SnapshotRecord[] {
    const bySource = filter.sourceVolumeId !== undefined;
    const sql = `SELECT * FROM snapshots WHERE state = 'ready' AND seq > ? ${bySource ? 'AND source_volume_id = ?' : ''} ORDER BY seq LIMIT ?`;
    const params = bySource ? [filter.afterSeq, filter.sourceVolumeId!, filter.limit] : [filter.afterSeq, filter.limit];
    return this.rows(sql, ...params).map(snapshotOf);
  }
  insertSnapshot(s: Omit<SnapshotRecord, 'seq'>): void {
    this.statement('INSERT INTO snapshots (id, name, state, source_volume_id, size, creation_time_ms) VALUES (?,?,?,?,?,?)')
      .run(s.id, s.name, s.state, s.sourceVolumeId, s.size, s.creationTimeMs);
  }
  markSnapshotReady(id: string, creationTimeMs: number): void {
    this.statement("UPDATE snapshots SET state = 'ready', creation_time_ms = ? WHERE id = ?").run(creationTimeMs, id);
  }
  setSnapshotState(id: string, state: RecordState): void {
    this.statement('UPDATE snapshots SET state = ? WHERE id = ?').run(state, id);
  }
  deleteSnapshot(id: string): void {
    this.statement('DELETE FROM snapshots WHERE id = ?').run(id);
  }

  publications(volumeId: string): PublicationRecord[] {
    return this.rows('SELECT * FROM publications WHERE volume_id = ?', volumeId).map((r) => ({
      volumeId: String(r.volume_id),
      targetPath: String(r.target_path),
      node: String(r.node),
      readonly: Number(r.readonly) === 1,
    }));
  }
  publicationAt(targetPath: string): PublicationRecord | undefined {
    const [r] = this.rows('SELECT * FROM publications WHERE target_path = ?', targetPath);
    return r && { volumeId: String(r.volume_id), targetPath: String(r.target_path), node: String(r.node), readonly: Number(r.readonly) === 1 };
  }
  addPublication(p: PublicationRecord): void {
    this.statement('INSERT OR REPLACE INTO publications (volume_id, target_path, node, readonly) VALUES (?,?,?,?)')
      .run(p.volumeId, p.targetPath, p.node, p.readonly ? 1 : 0);
  }
  removePublication(volumeId: string, targetPath: string): void {
    this.statement('DELETE FROM publications WHERE volume_id = ? AND target_path = ?').run(volumeId, targetPath);
  }
}
