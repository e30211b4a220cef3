// Errors the API server answers with, each rendered as a metav1 Status exactly as kube-apiserver renders it
// (k8s.io/apimachinery/pkg/api/errors). Handlers throw these; the HTTP layer turns them into responses.
import type { Status, StatusCause } from '../api/types.ts';
import type { ResourceDef } from './resources.ts';
import { qualifiedKind, qualifiedResource } from './resources.ts';

export type StatusReason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Gone' | 'Invalid'
  | 'Expired' | 'MethodNotAllowed' | 'NotAcceptable' | 'UnsupportedMediaType' | 'RequestEntityTooLarge'
  | 'Timeout' | 'InternalError' | 'ServiceUnavailable' | 'TooManyRequests';

export class ApiError extends Error {
  readonly code: number;
  readonly reason: StatusReason | '';
  readonly details?: Status['details'];

  constructor(code: number, reason: StatusReason | '', message: string, details?: Status['details']) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): Status {
    const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason || undefined, code: this.code };
    if (this.details) s.details = this.details;
    if (!s.reason) delete s.reason;
    return s;
  }
}

function gk(r: ResourceDef): { group?: string; kind: string } {
  return r.group ? { group: r.group, kind: r.plural } : { kind: r.plural };
}

export function notFound(r: ResourceDef, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(r)} "${name}" not found`, { name, ...gk(r) });
}

export function alreadyExists(r: ResourceDef, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(r)} "${name}" already exists`, { name, ...gk(r) });
}

export function conflict(r: ResourceDef, name: string, why: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(r)} "${name}": ${why}`, { name, ...gk(r) });
}

export const OBJECT_MODIFIED = 'the object has been modified; please apply your changes to the latest version and try again';

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function methodNotAllowed(verb: string, r: ResourceDef): ApiError {
  return new ApiError(405, 'MethodNotAllowed', `${verb} is not supported on resources of kind "${qualifiedResource(r)}"`, gk(r));
}

export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

/** 504 for a read at a resourceVersion the cache has not reached in time, as upstream's watch cache answers. */
export function tooLargeResourceVersion(want: number, current: number): ApiError {
  return new ApiError(504, 'Timeout', `Too large resource version: ${want}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

/** A patch failure as a Status: the patch module chose the code and upstream's reason. */
export function fromPatchError(e: { code: number; reason: string; message: string }): ApiError {
  return new ApiError(e.code, (e.reason || '') as StatusReason | '', e.message);
}

export function internalError(err: unknown): ApiError {
  const msg = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'InternalError', `Internal error occurred: ${msg}`, { causes: [{ message: msg }] });
}

export interface InvalidCause {
  /** upstream field.Error type, e.g. FieldValueRequired */
  reason: string;
  /** the full `path: body` text */
  text: string;
  /** the body without the path */
  message: string;
  field: string;
}

/** 422 Invalid: `Kind "name" is invalid: [a, b]` with one cause per field error, as NewInvalid. */
export function invalid(r: ResourceDef, name: string, causes: InvalidCause[]): ApiError {
  const agg = causes.length === 1 ? causes[0].text : `[${causes.map((c) => c.text).join(', ')}]`;
  const statusCauses: StatusCause[] = causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field }));
  return new ApiError(422, 'Invalid', `${qualifiedKind(r)} "${name}" is invalid: ${agg}`, {
    name,
    ...(r.group ? { group: r.group } : {}),
    kind: r.kind,
    causes: statusCauses,
  });
}

export function statusSuccess(r: ResourceDef, name: string, uid: string | undefined): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name, ...gk(r), ...(uid ? { uid } : {}) },
    code: 200,
  } as Status;
}
