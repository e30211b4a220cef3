import { status } from '@grpc/grpc-js';

// A failed CSI call: the gRPC status code (as the spec names them) and the details the plugin sent.
export class CsiError extends Error {
  readonly code: status;
  readonly details: string;
  constructor(code: status, details: string) {
    super(`${status[code] ?? code}: ${details}`);
    this.name = 'CsiError';
    this.code = code;
    this.details = details;
  }
}
