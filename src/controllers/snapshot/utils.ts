// Names, predicates and small helpers shared by the snapshot controller and the snapshotter sidecar, as
// external-snapshotter keeps them in pkg/utils/util.go. Values are verbatim from upstream.
import type { KubeObject, ObjectReference, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from '../../api/types.ts';
import {
  AnnDeletionSecretRefName,
  AnnDeletionSecretRefNamespace,
  AnnIsDefaultSnapshotClass,
  AnnVolumeSnapshotBeingCreated,
  AnnVolumeSnapshotBeingDeleted,
  CSIParameterPrefix,
  PVCAsSourceFinalizer,
  SnapshotAPIGroup,
  VolumeSnapshotAsSourceFinalizer,
  VolumeSnapshotBoundFinalizer,
  VolumeSnapshotContentFinalizer,
  VolumeSnapshotInGroupFinalizer,
} from '../../api/well-known.ts';
import { isDNS1123Label, isDNS1123Subdomain } from '../../api/names.ts';

export {
  AnnDeletionSecretRefName,
  AnnDeletionSecretRefNamespace,
  AnnIsDefaultSnapshotClass,
  AnnVolumeSnapshotBeingCreated,
  AnnVolumeSnapshotBeingDeleted,
  PVCAsSourceFinalizer,
  SnapshotAPIGroup,
  VolumeSnapshotAsSourceFinalizer,
  VolumeSnapshotBoundFinalizer,
  VolumeSnapshotContentFinalizer,
  VolumeSnapshotInGroupFinalizer,
};

export const SnapshotKind = 'VolumeSnapshot';
export const SnapshotContentKind = 'VolumeSnapshotContent';
export const SnapshotAPIVersion = `${SnapshotAPIGroup}/v1`;

export const PrefixedSnapshotterSecretNameKey = `${CSIParameterPrefix}snapshotter-secret-name`;
export const PrefixedSnapshotterSecretNamespaceKey = `${CSIParameterPrefix}snapshotter-secret-namespace`;
export const PrefixedSnapshotterListSecretNameKey = `${CSIParameterPrefix}snapshotter-list-secret-name`;
export const PrefixedSnapshotterListSecretNamespaceKey = `${CSIParameterPrefix}snapshotter-list-secret-namespace`;
export const PrefixedGroupSnapshotterSecretNameKey = `${CSIParameterPrefix}group-snapshotter-secret-name`;
export const PrefixedGroupSnapshotterSecretNamespaceKey = `${CSIParameterPrefix}group-snapshotter-secret-namespace`;
export const PrefixedVolumeSnapshotNameKey = `${CSIParameterPrefix}volumesnapshot/name`;
export const PrefixedVolumeSnapshotNamespaceKey = `${CSIParameterPrefix}volumesnapshot/namespace`;
export const PrefixedVolumeSnapshotContentNameKey = `${CSIParameterPrefix}volumesnapshotcontent/name`;

/** The prefix of the CSI snapshot name: `snapshot-<VolumeSnapshot UID>` (--snapshot-name-prefix). */
export const DefaultSnapshotNamePrefix = 'snapshot';

// The prefix of every error message the controllers write after a failed API call (isControllerUpdateFailError).
export const ControllerUpdateFailMsg = 'snapshot controller failed to update';

export interface SecretParams {
  name: string;
  secretNameKey: string;
  secretNamespaceKey: string;
}
export const SnapshotterSecretParams: SecretParams = {
  name: 'Snapshotter',
  secretNameKey: PrefixedSnapshotterSecretNameKey,
  secretNamespaceKey: PrefixedSnapshotterSecretNamespaceKey,
};
export const SnapshotterListSecretParams: SecretParams = {
  name: 'SnapshotterList',
  secretNameKey: PrefixedSnapshotterListSecretNameKey,
  secretNamespaceKey: PrefixedSnapshotterListSecretNamespaceKey,
};

/** Go's %q of a string (ASCII-exact; enough for the messages carried over). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Error text of anything thrown. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function snapshotKey(snapshot: VolumeSnapshot): string {
  return `${snapshot.metadata.namespace ?? ''}/${snapshot.metadata.name ?? ''}`;
}

export function snapshotRefKey(ref: ObjectReference): string {
  return `${ref.namespace ?? ''}/${ref.name ?? ''}`;
}

export function dynamicSnapshotContentName(snapshot: VolumeSnapshot): string {
  return `snapcontent-${snapshot.metadata.uid ?? ''}`;
}

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

export function hasAnnotation(obj: KubeObject, annotation: string): boolean {
  return obj.metadata.annotations !== undefined && annotation in obj.metadata.annotations;
}

export function isDefaultSnapshotClass(cls: VolumeSnapshotClass): boolean {
  return cls.metadata.annotations?.[AnnIsDefaultSnapshotClass] === 'true';
}

export function needToAddContentFinalizer(content: VolumeSnapshotContent): boolean {
  return !content.metadata.deletionTimestamp && !hasFinalizer(content, VolumeSnapshotContentFinalizer);
}

export function isSnapshotDeletionCandidate(snapshot: VolumeSnapshot): boolean {
  return (
    !!snapshot.metadata.deletionTimestamp &&
    (hasFinalizer(snapshot, VolumeSnapshotAsSourceFinalizer) || hasFinalizer(snapshot, VolumeSnapshotBoundFinalizer))
  );
}

export function needToAddSnapshotAsSourceFinalizer(snapshot: VolumeSnapshot): boolean {
  return !snapshot.metadata.deletionTimestamp && !hasFinalizer(snapshot, VolumeSnapshotAsSourceFinalizer);
}

export function needToAddSnapshotBoundFinalizer(snapshot: VolumeSnapshot): boolean {
  return (
    !snapshot.metadata.deletionTimestamp &&
    !hasFinalizer(snapshot, VolumeSnapshotBoundFinalizer) &&
    isBoundVolumeSnapshotContentNameSet(snapshot)
  );
}

export function isVolumeSnapshotRefSet(snapshot: VolumeSnapshot, content: VolumeSnapshotContent): boolean {
  const ref = content.spec.volumeSnapshotRef;
  return ref.name === snapshot.metadata.name && ref.namespace === snapshot.metadata.namespace && (ref.uid ?? '') === (snapshot.metadata.uid ?? '');
}

export function isBoundVolumeSnapshotContentNameSet(snapshot: VolumeSnapshot): boolean {
  return !!snapshot.status?.boundVolumeSnapshotContentName;
}

export function isSnapshotReady(snapshot: VolumeSnapshot): boolean {
  return snapshot.status?.readyToUse === true;
}

/** The snapshot has been cut on the storage system. */
export function isSnapshotCreated(snapshot: VolumeSnapshot): boolean {
  return snapshot.status?.creationTime !== undefined;
}

export function contentIsReady(content: VolumeSnapshotContent): boolean {
  return content.status?.readyToUse === true;
}

/** RemovePrefixedParameters: class parameters for the driver, without the snapshotter's own `csi.storage.k8s.io/` keys. */
export function removePrefixedParameters(params: Record<string, string> | undefined): Record<string, string> {
  const known = new Set([
    PrefixedSnapshotterSecretNameKey,
    PrefixedSnapshotterSecretNamespaceKey,
    PrefixedSnapshotterListSecretNameKey,
    PrefixedSnapshotterListSecretNamespaceKey,
    PrefixedGroupSnapshotterSecretNameKey,
    PrefixedGroupSnapshotterSecretNamespaceKey,
  ]);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params ?? {})) {
    if (!k.startsWith(CSIParameterPrefix)) out[k] = v;
    else if (!known.has(k)) throw new Error(`found unknown parameter key "${k}" with reserved namespace ${CSIParameterPrefix}`);
  }
  return out;
}

export interface SecretReference {
  name: string;
  namespace: string;
}

function resolveTemplate(template: string, params: Record<string, string>): string {
  const missing = new Set<string>();
  // os.Expand: ${var} and $var
  const resolved = template.replace(/\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const key = braced ?? bare ?? '';
    if (!(key in params)) missing.add(key);
    return params[key] ?? '';
  });
  if (missing.size > 0) throw new Error(`invalid tokens: [${[...missing].sort().map(goQuote).join(' ')}]`);
  return resolved;
}

/** GetSecretReference: the secret a class's parameters name (templates resolved), or undefined when none is named. */
export function getSecretReference(
  params: SecretParams,
  classParams: Record<string, string> | undefined,
  contentName: string,
  snapshot: VolumeSnapshot | undefined,
): SecretReference | undefined {
  const p = classParams ?? {};
  const hasName = params.secretNameKey in p;
  const hasNamespace = params.secretNamespaceKey in p;
  const prefix = 'failed to get name and namespace template from params: ';
  if (hasName !== hasNamespace) throw new Error(`${prefix}either name and namespace for ${params.name} secrets specified, Both must be specified`);
  if (!hasName) return undefined;
  const nameTemplate = p[params.secretNameKey]!;
  const namespaceTemplate = p[params.secretNamespaceKey]!;
  if (!nameTemplate || !namespaceTemplate) {
    throw new Error(`${prefix}${params.name} secrets specified in parameters but value of either namespace or name is empty`);
  }
  const namespaceParams: Record<string, string> = { 'volumesnapshotcontent.name': contentName };
  const nameParams: Record<string, string> = { 'volumesnapshotcontent.name': contentName };
  if (snapshot) {
    namespaceParams['volumesnapshot.namespace'] = snapshot.metadata.namespace ?? '';
    nameParams['volumesnapshot.name'] = snapshot.metadata.name ?? '';
    nameParams['volumesnapshot.namespace'] = snapshot.metadata.namespace ?? '';
  }
  const resolve = (template: string, values: Record<string, string>): string => {
    try {
      return resolveTemplate(template, values);
    } catch (err) {
      throw new Error(`error resolving value ${goQuote(template)}: ${errorText(err)}`);
    }
  };
  const namespace = resolve(namespaceTemplate, namespaceParams);
  if (isDNS1123Label(namespace).length > 0) {
    throw new Error(
      namespaceTemplate !== namespace
        ? `${goQuote(namespaceTemplate)} resolved to ${goQuote(namespace)} which is not a valid namespace name`
        : `${goQuote(namespaceTemplate)} is not a valid namespace name`,
    );
  }
  const name = resolve(nameTemplate, nameParams);
  if (isDNS1123Subdomain(name).length > 0) {
    throw new Error(
      nameTemplate !== name
        ? `${goQuote(nameTemplate)} resolved to ${goQuote(name)} which is not a valid secret name`
        : `${goQuote(nameTemplate)} is not a valid secret name`,
    );
  }
  return { name, namespace };
}

/** Annotations of a VolumeSnapshotContent that only the sidecar writes: a change to them alone needs no sync. */
const sidecarControlledContentAnnotations = [AnnVolumeSnapshotBeingCreated];

/**
 * ShouldEnqueueContentChange: whether an update of a content is worth a sidecar sync. Changes of resourceVersion,
 * status, managedFields, finalizers and sidecar-owned annotations are the sidecar's own doing and are ignored.
 */
export function shouldEnqueueContentChange(oldContent: VolumeSnapshotContent, newContent: VolumeSnapshotContent): boolean {
  const sanitize = (c: VolumeSnapshotContent): unknown => {
    const { resourceVersion: _rv, managedFields: _mf, finalizers: _f, annotations, ...meta } = c.metadata;
    const kept = Object.entries(annotations ?? {}).filter(([k]) => !sidecarControlledContentAnnotations.includes(k));
    const { status: _status, metadata: _meta, ...rest } = c;
    return { ...rest, metadata: { ...meta, annotations: Object.fromEntries(kept.sort(([a], [b]) => (a < b ? -1 : 1))) } };
  };
  return !deepEqual(sanitize(oldContent), sanitize(newContent));
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
