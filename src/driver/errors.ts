// The driver answers every failure with a CSI status code; these name the codes the spec assigns.
import { status } from '@grpc/grpc-js';
import { CsiError } from '../csi/errors.ts';

export { CsiError };

export const invalidArgument = (details: string) => new CsiError(status.INVALID_ARGUMENT, details);
export const notFound = (details: string) => new CsiError(status.NOT_FOUND, details);
export const alreadyExists = (details: string) => new CsiError(status.ALREADY_EXISTS, details);
export const resourceExhausted = (details: string) => new CsiError(status.RESOURCE_EXHAUSTED, details);
export const outOfRange = (details: string) => new CsiError(status.OUT_OF_RANGE, details);
export const failedPrecondition = (details: string) => new CsiError(status.FAILED_PRECONDITION, details);
export const aborted = (details: string) => new CsiError(status.ABORTED, details);
export const unimplemented = (details: string) => new CsiError(status.UNIMPLEMENTED, details);
