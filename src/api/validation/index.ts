// Validation, defaulting and strict field checking for every kind Strata serves, dispatched by
// `${apiVersion}/${kind}` (e.g. 'v1/PersistentVolumeClaim', 'storage.k8s.io/v1/StorageClass').
import type { KubeObject } from '../types.ts';
import type { FieldError } from '../field-errors.ts';
import { nameIsPathSegment } from '../names.ts';
import type { KindRules } from './rules.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import { unknownFieldPaths } from './schema.ts';
import { decodeError } from './decode.ts';
import { bindingRules } from './binding.ts';
import { configMapRules } from './configmap.ts';
import { csiDriverRules } from './csidriver.ts';
import { csiNodeRules } from './csinode.ts';
import { csiStorageCapacityRules } from './csistoragecapacity.ts';
import { eventRules } from './event.ts';
import { leaseRules } from './lease.ts';
import { namespaceRules } from './namespace.ts';
import { nodeRules } from './node.ts';
import { persistentVolumeRules } from './persistentvolume.ts';
import { persistentVolumeClaimRules } from './persistentvolumeclaim.ts';
import { podRules } from './pod.ts';
import { secretRules } from './secret.ts';
import { serviceAccountRules } from './serviceaccount.ts';
import { storageClassRules } from './storageclass.ts';
import { volumeAttachmentRules } from './volumeattachment.ts';
import { volumeSnapshotRules } from './volumesnapshot.ts';
import { volumeSnapshotClassRules } from './volumesnapshotclass.ts';
import { volumeSnapshotContentRules } from './volumesnapshotcontent.ts';

export { defaultTolerationSeconds } from './pod.ts';

const rulesByGvk = new Map<string, KindRules>([
  ['v1/Namespace', namespaceRules],
  ['v1/Node', nodeRules],
  ['v1/Pod', podRules],
  ['v1/PersistentVolume', persistentVolumeRules],
  ['v1/PersistentVolumeClaim', persistentVolumeClaimRules],
  ['v1/Event', eventRules],
  ['v1/Secret', secretRules],
  ['v1/ConfigMap', configMapRules],
  ['v1/ServiceAccount', serviceAccountRules],
  ['v1/Binding', bindingRules],
  ['storage.k8s.io/v1/StorageClass', storageClassRules],
  ['storage.k8s.io/v1/CSINode', csiNodeRules],
  ['storage.k8s.io/v1/CSIDriver', csiDriverRules],
  ['storage.k8s.io/v1/CSIStorageCapacity', csiStorageCapacityRules],
  ['storage.k8s.io/v1/VolumeAttachment', volumeAttachmentRules],
  ['coordination.k8s.io/v1/Lease', leaseRules],
  ['snapshot.storage.k8s.io/v1/VolumeSnapshot', volumeSnapshotRules],
  ['snapshot.storage.k8s.io/v1/VolumeSnapshotContent', volumeSnapshotContentRules],
  ['snapshot.storage.k8s.io/v1/VolumeSnapshotClass', volumeSnapshotClassRules],
]);

export class UnknownKindError extends Error {
  override name = 'UnknownKindError';
  constructor(gvk: string) {
    super(`no validation rules for ${gvk}`);
  }
}

function rulesFor(gvk: string): KindRules {
  const rules = rulesByGvk.get(gvk);
  if (!rules) throw new UnknownKindError(gvk);
  return rules;
}

export function servedKinds(): string[] {
  return [...rulesByGvk.keys()];
}

/** The schema a kind's bodies are checked against: a client-node model name, or a hand-written schema. */
export function kindSchema(gvk: string): KindRules['schema'] {
  return rulesFor(gvk).schema;
}

// Upstream SetDefaults_* for the kind (run on every decoded request body). Mutates obj.
export function applyDefaults(gvk: string, obj: KubeObject): void {
  rulesFor(gvk).applyDefaults?.(obj);
}

// The REST strategy's PrepareForCreate: drops client-set status where a status subresource owns it and sets the
// initial status (Namespace Active + the `kubernetes` finalizer, PV/PVC Pending, Pod Pending). Mutates obj.
export function prepareForCreate(gvk: string, obj: KubeObject): void {
  rulesFor(gvk).prepareForCreate?.(obj);
}

// rest.BeforeCreate: the kind's validation; only when that passes, the generic ObjectMeta check with
// path-segment names (which is what rejects e.g. an Event without a name).
export function validateCreate(gvk: string, obj: KubeObject): FieldError[] {
  const rules = rulesFor(gvk);
  const errs = rules.validateCreate(obj);
  if (errs.length > 0 || rules.skipGenericMeta) return errs;
  return validateObjectMeta(obj.metadata, { namespaced: rules.namespaced, nameFn: nameIsPathSegment, kubeFinalizers: false });
}

// rest.BeforeUpdate: the kind's update validation (ObjectMeta update rules and immutability included), then the
// generic ObjectMeta update check. `obj.metadata.resourceVersion` must already be filled in by the caller.
export function validateUpdate(gvk: string, obj: KubeObject, old: KubeObject): FieldError[] {
  const rules = rulesFor(gvk);
  const errs = rules.validateUpdate(obj, old);
  if (errs.length > 0 || rules.skipGenericMeta) return errs;
  return validateObjectMetaUpdate(obj.metadata, old.metadata, false);
}

// Update of the /status subresource. Kinds without their own status rules get the ObjectMeta update rules.
export function validateStatusUpdate(gvk: string, obj: KubeObject, old: KubeObject): FieldError[] {
  const rules = rulesFor(gvk);
  const errs = rules.validateStatusUpdate ? rules.validateStatusUpdate(obj, old) : [];
  if (errs.length > 0) return errs;
  return validateObjectMetaUpdate(obj.metadata, old.metadata, false);
}

// Fields the kind's schema does not have, as paths ("spec.foo", "spec.containers[0].bar"), for
// fieldValidation=Strict/Warn.
export function unknownFields(gvk: string, obj: unknown): string[] {
  return unknownFieldPaths(rulesFor(gvk).schema, obj);
}

// A body value of the wrong JSON type, worded as kube-apiserver's decoder words it (the server answers 400), or
// undefined. Custom resources report their type errors as schema validation errors instead, except in metadata.
export function decodeErrorFor(gvk: string, obj: unknown): string | undefined {
  const schema = rulesFor(gvk).schema;
  if (typeof schema === 'string') return decodeError(schema, obj);
  const metadata = (obj as { metadata?: unknown } | null)?.metadata;
  const err = decodeError('V1ObjectMeta', metadata);
  return err?.replace('Go struct field ObjectMeta.', 'Go struct field ObjectMeta.metadata.');
}
