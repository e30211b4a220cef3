// Writes a kubeconfig for one server and one bearer token, usable by kubectl and @kubernetes/client-node.
import { chmodSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  server: string;
  token: string;
  /** Skip verifying the server certificate (https only; always written for http, see below). */
  insecureSkipTlsVerify?: boolean;
  /** PEM of the CA that signed the server certificate. */
  certificateAuthorityPem?: string;
  /** Cluster, user and context name; default "strata". */
  name?: string;
  namespace?: string;
}

/** The kubeconfig document (as a YAML string). */
export function kubeconfigYaml(o: KubeconfigOptions): string {
  const name = o.name ?? 'strata';
  const plainHttp = o.server.startsWith('http://');
  const cluster: Record<string, unknown> = { server: o.server };
  if (o.certificateAuthorityPem && !plainHttp) cluster['certificate-authority-data'] = Buffer.from(o.certificateAuthorityPem).toString('base64');
  // client-node 2.x throws "HTTP protocol is not allowed when skipTLSVerify is not set or false" for an http
  // server without it; kubectl accepts it (there is no TLS to skip).
  if (plainHttp || o.insecureSkipTlsVerify) cluster['insecure-skip-tls-verify'] = true;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster }],
    users: [{ name, user: { token: o.token } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: o.namespace ?? 'default' } }],
    'current-context': name,
    preferences: {},
  });
}

/** Writes it with mode 0600 (it holds a credential). */
export function writeKubeconfig(path: string, o: KubeconfigOptions): void {
  writeFileSync(path, kubeconfigYaml(o), { mode: 0o600 });
  chmodSync(path, 0o600);
}
