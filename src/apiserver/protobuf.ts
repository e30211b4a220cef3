// Decodes request bodies sent as application/vnd.kubernetes.protobuf (kubectl's typed clients: `create configmap`,
// `create namespace`, `create secret`, `create serviceaccount`, the DeleteOptions of `drain`) into the JSON wire form,
// the way kube-apiserver's protobuf serializer (k8s.io/apimachinery/pkg/runtime/serializer/protobuf) decodes them
// into Go structs that its JSON encoder would then print. Answers stay JSON: clients accept it.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { metaTime } from '../api/time.ts';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

/** A body that cannot be decoded; the HTTP layer answers 400. kind/apiVersion are set once the envelope was read. */
export class ProtobufDecodeError extends Error {
  readonly apiVersion?: string;
  readonly kind?: string;

  constructor(message: string, typeMeta?: { apiVersion: string; kind: string }) {
    super(message);
    this.name = 'ProtobufDecodeError';
    this.apiVersion = typeMeta?.apiVersion;
    this.kind = typeMeta?.kind;
  }
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"

const root = new protobuf.Root();
root.loadSync(['runtime.proto', 'core-v1.proto'].map((f) => fileURLToPath(new URL(`./proto/${f}`, import.meta.url))), { keepCase: true });
root.resolveAll();

const CORE = 'k8s.io.api.core.v1.';
const META = 'k8s.io.apimachinery.pkg.apis.meta.v1.';
const unknownType = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');

/** apiVersion → kind → message. DeleteOptions is registered in every group version upstream. */
const KINDS: Record<string, Record<string, protobuf.Type>> = {
  v1: Object.fromEntries(['Namespace', 'ConfigMap', 'Secret', 'ServiceAccount', 'Pod'].map((k) => [k, root.lookupType(CORE + k)])),
};
const deleteOptionsType = root.lookupType(META + 'DeleteOptions');

// Go pointer fields: present on the wire only when set, so their zero values (false, 0, "") are meaningful and kept.
// Every other scalar is a non-pointer Go field that gogo-protobuf always writes; `omitempty` drops its zero value.
const POINTER_FIELDS = new Set([
  'ObjectMeta.deletionGracePeriodSeconds', 'OwnerReference.controller', 'OwnerReference.blockOwnerDeletion',
  'DeleteOptions.gracePeriodSeconds', 'DeleteOptions.orphanDependents', 'DeleteOptions.propagationPolicy',
  'DeleteOptions.ignoreStoreReadErrorWithClusterBreakingPotential', 'Preconditions.uid', 'Preconditions.resourceVersion',
  'ConfigMap.immutable', 'Secret.immutable', 'ServiceAccount.automountServiceAccountToken',
  'PodSpec.terminationGracePeriodSeconds', 'PodSpec.activeDeadlineSeconds', 'PodSpec.automountServiceAccountToken',
  'PodSpec.shareProcessNamespace', 'PodSpec.priority', 'PodSpec.runtimeClassName', 'PodSpec.enableServiceLinks',
  'PodSpec.preemptionPolicy', 'Container.restartPolicy', 'VolumeMount.recursiveReadOnly', 'VolumeMount.mountPropagation',
  'Toleration.tolerationSeconds', 'HostPathVolumeSource.type', 'KeyToPath.mode',
  'ConfigMapVolumeSource.defaultMode', 'ConfigMapVolumeSource.optional', 'SecretVolumeSource.defaultMode',
  'SecretVolumeSource.optional', 'ConfigMapKeySelector.optional', 'SecretKeySelector.optional',
  'ConfigMapEnvSource.optional', 'SecretEnvSource.optional', 'CSIVolumeSource.readOnly', 'CSIVolumeSource.fsType',
]);

// Embedded Go structs (`json:",inline"`): their fields appear in the parent object.
const INLINE_FIELDS = new Set(['localObjectReference', 'volumeSource']);

type Json = Record<string, unknown>;
type Int64 = number | { toString(): string };

function int64(v: Int64): number {
  return typeof v === 'number' ? v : Number(v.toString());
}

/** metav1.Time: an empty message is the zero time (JSON null, omitted here); otherwise RFC 3339 in seconds, UTC. */
function timeJson(m: protobuf.Message): string | undefined {
  const t = m as unknown as { seconds?: Int64 };
  if (!Object.hasOwn(m, 'seconds') && !Object.hasOwn(m, 'nanos')) return undefined;
  return metaTime(int64(t.seconds ?? 0) * 1000);
}

function fieldsV1Json(m: protobuf.Message): unknown {
  const raw = (m as unknown as { Raw?: Uint8Array }).Raw;
  if (!raw || raw.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch (e) {
    throw new ProtobufDecodeError(`invalid FieldsV1: ${(e as Error).message}`);
  }
}

function messageJson(type: protobuf.Type, m: protobuf.Message): unknown {
  switch (type.fullName) {
    case `.${META}Time`: return timeJson(m);
    case `.${META}FieldsV1`: return fieldsV1Json(m);
    case '.k8s.io.apimachinery.pkg.api.resource.Quantity': return (m as unknown as { string?: string }).string || undefined;
  }
  return objectJson(type, m);
}

function valueJson(field: protobuf.Field, v: unknown): unknown {
  if (field.resolvedType instanceof protobuf.Type) return messageJson(field.resolvedType, v as protobuf.Message);
  if (field.type === 'bytes') return Buffer.from(v as Uint8Array).toString('base64');
  if (field.type === 'int64') return int64(v as Int64);
  return v;
}

function objectJson(type: protobuf.Type, m: protobuf.Message): Json {
  const out: Json = {};
  const msg = m as unknown as Record<string, unknown>;
  for (const field of type.fieldsArray) {
    const v = msg[field.name];
    if (field instanceof protobuf.MapField) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length) out[field.name] = Object.fromEntries(entries.map(([k, e]) => [k, valueJson(field, e) ?? '']));
      continue;
    }
    if (field.repeated) {
      const items = v as unknown[];
      if (items.length) out[field.name] = items.map((e) => valueJson(field, e));
      continue;
    }
    if (!Object.hasOwn(msg, field.name)) continue;
    const j = valueJson(field, v);
    if (j === undefined) continue;
    if (INLINE_FIELDS.has(field.name)) Object.assign(out, j);
    else if (field.resolvedType || POINTER_FIELDS.has(`${type.name}.${field.name}`) || (j !== '' && j !== 0 && j !== false)) out[field.name] = j;
  }
  return out;
}

/** True when bytes hold nothing but zero values (gogo writes non-pointer fields even when empty). */
function isZeroMessage(buf: Uint8Array): boolean {
  try {
    const r = protobuf.Reader.create(buf);
    while (r.pos < r.len) if (!isZeroValue(r, r.uint32() & 7)) return false;
    return true;
  } catch {
    return false;
  }
}

function isZeroValue(r: protobuf.Reader, wireType: number): boolean {
  switch (wireType) {
    case 0: return r.uint64().toString() === '0';
    case 1: return r.fixed64().toString() === '0';
    case 5: return r.fixed32() === 0;
    case 2: {
      const b = r.bytes();
      return b.length === 0 || isZeroMessage(b);
    }
    default: return false;
  }
}

/**
 * Refuses non-empty values in fields this decoder does not model: upstream would keep them, so silently dropping
 * them would change the object. Empty ones are what gogo writes for every non-pointer field and mean "unset".
 */
function rejectUnmodelledFields(type: protobuf.Type, buf: Uint8Array, path: string): void {
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wireType = tag & 7;
    const field = type.fieldsById[id];
    if (!field) {
      if (!isZeroValue(r, wireType)) {
        throw new ProtobufDecodeError(`field number ${id} of ${type.fullName.slice(1)} (at ${path}) is not supported by this server`);
      }
      continue;
    }
    if (wireType === 2 && field.resolvedType instanceof protobuf.Type && !(field instanceof protobuf.MapField)) {
      rejectUnmodelledFields(field.resolvedType, r.bytes(), path ? `${path}.${field.name}` : field.name);
    } else {
      r.skipType(wireType);
    }
  }
}

function goTypeMeta(apiVersion: string, kind: string): string {
  return `runtime.TypeMeta{APIVersion:${JSON.stringify(apiVersion)}, Kind:${JSON.stringify(kind)}}`;
}

/**
 * Decodes a k8s protobuf envelope into the object's JSON form ({apiVersion, kind, metadata, ...}) as kube-apiserver's
 * JSON would show it. Throws ProtobufDecodeError (→ 400) for bad magic, unknown kinds, malformed bytes.
 */
export function decodeKubeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new ProtobufDecodeError('empty data');
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ProtobufDecodeError(`provided data does not appear to be a protobuf message, expected prefix [${[...MAGIC].join(' ')}]`);
  }
  if (body.length === MAGIC.length) throw new ProtobufDecodeError('empty body');

  let envelope: { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array };
  try {
    envelope = unknownType.decode(body.subarray(MAGIC.length)) as typeof envelope;
  } catch (e) {
    throw new ProtobufDecodeError((e as Error).message);
  }
  const apiVersion = envelope.typeMeta?.apiVersion ?? '';
  const kind = envelope.typeMeta?.kind ?? '';
  if (!kind) throw new ProtobufDecodeError(`Object 'Kind' is missing in '${goTypeMeta(apiVersion, kind)}'`);
  if (!apiVersion) throw new ProtobufDecodeError(`Object 'apiVersion' is missing in '${goTypeMeta(apiVersion, kind)}'`);
  const type = kind === 'DeleteOptions' ? deleteOptionsType : KINDS[apiVersion]?.[kind];
  if (!type) {
    throw new ProtobufDecodeError(`no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)} in scheme "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:29"`, { apiVersion, kind });
  }

  const raw = envelope.raw ?? new Uint8Array(0);
  try {
    rejectUnmodelledFields(type, raw, '');
    return { kind, apiVersion, ...objectJson(type, type.decode(raw)) };
  } catch (e) {
    throw new ProtobufDecodeError((e as Error).message, { apiVersion, kind });
  }
}
