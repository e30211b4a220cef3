// `strata csi-driver --endpoint unix://PATH --node-id NAME --mode controller|node|all --data-dir DIR --cluster FILE`
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import type { DriverMode } from './driver.ts';

export interface CsiDriverCommandOptions {
  endpoint: string;
  nodeId?: string;
  mode: DriverMode;
  dataDir: string;
  /** Path of the cluster file; the built-in cluster when absent. */
  cluster?: string;
  logLevel?: string;
}

export function csiDriverCommand(): Command {
  return new Command('csi-driver')
    .description('run the Strata CSI driver (csi.strata.io) on a unix socket')
    .requiredOption('--endpoint <endpoint>', 'CSI endpoint, unix://PATH')
    .option('--node-id <name>', 'the node this driver serves (node and all modes)')
    .addOption(new Option('--mode <mode>', 'services to serve').choices(['controller', 'node', 'all']).default('all'))
    .requiredOption('--data-dir <dir>', 'where volumes, snapshots and metadata live')
    .option('--cluster <file>', 'cluster file (default: the built-in cluster)')
    .option('--log-level <level>', 'pino log level', 'info');
}

export function parseCsiDriverArgs(argv: string[]): CsiDriverCommandOptions {
  return csiDriverCommand().exitOverride().parse(argv, { from: 'user' }).opts<CsiDriverCommandOptions>();
}

// Runs until SIGTERM or SIGINT, then closes the socket.
export async function runCsiDriverCommand(options: CsiDriverCommandOptions): Promise<void> {
  // Loaded when the command runs: every `strata` command parses these options, only this one runs a driver.
  const [{ default: pino }, { defaultClusterSpec, parseClusterFile }, { startCsiDriver }] = await Promise.all([
    import('pino'), import('../api/cluster.ts'), import('./driver.ts'),
  ]);
  const cluster = options.cluster ? parseClusterFile(readFileSync(options.cluster, 'utf8'), options.cluster) : defaultClusterSpec();
  const log = pino({ level: options.logLevel ?? 'info' }, pino.destination(2));
  const driver = await startCsiDriver({ endpoint: options.endpoint, nodeId: options.nodeId, mode: options.mode, dataDir: options.dataDir, cluster, log });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await driver.close();
}
