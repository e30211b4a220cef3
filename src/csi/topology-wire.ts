// CreateVolumeRequest.accessibility_requirements on the wire, without protobufjs.
//
// A provisioner that is not strict about topology (the default) sends the topology of every node twice, as requisite
// and as preferred: at 500 nodes that is 1,000 Topology messages in every CreateVolume. Encoded by protobufjs from
// objects, they cost the provisioner more CPU than anything else it does, and decoded by protobufjs the driver as much
// again. The provisioner hands over the same Topology objects in every request (its node topologies are cached), so
// here each one is encoded once and its bytes reused; the driver interns what it decodes by bytes, so it sees one
// object per distinct topology and can remember what it worked out for it. The bytes are the protobuf encoding
// (csi.proto: CreateVolumeRequest field 7, TopologyRequirement requisite 1 / preferred 2, Topology map segments 1), so
// either side talks to any other CSI implementation unchanged.
import type { Topology, TopologyRequirement } from './types.ts';

const AccessibilityRequirementsField = 7;
const LengthDelimited = 2;

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

/**
 * Field 7 of a CreateVolumeRequest, the requirement's topologies from their cached encodings, after the bytes of the
 * request's other fields: one buffer, one copy of each part.
 */
export function encodeAccessibilityRequirements(req: TopologyRequirement, before: Uint8Array = Buffer.alloc(0)): Buffer {
  const lists: Array<[number, Topology[]]> = [[1, req.requisite ?? []], [2, req.preferred ?? []]];
  let bodyLength = 0;
  for (const [, list] of lists) for (const t of list) bodyLength += 1 + varintLength(encodeTopology(t).length) + encodeTopology(t).length;
  const tag = (AccessibilityRequirementsField << 3) | LengthDelimited;
  const out = Buffer.allocUnsafe(before.length + varintLength(tag) + varintLength(bodyLength) + bodyLength);
  out.set(before, 0);
  let pos = writeVarint(out, before.length, tag);
  pos = writeVarint(out, pos, bodyLength);
  for (const [number, list] of lists) {
    for (const t of list) {
      const bytes = encodeTopology(t);
      out[pos++] = (number << 3) | LengthDelimited;
      pos = writeVarint(out, pos, bytes.length);
      pos += bytes.copy(out, pos);
    }
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

/**
 * Wraps a CreateVolumeRequest deserializer: field 7 is decoded here (interned topologies), the rest as before. A
 * malformed request is left to the protobufjs deserializer, which reports it as it always has.
 */
export function createVolumeRequestDeserializer(deserialize: (buf: Buffer) => object): (buf: Buffer) => object {
  return (buf) => {
    const rest: Buffer[] = [];
    let requirement: { requisite: Topology[]; preferred: Topology[] } | undefined;
    try {
      forEachField(buf, 0, buf.length, (number, wire, fieldStart, bodyStart, bodyEnd) => {
        if (number !== AccessibilityRequirementsField || wire !== LengthDelimited) {
          rest.push(buf.subarray(fieldStart, bodyEnd));
          return;
        }
        // Given more than once, the last one counts, as protobufjs (which decodes the rest) has it.
        const into: { requisite: Topology[]; preferred: Topology[] } = { requisite: [], preferred: [] };
        requirement = into;
        forEachField(buf, bodyStart, bodyEnd, (n, w, _f, s, e) => {
          if (w !== LengthDelimited) return;
          if (n === 1) into.requisite.push(decodeTopology(buf, s, e));
          else if (n === 2) into.preferred.push(decodeTopology(buf, s, e));
        });
      });
    } catch (err) {
      if (err instanceof WireError) return deserialize(buf);
      throw err;
    }
    if (!requirement) return deserialize(buf);
    return { ...deserialize(Buffer.concat(rest)), accessibility_requirements: requirement };
  };
}
