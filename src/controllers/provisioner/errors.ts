// Errors of the provisioner's sync logic.

/** Where a failed provisioning attempt leaves the volume, as sig-storage-lib-external-provisioner's ProvisioningState. */
export type ProvisioningState = 'Finished' | 'InBackground' | 'NoChange' | 'Reschedule';

/** Provisioning failed; the claim is retried with backoff. state tells whether CreateVolume may still be running. */
export class ProvisioningError extends Error {
  override readonly name = 'ProvisioningError';
  readonly state: ProvisioningState;
  constructor(state: ProvisioningState, message: string, options?: ErrorOptions) {
    super(message, options);
    this.state = state;
  }
}

/** Deleting a released volume failed; the volume is retried with backoff. */
export class VolumeDeletionError extends Error {
  override readonly name = 'VolumeDeletionError';
}

/** gRPC status code names as Go's codes.Code.String() prints them. */
const grpcCodeNames = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable',
  'DataLoss', 'Unauthenticated',
];

export const GrpcCode = { Canceled: 1, InvalidArgument: 3, DeadlineExceeded: 4, NotFound: 5, ResourceExhausted: 8, Aborted: 10, Unavailable: 14 } as const;

/** The gRPC status code of a CSI call's error, when it is a gRPC error. */
export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 0 && code < grpcCodeNames.length ? code : undefined;
}

/** The error as a Go gRPC client prints it: "rpc error: code = ResourceExhausted desc = ...". */
export function describeCsiError(err: unknown): string {
  const code = grpcCode(err);
  const e = err as { details?: unknown; message?: unknown };
  if (code === undefined) return String(e?.message ?? err);
  const desc = typeof e.details === 'string' ? e.details : String(e.message ?? '');
  return `rpc error: code = ${grpcCodeNames[code]} desc = ${desc}`;
}
