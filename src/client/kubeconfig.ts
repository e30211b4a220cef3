// Writes a kubeconfig for one server and one bearer token, usable by kubectl and @kubernetes/client-node, and reads
// back what only Strata's own clients use: the API server's local socket.
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

/**
 * The cluster extension (kubeconfig clusters[].cluster.extensions, as minikube writes its cluster_info) that names the
 * unix socket on which the API server also serves, to clients on the same machine, what it serves at `server`:
 * { path: ABSOLUTE_PATH }. kubectl and other clients ignore it; Strata's clients use the socket when it exists.
 */
export const LocalSocketExtension = 'strata.io/local-socket';

export interface KubeconfigOptions {
  server: string;
  token: string;
  /** Skip verifying the server certificate (https only; always written for http, see below). */
  insecureSkipTlsVerify?: boolean;
  /** PEM of the CA that signed the server certificate. */
  certificateAuthorityPem?: string;
  /** The API server's local socket, written as the LocalSocketExtension. */
  localSocket?: string;
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
  if (o.localSocket) cluster.extensions = [{ name: LocalSocketExtension, extension: { path: o.localSocket } }];
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

/**
 * The local socket that the kubeconfig's current cluster names (LocalSocketExtension), if it is a socket on this
 * machine now; else undefined, and the client uses the cluster's server URL. Anything unreadable counts as no socket.
 */
export function localSocketOf(kubeconfigText: string): string | undefined {
  try {
    const doc = parse(kubeconfigText) as {
      'current-context'?: string;
      contexts?: Array<{ name?: string; context?: { cluster?: string } }>;
      clusters?: Array<{ name?: string; cluster?: { extensions?: Array<{ name?: string; extension?: { path?: unknown } }> } }>;
    };
    const clusterName = doc.contexts?.find((c) => c.name === doc['current-context'])?.context?.cluster;
    const cluster = doc.clusters?.find((c) => c.name === clusterName)?.cluster;
    const path = cluster?.extensions?.find((e) => e.name === LocalSocketExtension)?.extension?.path;
    return typeof path === 'string' && path.startsWith('/') && statSync(path).isSocket() ? path : undefined;
  } catch {
    return undefined;
  }
}
