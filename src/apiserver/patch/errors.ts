// Errors of the patch module. Each carries what the API server needs to build the upstream Status.
//
// HTTP status of each failure, as kube-apiserver answers (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go):
// - JSON patch body that is not a list of operations: 400 BadRequest, the decoder's message.
// - JSON patch with more than 10000 operations: 413 RequestEntityTooLarge.
// - JSON patch operation that cannot be applied (missing path, failed test, ...): 422 Invalid with the generic message
//   "the server rejected our request due to an error in our request" (NewGenericServerResponse drops the detail).
// - Merge patch that is not a JSON object or array: 400 BadRequest "Invalid JSON Patch".
// - Merge patch that is an array: the result is not an object, so decoding it fails: 422 Invalid.
// - Strategic merge patch: bad `$deleteFromPrimitiveList`, `$retainKeys`, `$setElementOrder` formats: 400 BadRequest;
//   lists of lists: 422 Invalid (generic message); any other strategic merge error: 500 with reason "" (Unknown).
// - Apply: body of another apiVersion/kind, or carrying metadata.managedFields: 400 BadRequest; conflicts: 409 Conflict.
// - Patch content type the resource does not accept: 415 UnsupportedMediaType.

export type PatchErrorReason = 'BadRequest' | 'Invalid' | 'RequestEntityTooLarge' | 'UnsupportedMediaType' | '';

export class PatchError extends Error {
  readonly code: 400 | 413 | 415 | 422 | 500;
  readonly reason: PatchErrorReason;
  /** The underlying failure when the Status message is generic (logged, not sent). */
  readonly detail?: string;

  constructor(code: PatchError['code'], reason: PatchErrorReason, message: string, detail?: string) {
    super(message);
    this.name = 'PatchError';
    this.code = code;
    this.reason = reason;
    if (detail !== undefined) this.detail = detail;
  }
}

export interface ApplyConflict {
  /** The field manager's name, as in managedFields[].manager. */
  manager: string;
  /** Field path as upstream prints it, e.g. `.metadata.labels.app` or `.spec.containers[name="c"].image`. */
  field: string;
  /** The Status cause message, e.g. `conflict with "kubectl-edit" using v1`. */
  message: string;
}

/** 409 Conflict with reason Conflict; `conflicts` become details.causes of type FieldManagerConflict. */
export class ApplyConflictError extends Error {
  readonly code = 409;
  readonly reason = 'Conflict';
  readonly conflicts: ApplyConflict[];

  constructor(message: string, conflicts: ApplyConflict[]) {
    super(message);
    this.name = 'ApplyConflictError';
    this.conflicts = conflicts;
  }
}
