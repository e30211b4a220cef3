// Errors of the snapshot controllers. A sync that throws is requeued with per-item exponential backoff.
import { ControllerUpdateFailMsg } from './utils.ts';

/** An API write failed (upstream's controllerUpdateError): "snapshot controller failed to update NAME on API server: MSG". */
export class ControllerUpdateError extends Error {
  override readonly name = 'ControllerUpdateError';
  constructor(objectName: string, message: string) {
    super(`${ControllerUpdateFailMsg} ${objectName} on API server: ${message}`);
  }
}

/** A sync could not reach the desired state; the message is upstream's. */
export class SnapshotSyncError extends Error {
  override readonly name = 'SnapshotSyncError';
}
