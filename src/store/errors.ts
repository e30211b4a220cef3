// Typed failures of Store operations. The phrases follow k8s.io/apiserver/pkg/storage ("key not found", "key exists",
// "resource version conflicts"); the API server maps each class to its HTTP status (404, 409, 409, 410).

export class StoreError extends Error {
  override name = 'StoreError';
}

export class KeyNotFoundError extends StoreError {
  override name = 'KeyNotFoundError';
  readonly key: string;
  constructor(key: string) {
    super(`key not found: ${key}`);
    this.key = key;
  }
}

export class KeyExistsError extends StoreError {
  override name = 'KeyExistsError';
  readonly key: string;
  constructor(key: string) {
    super(`key exists: ${key}`);
    this.key = key;
  }
}

export class RevisionConflictError extends StoreError {
  override name = 'RevisionConflictError';
  readonly key: string;
  readonly expectedModRevision: number;
  /** The key's modRevision at the time of the failed write. */
  readonly currentModRevision: number;
  constructor(key: string, expectedModRevision: number, currentModRevision: number) {
    super(`resource version conflicts: ${key} has modRevision ${currentModRevision}, expected ${expectedModRevision}`);
    this.key = key;
    this.expectedModRevision = expectedModRevision;
    this.currentModRevision = currentModRevision;
  }
}

/** A watch asked for history that compaction already dropped; the message is the one kube-apiserver sends with 410. */
export class CompactedError extends StoreError {
  override name = 'CompactedError';
  readonly requestedRevision: number;
  readonly compactedRevision: number;
  constructor(requestedRevision: number, compactedRevision: number) {
    super(`too old resource version: ${requestedRevision} (${compactedRevision})`);
    this.requestedRevision = requestedRevision;
    this.compactedRevision = compactedRevision;
  }
}
