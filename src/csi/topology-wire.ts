// CreateVolumeRequest.accessibility_requirements on the wire, without protobufjs.
//
// A provisioner that is not strict about topology (the default) sends the topology of every node twice, as requisite
// and as preferred: at 500 nodes that is 1,000 Topology messages in every CreateVolume. Encoded by protobufjs from
// objects, they cost the provisioner more CPU than anything else it does, and decoded by protobufjs the driver as much
// again. The provisioner hands over the same Topology objects in every request (its node topologies are cached), so
// here each one is encoded once and its bytes reused; the driver interns what it decodes by bytes, so it sees one
// object per distinct topology and can remember what it worked out for it. Beyond single topologies, both sides keep
// the last long requisite list as one encoded run: the next request's requisite is usually that run again and its
// preferred list that run rotated, which is one or two copies (memcmps on the driver's side) instead of a thousand
// entries; anything else goes entry by entry. The bytes are the protobuf encoding
// (csi.proto: CreateVolumeRequest field 7, TopologyRequirement requisite 1 / preferred 2, Topology map segments 1), so
// either side talks to any other CSI implementation unchanged.
import type { Topology, TopologyRequirement } from './types.ts';

const AccessibilityRequirementsField = 7;
const LengthDelimited = 2;
const RequisiteTag = (1 << 3) | LengthDelimited;
const PreferredTag = (2 << 3) | LengthDelimited;
// Requisite lists shorter than this are encoded and decoded topology by topology each time.
const MinRun = 8;

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** A length-delimited field: tag, length, bytes. */
function field(number: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(varintLength((number << 3) | LengthDelimited) + varintLength(body.length) + body.length);
  let pos = writeVarint(out, 0, (number << 3) | LengthDelimited);
  pos = writeVarint(out, pos, body.length);
  body.copy(out, pos);
  return out;
}

const encoded = new WeakMap<Topology, Buffer>();

/** A Topology message's bytes, worked out once per object (topologies are not changed once handed over). */
export function encodeTopology(t: Topology): Buffer {
  let bytes = encoded.get(t);
  if (!bytes) {
    const entries = Object.entries(t.segments ?? {}).map(([k, v]) => field(1, Buffer.concat([field(1, Buffer.from(k)), field(2, Buffer.from(v))])));
    bytes = Buffer.concat(entries);
    encoded.set(t, bytes);
  }
  return bytes;
}

const entryLength = (t: Topology): number => {
  const bytes = encodeTopology(t);
  return 1 + varintLength(bytes.length) + bytes.length;
};

function writeEntries(out: Buffer, pos: number, number: number, list: Topology[]): number {
  for (const t of list) {
    const bytes = encodeTopology(t);
    out[pos++] = (number << 3) | LengthDelimited;
    pos = writeVarint(out, pos, bytes.length);
    pos += bytes.copy(out, pos);
  }
  return pos;
}

/**
 * A long requisite list as one encoded run, as each side keeps the last one: its entries as field 1 (requisite) and as
 * field 2 (preferred, the same bytes but each entry's tag), where each entry starts, and which topology is where.
 */
interface Run {
  list: Topology[];
  requisite: Buffer;
  preferred: Buffer;
  offsets: number[];
  index: Map<Topology, number>;
}

function runOf(list: Topology[], requisite: Buffer, offsets: number[]): Run {
  const preferred = Buffer.from(requisite);
  for (const o of offsets) preferred[o] = PreferredTag;
  const index = new Map<Topology, number>();
  list.forEach((t, i) => index.has(t) || index.set(t, i));
  return { list: list.slice(), requisite, preferred, offsets, index };
}

/** The topologies of a run rotated to start at its k-th: a preferred list as a provisioner builds it. */
const rotated = (run: Run, k: number): Topology[] => [...run.list.slice(k), ...run.list.slice(0, k)];

let lastEncoded: Run | undefined;

function encodedRun(list: Topology[]): Run {
  const run = lastEncoded;
  if (run && run.list.length === list.length && run.list.every((t, i) => t === list[i])) return run;
  let length = 0;
  const offsets = list.map((t) => {
    const at = length;
    length += entryLength(t);
    return at;
  });
  const requisite = Buffer.allocUnsafe(length);
  writeEntries(requisite, 0, 1, list);
  return (lastEncoded = runOf(list, requisite, offsets));
}

/** k when `list` is the run's topologies rotated to start at its k-th, else undefined. */
function rotationOf(run: Run, list: Topology[]): number | undefined {
  const n = run.list.length;
  if (list.length !== n) return undefined;
  const k = run.index.get(list[0]!);
  if (k === undefined) return undefined;
  for (let i = 0; i < n; i++) if (list[i] !== run.list[(k + i) % n]) return undefined;
  return k;
}

/**
 * Field 7 of a CreateVolumeRequest after the bytes of the request's other fields, in one buffer: a long requisite list
 * as one copy of its encoded run (the same as the last request's, as a provisioner sends it), preferred as two when it
 * is that run rotated; other lists from each topology's cached encoding.
 */
export function encodeAccessibilityRequirements(req: TopologyRequirement, before: Uint8Array = Buffer.alloc(0)): Buffer {
  const requisite = req.requisite ?? [];
  const preferred = req.preferred ?? [];
  const run = requisite.length >= MinRun ? encodedRun(requisite) : undefined;
  const k = run ? rotationOf(run, preferred) : undefined;
  let bodyLength = 0;
  if (run) bodyLength += run.requisite.length;
  else for (const t of requisite) bodyLength += entryLength(t);
  if (k !== undefined) bodyLength += run!.preferred.length;
  else for (const t of preferred) bodyLength += entryLength(t);
  const tag = (AccessibilityRequirementsField << 3) | LengthDelimited;
  const out = Buffer.allocUnsafe(before.length + varintLength(tag) + varintLength(bodyLength) + bodyLength);
  out.set(before, 0);
  let pos = writeVarint(out, before.length, tag);
  pos = writeVarint(out, pos, bodyLength);
  if (run) pos += run.requisite.copy(out, pos);
  else pos = writeEntries(out, pos, 1, requisite);
  if (k !== undefined) {
    const o = run!.offsets[k]!;
    pos += run!.preferred.copy(out, pos, o);
    pos += run!.preferred.copy(out, pos, 0, o);
  } else {
    pos = writeEntries(out, pos, 2, preferred);
  }
  return out;
}

/** Wraps a CreateVolumeRequest serializer: the rest of the request as before, field 7 from cached encodings. */
export function createVolumeRequestSerializer(serialize: (req: object) => Buffer): (req: object) => Buffer {
  return (req) => {
    const r = req as { accessibility_requirements?: TopologyRequirement | null };
    if (!r.accessibility_requirements) return serialize(req);
    const rest = serialize({ ...req, accessibility_requirements: null });
    return encodeAccessibilityRequirements(r.accessibility_requirements, rest);
  };
}

class WireError extends Error {}

// Where the last readVarint stopped: a module-level cursor rather than a [value, position] pair per call (a request
// has thousands of varints).
let after = 0;

function readVarint(buf: Buffer, pos: number): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new WireError('truncated varint');
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      after = pos;
      return value;
    }
    scale *= 128;
    if (scale > 2 ** 63) throw new WireError('varint too long');
  }
}

/** Calls fn(field, wireType, start, end) for each field of a message; for length-delimited fields start..end is the body. */
function forEachField(buf: Buffer, start: number, end: number, fn: (field: number, wire: number, fieldStart: number, bodyStart: number, bodyEnd: number) => void): void {
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const tag = readVarint(buf, pos);
    const wire = tag % 8;
    const number = Math.floor(tag / 8);
    let bodyStart = after;
    switch (wire) {
      case 0:
        readVarint(buf, bodyStart);
        pos = after;
        break;
      case 1:
        pos = bodyStart + 8;
        break;
      case 2: {
        const len = readVarint(buf, bodyStart);
        bodyStart = after;
        pos = bodyStart + len;
        break;
      }
      case 5:
        pos = bodyStart + 4;
        break;
      default:
        throw new WireError(`wire type ${wire} is not supported`);
    }
    if (pos > end) throw new WireError('truncated field');
    fn(number, wire, fieldStart, bodyStart, pos);
  }
}

const MaxInterned = 50_000;
interface Interned {
  bytes: Buffer;
  topology: Topology;
  next?: Interned;
}
// By FNV-1a hash of the bytes, colliding entries chained; a thousand lookups a request, so no string is made for one.
const interned = new Map<number, Interned>();

function sameBytes(a: Buffer, buf: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}

/** A Topology message decoded, one frozen object per distinct encoding (so that callers may key caches on it). */
export function decodeTopology(buf: Buffer, start: number, end: number): Topology {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
  for (let e = interned.get(hash); e; e = e.next) if (sameBytes(e.bytes, buf, start, end)) return e.topology;
  const segments: Record<string, string> = {};
  forEachField(buf, start, end, (number, wire, _f, s, e) => {
    if (number !== 1 || wire !== LengthDelimited) return;
    let k = '';
    let v = '';
    forEachField(buf, s, e, (n, w, _ef, es, ee) => {
      if (w !== LengthDelimited) return;
      if (n === 1) k = buf.toString('utf8', es, ee);
      else if (n === 2) v = buf.toString('utf8', es, ee);
    });
    segments[k] = v;
  });
  const topology: Topology = Object.freeze({ segments: Object.freeze(segments) });
  if (interned.size >= MaxInterned) interned.clear();
  interned.set(hash, { bytes: Buffer.from(buf.subarray(start, end)), topology, next: interned.get(hash) });
  return topology;
}

type Requirement = { requisite: Topology[]; preferred: Topology[] };

// The last long requisite list decoded (the run of field-1 entries that starts a TopologyRequirement). A provisioner
// sends the same requisite in every request, and as preferred the same topologies rotated to start at the selected
// node's: then a few memcmps of whole runs stand in for a thousand decodes.
let lastRun: Run | undefined;

/** The requirement in buf[start, end) when it is the last run as requisite and nothing or a rotation of it as preferred. */
function fromLastRun(buf: Buffer, start: number, end: number): Requirement | undefined {
  const run = lastRun;
  if (!run) return undefined;
  const length = run.requisite.length;
  if (end - start < length || buf.compare(run.requisite, 0, length, start, start + length) !== 0) return undefined;
  const pos = start + length;
  if (pos === end) return { requisite: run.list.slice(), preferred: [] };
  // The rest must be exactly the run's entries as field 2, rotated: its first entry says by how much.
  if (end - pos !== length || buf[pos] !== PreferredTag) return undefined;
  const firstLength = readVarint(buf, pos + 1);
  if (after + firstLength > end) return undefined;
  const k = run.index.get(decodeTopology(buf, after, after + firstLength));
  if (k === undefined) return undefined;
  const o = run.offsets[k]!;
  if (buf.compare(run.preferred, o, length, pos, pos + length - o) !== 0) return undefined;
  if (buf.compare(run.preferred, 0, o, pos + length - o, end) !== 0) return undefined;
  return { requisite: run.list.slice(), preferred: rotated(run, k) };
}

/** A TopologyRequirement message: from the last run when it repeats, else entry by entry (remembering a long requisite). */
function decodeRequirement(buf: Buffer, start: number, end: number): Requirement {
  const cached = fromLastRun(buf, start, end);
  if (cached) return cached;
  const into: Requirement = { requisite: [], preferred: [] };
  // Where the leading run of requisite entries ends, and where each of them starts.
  let runEnd = start;
  let runIntact = true;
  const offsets: number[] = [];
  forEachField(buf, start, end, (n, w, fieldStart, s, e) => {
    if (w === LengthDelimited && n === 1 && runIntact && fieldStart === runEnd && buf[fieldStart] === RequisiteTag) {
      offsets.push(fieldStart - start);
      runEnd = e;
    } else if (w === LengthDelimited && n === 1) {
      runIntact = false;
    }
    if (w !== LengthDelimited) return;
    if (n === 1) into.requisite.push(decodeTopology(buf, s, e));
    else if (n === 2) into.preferred.push(decodeTopology(buf, s, e));
  });
  // Intact, the leading run holds every requisite entry.
  if (runIntact && into.requisite.length >= MinRun) lastRun = runOf(into.requisite, Buffer.from(buf.subarray(start, runEnd)), offsets);
  return into;
}

/**
 * Wraps a CreateVolumeRequest deserializer: field 7 is decoded here (interned topologies), the rest as before. A
 * malformed request is left to the protobufjs deserializer, which reports it as it always has.
 */
export function createVolumeRequestDeserializer(deserialize: (buf: Buffer) => object): (buf: Buffer) => object {
  return (buf) => {
    const rest: Buffer[] = [];
    let requirement: Requirement | undefined;
    try {
      forEachField(buf, 0, buf.length, (number, wire, fieldStart, bodyStart, bodyEnd) => {
        if (number !== AccessibilityRequirementsField || wire !== LengthDelimited) {
          rest.push(buf.subarray(fieldStart, bodyEnd));
          return;
        }
        // Given more than once, the last one counts, as protobufjs (which decodes the rest) has it.
        requirement = decodeRequirement(buf, bodyStart, bodyEnd);
      });
    } catch (err) {
      if (err instanceof WireError) return deserialize(buf);
      throw err;
    }
    if (!requirement) return deserialize(buf);
    return { ...deserialize(Buffer.concat(rest)), accessibility_requirements: requirement };
  };
}
