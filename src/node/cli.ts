// `strata node --name NAME [--name NAME2 …] --kubeconfig K --cluster FILE --csi-endpoint unix://… --data-dir DIR`:
// one node agent per name in this process. Each node gets DIR/<name> as its data dir. Its CSI endpoint is the one
// --csi-endpoint given in the same position, or a single endpoint with "{node}" in it, filled in per node.
// The log server accepts the bearer token of the kubeconfig's user (the admin token the API server proxies with).
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { RunningNodeAgent } from './agent.ts';
import { NodeAgentConfigError } from './errors.ts';

export interface NodeCommandOptions {
  /** Node names (repeatable). */
  name: string[];
  kubeconfig?: string;
  /** Cluster file; the built-in cluster when absent. */
  cluster?: string;
  /** One endpoint per name, or one with "{node}" in it. */
  csiEndpoint: string[];
  dataDir: string;
  logLevel?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function nodeCommand(): Command {
  return new Command('node')
    .description('run node agents (the kubelet of simulated nodes): register nodes, mount volumes, run pods')
    .requiredOption('--name <name>', 'node name from the cluster file (repeatable)', collect)
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config)')
    .option('--cluster <file>', 'cluster file (default: the built-in cluster)')
    .requiredOption('--csi-endpoint <endpoint>', 'the node\'s CSI plugin, unix://PATH (repeatable, or one with {node})', collect)
    .requiredOption('--data-dir <dir>', 'where pods\' volumes, containers and logs live')
    .option('--log-level <level>', 'pino log level', 'info');
}

export function parseNodeArgs(argv: string[]): NodeCommandOptions {
  return nodeCommand().exitOverride().parse(argv, { from: 'user' }).opts<NodeCommandOptions>();
}

/** The CSI endpoint of each named node. */
export function csiEndpointsFor(names: string[], endpoints: string[]): string[] {
  if (endpoints.length === names.length) return endpoints;
  if (endpoints.length === 1 && endpoints[0].includes('{node}')) return names.map((n) => endpoints[0].replaceAll('{node}', n));
  throw new NodeAgentConfigError(`--csi-endpoint: give one per --name (${names.length}), or one containing {node}`);
}

/** A check accepting exactly this token, in constant time. */
export function bearerTokenCheck(expected: string | undefined): ((token: string) => boolean) | undefined {
  if (!expected) return undefined;
  const want = Buffer.from(expected);
  return (token) => {
    const got = Buffer.from(token);
    return got.length === want.length && timingSafeEqual(got, want);
  };
}

/** Runs the agents until SIGTERM or SIGINT (or the signal aborts), then closes them. */
export async function runNodeCommand(options: NodeCommandOptions, signal?: AbortSignal): Promise<void> {
  // Loaded when the command runs: every `strata` command parses these options, only this one runs node agents.
  const [{ default: pino }, { defaultClusterSpec, parseClusterFile }, { KubeClient }, { startNodeAgent }] = await Promise.all([
    import('pino'), import('../api/cluster.ts'), import('../client/rest.ts'), import('./agent.ts'),
  ]);
  const cluster = options.cluster ? parseClusterFile(readFileSync(options.cluster, 'utf8'), options.cluster) : defaultClusterSpec();
  const endpoints = csiEndpointsFor(options.name, options.csiEndpoint);
  const logger = pino({ name: 'strata-node', level: options.logLevel ?? 'info' }, pino.destination(2));
  const client = KubeClient.fromKubeconfig(options.kubeconfig);
  const logTokenCheck = bearerTokenCheck(client.kubeConfig.getCurrentUser()?.token);
  const agents: RunningNodeAgent[] = [];
  try {
    for (const [i, name] of options.name.entries()) {
      agents.push(await startNodeAgent({ client, name, cluster, csiEndpoint: endpoints[i], dataDir: join(options.dataDir, name), logTokenCheck, logger }));
      logger.info({ node: name, logPort: agents[i].logPort }, 'node agent started');
    }
    await new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
  } finally {
    await Promise.all(agents.map((a) => a.close()));
    client.close();
  }
}
