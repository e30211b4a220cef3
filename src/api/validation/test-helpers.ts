// Shared by the validation tests: run a check and get upstream-style messages back.
import type { KubeObject } from '../types.ts';
import { type FieldError, fieldErrorMessage } from '../field-errors.ts';

export function messages(errs: FieldError[]): string[] {
  return errs.map(fieldErrorMessage);
}

export function kube(o: Record<string, unknown>): KubeObject {
  return o as KubeObject;
}

export const subdomainMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
export const labelMsg =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
