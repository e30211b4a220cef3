// Every patch type kube-apiserver accepts, as pure functions over JSON values. See errors.ts for the HTTP status of
// each failure.

import { PatchError } from './errors.ts';
import { supportsStrategicMerge } from './smp-schema.ts';

export { PatchError, ApplyConflictError, type ApplyConflict, type PatchErrorReason } from './errors.ts';
export { applyJsonPatch, applyMergePatch } from './json-patch.ts';
export { applyStrategicMergePatch } from './strategic.ts';
export { supportsStrategicMerge } from './smp-schema.ts';
export { serverSideApply, recordUpdate, lastAppliedConfigAnnotation, type ApplyOptions, type UpdateOptions } from './managed-fields.ts';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

const patchTypesByContentType: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

/** The patch type of a Content-Type header (parameters such as `; charset=utf-8` ignored), if served. */
export function patchTypeFromContentType(ct: string): PatchType | undefined {
  const semicolon = ct.indexOf(';');
  const mediaType = semicolon > 0 ? ct.slice(0, semicolon) : ct;
  return Object.hasOwn(patchTypesByContentType, mediaType) ? patchTypesByContentType[mediaType] : undefined;
}

/** Media types a PATCH of this kind accepts, in upstream order (no strategic merge for custom kinds). */
export function acceptedPatchContentTypes(gvk: string): string[] {
  return Object.keys(patchTypesByContentType).filter(
    (ct) => patchTypesByContentType[ct] !== 'strategic' || supportsStrategicMerge(gvk),
  );
}

/** The 415 answered to a patch content type the kind does not accept. */
export function unsupportedPatchMediaType(gvk: string): PatchError {
  return new PatchError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${acceptedPatchContentTypes(gvk).join(', ')}`,
  );
}
