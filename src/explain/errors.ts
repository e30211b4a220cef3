// Errors of `strata explain`.

/** The object to explain does not exist; the message is kubectl's (`pods "x" not found`). */
export class ExplainTargetNotFoundError extends Error {
  constructor(resource: string, name: string) {
    super(`${resource} "${name}" not found`);
    this.name = 'ExplainTargetNotFoundError';
  }
}
