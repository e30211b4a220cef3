// The `strata` command: one binary, a subcommand per component (as kube's components), plus `up` for all of them.
import { Command, InvalidArgumentError } from 'commander';
import { startApiServer } from '../apiserver/server.ts';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return n;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Runs until SIGINT/SIGTERM, then stops what was started and exits 0. */
export function untilSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`received ${sig}, shutting down\n`);
    stop().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`error while shutting down: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

export function buildProgram(): Command {
  const program = new Command('strata')
    .description('Kubernetes storage control plane: volume snapshots and topology-aware volume scheduling')
    .showHelpAfterError();

  program
    .command('apiserver')
    .description('run the embedded Kubernetes-compatible API server alone')
    .requiredOption('--data-dir <dir>', 'where state, the admin token and the kubeconfig live')
    .option('--port <n>', 'port to listen on (0 picks a free one)', port, 6443)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--storage <backend>', 'sqlite (durable, default) or memory', 'sqlite')
    .option('--watch-cache-size <n>', 'events kept for watches to resume from; older resourceVersions get 410 Expired', positiveInt, 100_000)
    .action(async (o: { dataDir: string; port: number; host: string; storage: string; watchCacheSize: number }) => {
      if (o.storage !== 'sqlite' && o.storage !== 'memory') throw new InvalidArgumentError(`--storage must be sqlite or memory, not ${o.storage}`);
      const server = await startApiServer({ dataDir: o.dataDir, port: o.port, host: o.host, storage: o.storage, watchCacheCapacity: o.watchCacheSize });
      process.stdout.write(`Strata API server is ready at ${server.url}\n`);
      process.stdout.write(`kubeconfig: ${server.kubeconfigPath}\n`);
      untilSignal(() => server.close());
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    process.stderr.write(`strata: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
