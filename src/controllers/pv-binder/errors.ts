// Errors of the PV binder's sync logic. A thrown error makes the worker requeue the object with backoff.

/** A sync could not reach the desired state; the message is upstream's. */
export class BinderError extends Error {
  override readonly name = 'BinderError';
}

/** The HTTP status code of a Kubernetes API error, when the error carries one. */
export function apiStatusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const candidate = err as { code?: unknown; statusCode?: unknown; status?: { code?: unknown } };
  for (const value of [candidate.statusCode, candidate.code, candidate.status?.code]) {
    if (typeof value === 'number') return value;
  }
  return undefined;
}
