// Errors of the Kubernetes client: an API error carries the server's metav1 Status, as client-go's StatusError does.
import type { Status } from '../api/types.ts';

export class ApiError extends Error {
  /** HTTP status code (Status.code). */
  readonly code: number;
  /** Status.reason: NotFound, AlreadyExists, Conflict, Expired, Gone, Invalid, … ('' when the server gave none). */
  readonly reason: string;
  /** The Status body the server answered (or one built from the HTTP code when the body was not a Status). */
  readonly status: Status;

  constructor(status: Status) {
    super(status.message || `the server responded with the status code ${status.code} but did not return more information`);
    this.name = 'ApiError';
    this.code = status.code;
    this.reason = status.reason ?? '';
    this.status = status;
  }
}

/** A request the client refused to build (missing namespace, a kubeconfig it cannot use…). */
export class RequestConstructionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestConstructionError';
  }
}

function reasonOf(err: unknown): string {
  return err instanceof ApiError ? err.reason : '';
}

export function isNotFound(err: unknown): boolean {
  return reasonOf(err) === 'NotFound';
}
export function isAlreadyExists(err: unknown): boolean {
  return reasonOf(err) === 'AlreadyExists';
}
export function isConflict(err: unknown): boolean {
  return reasonOf(err) === 'Conflict';
}
export function isInvalid(err: unknown): boolean {
  return reasonOf(err) === 'Invalid';
}
/** 410: the resourceVersion asked for is gone (reason Expired from watches and lists, or Gone). Relist. */
export function isGone(err: unknown): boolean {
  return err instanceof ApiError && err.code === 410;
}

// Reason and message client-go gives a response whose body is not a Status (apimachinery NewGenericServerResponse).
const GENERIC_RESPONSES: Record<number, [reason: string, message: string | null]> = {
  400: ['BadRequest', 'the server rejected our request for an unknown reason'],
  401: ['Unauthorized', 'the server has asked for the client to provide credentials'],
  403: ['Forbidden', null],
  404: ['NotFound', 'the server could not find the requested resource'],
  405: ['MethodNotAllowed', 'the server does not allow this method on the requested resource'],
  406: ['NotAcceptable', null],
  415: ['UnsupportedMediaType', null],
  422: ['Invalid', 'the server rejected our request due to an error in our request'],
  429: ['TooManyRequests', 'the server has received too many requests and has asked us to try again later'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  504: ['Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request'],
};

/** Status for a non-Status error body, as client-go builds it (409 on POST means AlreadyExists). */
export function genericServerResponse(code: number, verb: string, serverMessage: string): Status {
  let reason = '';
  let message = `the server responded with the status code ${code} but did not return more information`;
  if (code === 409) {
    reason = verb === 'POST' ? 'AlreadyExists' : 'Conflict';
    message = 'the server reported a conflict';
  } else if (GENERIC_RESPONSES[code]) {
    const [r, m] = GENERIC_RESPONSES[code];
    reason = r;
    message = m ?? serverMessage;
  } else if (code >= 500) {
    reason = 'InternalError';
    message = `an error on the server (${JSON.stringify(serverMessage)}) has prevented the request from succeeding`;
  }
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code };
  if (reason) status.reason = reason;
  return status;
}

/** Misuse of an informer's indexers (unknown index, a name registered twice). */
export class IndexerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IndexerError';
  }
}

/** Leader election timings that cannot work (client-go NewLeaderElector's checks). */
export class LeaderElectionConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaderElectionConfigError';
  }
}
