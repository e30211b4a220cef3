// `strata controller-manager --kubeconfig K --csi-endpoint unix://PATH [--leader-elect] [--metrics-port N]`
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import type { Registry } from 'prom-client';
import { DefaultBinderClaimWorkers } from './defaults.ts';

export interface ControllerManagerCommandOptions {
  kubeconfig?: string;
  csiEndpoint: string;
  driverName?: string;
  leaderElect: boolean;
  leaderElectIdentity?: string;
  metricsPort?: number;
  pvBinderClaimWorkers: number;
  logLevel: string;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return n;
}

export function controllerManagerCommand(): Command {
  return new Command('controller-manager')
    .description('run the storage controllers: PV binder and protection, CSI provisioner, snapshot controller and snapshotter')
    .option('--kubeconfig <file>', 'kubeconfig of the API server (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .requiredOption('--csi-endpoint <endpoint>', "the CSI driver's controller endpoint, unix://PATH")
    .option('--driver-name <name>', "the driver's name (default: its GetPluginInfo name)")
    .option('--leader-elect', 'run only while holding the kube-system/strata-controller-manager Lease', false)
    .option('--leader-elect-identity <id>', 'the Lease holder identity (default: hostname_uuid)')
    .option('--metrics-port <n>', 'serve Prometheus metrics on 127.0.0.1:<n>/metrics (0 picks a free port)', port)
    .option('--pv-binder-claim-workers <n>', 'claim workers of the PV binder (1 is upstream\'s wiring)', positiveInt, DefaultBinderClaimWorkers)
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (options: ControllerManagerCommandOptions) => runControllerManagerCommand(options));
}

function serveMetrics(registry: Registry, portNumber: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(portNumber, '127.0.0.1', () => resolve(server));
  });
}

/** Runs until SIGTERM/SIGINT (exit 0) or lost leadership (exit 1, as kube-controller-manager). */
export async function runControllerManagerCommand(options: ControllerManagerCommandOptions): Promise<void> {
  // Loaded when the command runs: every `strata` command parses these options, only this one runs the controllers.
  const [{ default: pino }, { Registry, collectDefaultMetrics }, { KubeClient }, { startControllerManager }] = await Promise.all([
    import('pino'), import('prom-client'), import('../client/rest.ts'), import('./manager.ts'),
  ]);
  const logger = pino({ name: 'controller-manager', level: options.logLevel }, pino.destination(2));
  const client = KubeClient.fromKubeconfig(options.kubeconfig);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = options.metricsPort === undefined ? undefined : await serveMetrics(registry, options.metricsPort);
  if (metrics) process.stderr.write(`metrics at http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics\n`);
  const shutdown = new AbortController();
  const onSignal = (): void => shutdown.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const manager = await startControllerManager({
      client,
      csiEndpoint: options.csiEndpoint,
      driverName: options.driverName,
      leaderElection: options.leaderElect,
      identity: options.leaderElectIdentity,
      metricsRegistry: registry,
      binderClaimWorkers: options.pvBinderClaimWorkers,
      signal: shutdown.signal,
      logger,
    });
    process.stderr.write('Strata controller manager is running\n');
    await manager.stopped;
  } finally {
    metrics?.close();
    client.close();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  if (!shutdown.signal.aborted) logger.error('leaderelection lost');
  // Informers' reconnect timers and keep-alive sockets must not hold the process open.
  process.exit(shutdown.signal.aborted ? 0 : 1);
}
