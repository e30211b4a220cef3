// CSI Controller service: volumes and snapshots in the pools of the cluster file. Every record is written before the
// data it describes and marked ready after, so a crash leaves nothing reported as existing and a retry with the same
// name finishes the job.
import { chmod, mkdir } from 'node:fs/promises';
import type { ClusterSpec } from '../api/cluster.ts';
import type {
  CapacityRange,
  ControllerCapabilityName,
  ControllerRpcs,
  CreateSnapshotRequest,
  CreateVolumeRequest,
  GetSnapshotRequest,
  GetSnapshotResponse,
  ServiceImpl,
  Snapshot,
  TopologyRequirement,
  Volume,
  VolumeCapability,
  VolumeCondition,
  VolumeContentSource,
} from '../csi/types.ts';
import { aborted, alreadyExists, failedPrecondition, invalidArgument, notFound, outOfRange, resourceExhausted } from './errors.ts';
import {
  copyTree,
  DataDir,
  exists,
  findWriters,
  isSnapshotId,
  isVolumeId,
  newSnapshotId,
  newVolumeId,
  publishTree,
  removeTree,
  VolumeFreezes,
} from './files.ts';
import type { DriverStore, PoolKind, SnapshotRecord, VolumeRecord } from './store.ts';
import { type Pool, poolKey, poolMatcher, poolsOf, poolTopology } from './topology.ts';

export const DefaultVolumeSize = 1n << 30n;
// The CSI spec's general size limit for strings.
const MaxNameBytes = 128;
const bannedNameChars = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const TypeParameter = 'type';
// Keys the external sidecars add on their own (PVC/snapshot names with --extra-create-metadata).
const sidecarParameterPrefix = 'csi.storage.k8s.io/';

const controllerCapabilities: ControllerCapabilityName[] = [
  'CREATE_DELETE_VOLUME',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'GET_SNAPSHOT',
  'CLONE_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'EXPAND_VOLUME',
  'GET_VOLUME',
  'VOLUME_CONDITION',
];

// A debugging hook for crash tests: STRATA_CSI_CRASH_AT=<point> makes the driver SIGKILL itself there.
export function crashPoint(point: string): void {
  if (process.env.STRATA_CSI_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

export function validateName(name: string | undefined, what: string): string {
  if (!name) throw invalidArgument(`${what} missing in request`);
  if (Buffer.byteLength(name) > MaxNameBytes) throw invalidArgument(`${what} is longer than ${MaxNameBytes} bytes`);
  if (bannedNameChars.test(name)) throw invalidArgument(`${what} contains a control character`);
  return name;
}

function poolKindOf(parameters: Record<string, string> | undefined): PoolKind {
  for (const k of Object.keys(parameters ?? {})) {
    if (k !== TypeParameter && !k.startsWith(sidecarParameterPrefix)) throw invalidArgument(`unknown parameter ${JSON.stringify(k)}`);
  }
  const type = parameters?.[TypeParameter] ?? 'zonal';
  if (type !== 'zonal' && type !== 'local') throw invalidArgument(`parameter "type" must be "zonal" or "local", not ${JSON.stringify(type)}`);
  return type;
}

// Why a volume of this kind cannot serve the capability, or undefined when it can.
export function unsupportedCapability(cap: VolumeCapability, kind: PoolKind): string | undefined {
  if (cap.block) return 'block access is not supported: volumes are directories';
  if (!cap.mount) return 'volume capability has no access type';
  const mode = cap.access_mode?.mode;
  if (!mode || mode === 'UNKNOWN') return 'volume capability has no access mode';
  if (kind === 'local' && mode.startsWith('MULTI_NODE')) return `access mode ${mode} is not supported by local volumes`;
  return undefined;
}

function validateCapabilities(caps: VolumeCapability[] | undefined, kind: PoolKind): void {
  if (!caps || caps.length === 0) throw invalidArgument('Volume capabilities missing in request');
  for (const cap of caps) {
    const why = unsupportedCapability(cap, kind);
    if (why) throw invalidArgument(why);
  }
}

function bytes(v: string | number | undefined, what: string): bigint {
  const n = BigInt(v ?? 0);
  if (n < 0n) throw invalidArgument(`${what} must not be negative`);
  return n;
}

function capacityRange(range: CapacityRange | null | undefined): { required: bigint; limit: bigint } {
  const required = bytes(range?.required_bytes, 'required_bytes');
  const limit = bytes(range?.limit_bytes, 'limit_bytes');
  if (limit > 0n && limit < required) throw invalidArgument(`limit_bytes ${limit} is less than required_bytes ${required}`);
  return { required, limit };
}

function inRange(size: bigint, range: { required: bigint; limit: bigint }): boolean {
  return size >= range.required && (range.limit === 0n || size <= range.limit);
}

type Source = { type: 'snapshot' | 'volume'; id: string } | null;

function contentSource(src: VolumeContentSource | null | undefined): Source {
  if (!src) return null;
  if (src.snapshot) {
    if (!src.snapshot.snapshot_id) throw invalidArgument('volume content source snapshot has no snapshot_id');
    return { type: 'snapshot', id: src.snapshot.snapshot_id };
  }
  if (src.volume) {
    if (!src.volume.volume_id) throw invalidArgument('volume content source volume has no volume_id');
    return { type: 'volume', id: src.volume.volume_id };
  }
  throw invalidArgument('volume content source names neither a snapshot nor a volume');
}

function paginationStart(token: string | undefined, maxEntries: number | undefined): { after: number; limit: number } {
  if ((maxEntries ?? 0) < 0) throw invalidArgument('max_entries must not be negative');
  if (token && !/^[0-9]{1,15}$/.test(token)) throw aborted(`invalid starting_token ${JSON.stringify(token)}`);
  return { after: token ? Number(token) : 0, limit: maxEntries || Number.MAX_SAFE_INTEGER };
}

export class ControllerService implements ServiceImpl<ControllerRpcs> {
  private readonly cluster: ClusterSpec;
  private readonly store: DriverStore;
  private readonly dirs: DataDir;
  private readonly inFlight = new Set<string>();
  private readonly freezes: VolumeFreezes;

  constructor(cluster: ClusterSpec, store: DriverStore, dirs: DataDir) {
    this.cluster = cluster;
    this.store = store;
    this.dirs = dirs;
    this.freezes = new VolumeFreezes(dirs);
  }

  // One operation per volume or snapshot name at a time; a concurrent one gets ABORTED, as the spec asks.
  private async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.inFlight.has(key)) throw aborted(`an operation for ${key} is already in progress`);
    this.inFlight.add(key);
    try {
      return await fn();
    } finally {
      this.inFlight.delete(key);
    }
  }

  private volumeResponse(rec: VolumeRecord): Volume {
    const source = rec.sourceType === 'snapshot' ? { snapshot: { snapshot_id: rec.sourceId! } } : rec.sourceType === 'volume' ? { volume: { volume_id: rec.sourceId! } } : null;
    return {
      capacity_bytes: String(rec.capacity),
      volume_id: rec.id,
      volume_context: { [TypeParameter]: rec.kind },
      content_source: source,
      accessible_topology: poolTopology(this.cluster, rec),
    };
  }

  private readyVolume(id: string | undefined): VolumeRecord {
    if (!id) throw invalidArgument('Volume ID missing in request');
    const rec = isVolumeId(id) ? this.store.volumeById(id) : undefined;
    if (!rec || rec.state !== 'ready') throw notFound(`volume ${JSON.stringify(id)} does not exist`);
    return rec;
  }

  // The pools of each kind and what each topology segment reaches, worked out once: the cluster file does not change
  // while the driver runs, and every CreateVolume of a provisioner without strict topology names every node.
  private readonly poolsByKind = new Map<PoolKind, { pools: Pool[]; matching: (segments: Record<string, string>) => Pool[] }>();

  private poolsOf(kind: PoolKind): { pools: Pool[]; matching: (segments: Record<string, string>) => Pool[] } {
    let entry = this.poolsByKind.get(kind);
    if (!entry) {
      const pools = poolsOf(this.cluster, kind);
      entry = { pools, matching: poolMatcher(this.cluster, pools) };
      this.poolsByKind.set(kind, entry);
    }
    return entry;
  }

  private free(pool: Pool): bigint {
    return pool.capacity - this.store.allocated(pool.kind, poolKey(pool));
  }

  // Picks the pool: preferred topologies in order, then requisite ones, then (without requisite) any pool.
  private place(kind: PoolKind, size: bigint, req: TopologyRequirement | null | undefined): Pool {
    const { pools, matching } = this.poolsOf(kind);
    if (pools.length === 0) throw resourceExhausted(`the cluster has no ${kind} pool`);
    const largest = pools.reduce((m, p) => (p.capacity > m ? p.capacity : m), 0n);
    if (size > largest) throw outOfRange(`requested ${size} bytes, more than the largest ${kind} pool holds (${largest} bytes)`);
    // The pools the requisite topologies reach (in their order), or every pool without requisite.
    let allowed: Set<Pool> = new Set(pools);
    if (req?.requisite?.length) {
      allowed = new Set();
      for (const t of req.requisite) for (const p of matching(t.segments)) allowed.add(p);
    }
    // Candidates in order, the first with room wins: a request names every node, and its first preferred topology's
    // pool nearly always has room, so the rest is only gone through when it has not.
    const candidates = new Set<Pool>();
    const fits = (p: Pool): boolean => {
      if (candidates.has(p) || !allowed.has(p)) return false;
      candidates.add(p);
      return this.free(p) >= size;
    };
    for (const t of req?.preferred ?? []) for (const p of matching(t.segments)) if (fits(p)) return p;
    for (const p of allowed) if (fits(p)) return p;
    if (candidates.size === 0) throw resourceExhausted(`no ${kind} pool is accessible from the requested topology`);
    const where = [...candidates].map((p) => `${poolKey(p)}: ${this.free(p)}`).join(', ');
    throw resourceExhausted(`no ${kind} pool in the requested topology has ${size} bytes free (${where})`);
  }

  private sourceSize(source: Source): bigint {
    if (!source) return 0n;
    if (source.type === 'snapshot') {
      const snap = isSnapshotId(source.id) ? this.store.snapshotById(source.id) : undefined;
      if (!snap || snap.state !== 'ready') throw notFound(`source snapshot ${JSON.stringify(source.id)} does not exist`);
      return snap.size;
    }
    const vol = isVolumeId(source.id) ? this.store.volumeById(source.id) : undefined;
    if (!vol || vol.state !== 'ready') throw notFound(`source volume ${JSON.stringify(source.id)} does not exist`);
    return vol.capacity;
  }

  async CreateVolume(req: CreateVolumeRequest): Promise<{ volume: Volume }> {
    const name = validateName(req.name, 'Volume name');
    const kind = poolKindOf(req.parameters);
    validateCapabilities(req.volume_capabilities, kind);
    const range = capacityRange(req.capacity_range);
    const source = contentSource(req.volume_content_source);
    return this.exclusive(`volume ${name}`, async () => {
      let rec = this.store.volumeByName(name);
      if (rec) {
        const sameSource = (rec.sourceType ?? null) === (source?.type ?? null) && (rec.sourceId ?? null) === (source?.id ?? null);
        if (!inRange(rec.capacity, range) || rec.kind !== kind || !sameSource) {
          throw alreadyExists(`volume ${JSON.stringify(name)} already exists with another size, type or source`);
        }
        if (rec.state === 'deleting') throw aborted(`volume ${JSON.stringify(name)} is being deleted`);
        if (rec.state === 'ready') return { volume: this.volumeResponse(rec) };
      } else {
        const sourceSize = this.sourceSize(source);
        let size = range.required > 0n ? range.required : range.limit > 0n && range.limit < DefaultVolumeSize ? range.limit : DefaultVolumeSize;
        if (source && range.required === 0n) size = sourceSize;
        if (size < sourceSize || !inRange(size, range)) {
          throw outOfRange(`the volume must hold its source of ${sourceSize} bytes, which the capacity range does not allow`);
        }
        rec = this.store.transaction(() => {
          const pool = this.place(kind, size, req.accessibility_requirements);
          const record = {
            id: newVolumeId(),
            name,
            state: 'creating' as const,
            kind,
            zone: pool.zone,
            node: pool.node,
            capacity: size,
            parameters: { [TypeParameter]: kind },
            sourceType: source?.type ?? null,
            sourceId: source?.id ?? null,
          };
          this.store.insertVolume(record);
          return { ...record, seq: 0 };
        });
        crashPoint('create-volume:after-record');
      }
      await this.populate(rec);
      crashPoint('create-volume:after-data');
      this.store.setVolumeState(rec.id, 'ready');
      return { volume: this.volumeResponse({ ...rec, state: 'ready' }) };
    });
  }

  // Builds the volume's directory in scratch space (empty, restored or cloned) and moves it into place.
  private async populate(rec: VolumeRecord): Promise<void> {
    const scratch = this.dirs.scratchPath(rec.id);
    await removeTree(scratch);
    if (rec.sourceType === 'snapshot') {
      const snap = this.store.snapshotById(rec.sourceId!);
      if (!snap || snap.state !== 'ready') throw notFound(`source snapshot ${JSON.stringify(rec.sourceId)} does not exist`);
      await copyTree(this.dirs.snapshotPath(snap.id), scratch);
    } else if (rec.sourceType === 'volume') {
      const source = this.store.volumeById(rec.sourceId!);
      if (!source || source.state !== 'ready') throw notFound(`source volume ${JSON.stringify(rec.sourceId)} does not exist`);
      await this.pointInTimeCopy(source, scratch);
    } else {
      await mkdir(scratch, { mode: 0o777 });
      await chmod(scratch, 0o777); // any pod user may write, whatever the umask
    }
    await publishTree(scratch, this.dirs.volumePath(rec.id));
  }

  // Copies a volume as of one instant: every process that can write to it is stopped while the copy runs. Pods reach
  // a volume only through its publish targets, so an unpublished volume has no writers and /proc is not scanned.
  private async pointInTimeCopy(volume: VolumeRecord, dest: string): Promise<number> {
    const dir = this.dirs.volumePath(volume.id);
    const writers = async () => {
      const targets = this.store.publications(volume.id).map((p) => p.targetPath);
      return targets.length === 0 ? [] : findWriters(dir, targets);
    };
    return this.freezes.hold(volume.id, writers, async () => {
      crashPoint('point-in-time-copy:frozen');
      const instant = Date.now();
      await copyTree(dir, dest);
      return instant;
    });
  }

  async DeleteVolume(req: { volume_id?: string }): Promise<object> {
    if (!req.volume_id) throw invalidArgument('Volume ID missing in request');
    // An ID this driver never hands out names no volume: deleting it succeeds, as for any gone volume.
    const rec = isVolumeId(req.volume_id) ? this.store.volumeById(req.volume_id) : undefined;
    if (!rec) return {};
    return this.exclusive(`volume ${rec.name}`, async () => {
      const published = this.store.publications(rec.id);
      if (published.length > 0) throw failedPrecondition(`volume ${rec.id} is still published at ${published.map((p) => p.targetPath).join(', ')}`);
      this.store.setVolumeState(rec.id, 'deleting');
      crashPoint('delete-volume:after-mark');
      await removeTree(this.dirs.scratchPath(rec.id));
      await removeTree(this.dirs.volumePath(rec.id));
      this.store.deleteVolume(rec.id);
      return {};
    });
  }

  private async condition(rec: VolumeRecord): Promise<VolumeCondition> {
    return (await exists(this.dirs.volumePath(rec.id)))
      ? { abnormal: false, message: 'volume is healthy' }
      : { abnormal: true, message: 'volume directory is missing' };
  }

  async ControllerGetVolume(req: { volume_id?: string }) {
    const rec = this.readyVolume(req.volume_id);
    return { volume: this.volumeResponse(rec), status: { published_node_ids: [], volume_condition: await this.condition(rec) } };
  }

  async ValidateVolumeCapabilities(req: { volume_id?: string; volume_capabilities?: VolumeCapability[]; volume_context?: Record<string, string>; parameters?: Record<string, string> }) {
    if (!req.volume_id) throw invalidArgument('Volume ID missing in request');
    if (!req.volume_capabilities || req.volume_capabilities.length === 0) throw invalidArgument('Volume capabilities missing in request');
    const rec = this.readyVolume(req.volume_id);
    for (const cap of req.volume_capabilities) {
      const why = unsupportedCapability(cap, rec.kind);
      if (why) return { confirmed: null, message: why };
    }
    return {
      confirmed: { volume_context: req.volume_context ?? {}, volume_capabilities: req.volume_capabilities, parameters: req.parameters ?? {} },
      message: '',
    };
  }

  async ListVolumes(req: { max_entries?: number; starting_token?: string }) {
    const { after, limit } = paginationStart(req.starting_token, req.max_entries);
    const page = this.store.readyVolumesAfter(after, Math.min(limit, 1_000_000) + 1);
    const more = page.length > limit;
    const shown = more ? page.slice(0, limit) : page;
    const entries = [];
    for (const rec of shown) {
      entries.push({ volume: this.volumeResponse(rec), status: { published_node_ids: [], volume_condition: await this.condition(rec) } });
    }
    return { entries, next_token: more ? String(shown[shown.length - 1].seq) : '' };
  }

  async GetCapacity(req: { parameters?: Record<string, string>; accessible_topology?: { segments: Record<string, string> } | null }) {
    const kind = poolKindOf(req.parameters);
    const segments = req.accessible_topology?.segments;
    const { pools: all, matching } = this.poolsOf(kind);
    const pools = segments ? matching(segments) : all;
    const frees = pools.map((p) => (this.free(p) > 0n ? this.free(p) : 0n));
    const total = frees.reduce((a, b) => a + b, 0n);
    const largest = frees.reduce((a, b) => (b > a ? b : a), 0n);
    return { available_capacity: String(total), maximum_volume_size: { value: String(largest) } };
  }

  async ControllerGetCapabilities() {
    return { capabilities: controllerCapabilities.map((type) => ({ rpc: { type } })) };
  }

  async ControllerExpandVolume(req: { volume_id?: string; capacity_range?: CapacityRange | null }) {
    if (!req.volume_id) throw invalidArgument('Volume ID missing in request');
    if (!req.capacity_range) throw invalidArgument('Capacity range not provided');
    const range = capacityRange(req.capacity_range);
    const rec = this.readyVolume(req.volume_id);
    return this.exclusive(`volume ${rec.name}`, async () => {
      const wanted = range.required > 0n ? range.required : range.limit;
      const capacity = this.store.transaction(() => {
        const current = this.store.volumeById(rec.id)!;
        if (wanted <= current.capacity) return current.capacity;
        const pool = poolsOf(this.cluster, rec.kind).find((p) => poolKey(p) === poolKey(rec))!;
        if (wanted > pool.capacity) throw outOfRange(`${wanted} bytes is more than the ${poolKey(pool)} pool holds (${pool.capacity} bytes)`);
        if (this.free(pool) < wanted - current.capacity) throw resourceExhausted(`the ${poolKey(pool)} pool has ${this.free(pool)} bytes free`);
        this.store.setVolumeCapacity(rec.id, wanted);
        return wanted;
      });
      return { capacity_bytes: String(capacity), node_expansion_required: false };
    });
  }

  private snapshotResponse(rec: SnapshotRecord): Snapshot {
    return {
      size_bytes: String(rec.size),
      snapshot_id: rec.id,
      source_volume_id: rec.sourceVolumeId,
      creation_time: { seconds: String(Math.floor(rec.creationTimeMs / 1000)), nanos: (rec.creationTimeMs % 1000) * 1_000_000 },
      ready_to_use: true,
      group_snapshot_id: '',
    };
  }

  async CreateSnapshot(req: CreateSnapshotRequest): Promise<{ snapshot: Snapshot }> {
    if (!req.source_volume_id) throw invalidArgument('Snapshot SourceVolumeId missing in request');
    const name = validateName(req.name, 'Snapshot name');
    return this.exclusive(`snapshot ${name}`, async () => {
      let rec = this.store.snapshotByName(name);
      if (rec) {
        if (rec.sourceVolumeId !== req.source_volume_id) {
          throw alreadyExists(`snapshot ${JSON.stringify(name)} already exists for another source volume (${rec.sourceVolumeId})`);
        }
        if (rec.state === 'ready') return { snapshot: this.snapshotResponse(rec) };
        if (rec.state === 'deleting') throw aborted(`snapshot ${JSON.stringify(name)} is being deleted`);
      }
      const source = isVolumeId(req.source_volume_id!) ? this.store.volumeById(req.source_volume_id!) : undefined;
      if (!source || source.state !== 'ready') throw notFound(`source volume ${JSON.stringify(req.source_volume_id)} does not exist`);
      if (!rec) {
        rec = { seq: 0, id: newSnapshotId(), name, state: 'creating', sourceVolumeId: source.id, size: source.capacity, creationTimeMs: Date.now() };
        this.store.insertSnapshot(rec);
        crashPoint('create-snapshot:after-record');
      }
      const scratch = this.dirs.scratchPath(rec.id);
      await removeTree(scratch);
      const instant = await this.pointInTimeCopy(source, scratch);
      await publishTree(scratch, this.dirs.snapshotPath(rec.id));
      crashPoint('create-snapshot:after-data');
      this.store.markSnapshotReady(rec.id, instant);
      return { snapshot: this.snapshotResponse({ ...rec, state: 'ready', creationTimeMs: instant }) };
    });
  }

  async DeleteSnapshot(req: { snapshot_id?: string }): Promise<object> {
    if (!req.snapshot_id) throw invalidArgument('Snapshot ID missing in request');
    const rec = isSnapshotId(req.snapshot_id) ? this.store.snapshotById(req.snapshot_id) : undefined;
    if (!rec) return {};
    return this.exclusive(`snapshot ${rec.name}`, async () => {
      this.store.setSnapshotState(rec.id, 'deleting');
      await removeTree(this.dirs.scratchPath(rec.id));
      await removeTree(this.dirs.snapshotPath(rec.id));
      this.store.deleteSnapshot(rec.id);
      return {};
    });
  }

  // The snapshot as ListSnapshots reports it; creating and deleting ones are not listed.
  private readySnapshot(id: string): SnapshotRecord | undefined {
    const rec = isSnapshotId(id) ? this.store.snapshotById(id) : undefined;
    return rec?.state === 'ready' ? rec : undefined;
  }

  async GetSnapshot(req: GetSnapshotRequest): Promise<GetSnapshotResponse> {
    if (!req.snapshot_id) throw invalidArgument('Snapshot ID missing in request');
    const rec = this.readySnapshot(req.snapshot_id);
    if (!rec) throw notFound(`snapshot ${JSON.stringify(req.snapshot_id)} does not exist`);
    return { snapshot: this.snapshotResponse(rec) };
  }

  async ListSnapshots(req: { max_entries?: number; starting_token?: string; source_volume_id?: string; snapshot_id?: string }) {
    const { after, limit } = paginationStart(req.starting_token, req.max_entries);
    if (req.snapshot_id) {
      const rec = this.readySnapshot(req.snapshot_id);
      const match = rec && (!req.source_volume_id || rec.sourceVolumeId === req.source_volume_id);
      return { entries: match ? [{ snapshot: this.snapshotResponse(rec) }] : [], next_token: '' };
    }
    const page = this.store.readySnapshots({
      sourceVolumeId: req.source_volume_id || undefined,
      afterSeq: after,
      limit: Math.min(limit, 1_000_000) + 1,
    });
    const more = page.length > limit;
    const shown = more ? page.slice(0, limit) : page;
    return { entries: shown.map((s) => ({ snapshot: this.snapshotResponse(s) })), next_token: more ? String(shown[shown.length - 1].seq) : '' };
  }
}
