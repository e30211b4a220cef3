// The `strata` command: one binary, a subcommand per component (as kube's components), plus `up` for all of them,
// `demo` for the lecture's demonstrations and `explain` for why a pod, PVC or snapshot is stuck. Heavy modules are
// imported when their command runs, so that `strata apiserver` starts fast.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { startApiServer } from '../apiserver/server.ts';
import { controllerManagerCommand } from '../controllers/cli.ts';
import { csiDriverCommand, runCsiDriverCommand, type CsiDriverCommandOptions } from '../driver/cli.ts';
import { nodeCommand, runNodeCommand, type NodeCommandOptions } from '../node/cli.ts';

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

/** --kubeconfig, else $KUBECONFIG, else the kubeconfig of `strata up` in this directory, else ~/.kube/config. */
export function defaultKubeconfig(flag: string | undefined): string | undefined {
  if (flag) return flag;
  if (process.env.KUBECONFIG) return undefined;
  const local = resolve('.strata/kubeconfig');
  return existsSync(local) ? local : undefined;
}

const kubeconfigOption = () => new Option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ./.strata/kubeconfig, ~/.kube/config)');
const logLevelOption = () => new Option('--log-level <level>', 'pino log level').default('info');

function upCommand(): Command {
  return new Command('up')
    .description('run everything: API server, CSI driver, controllers, scheduler and every node of the cluster file')
    .option('--data-dir <dir>', 'where objects, volumes, snapshots and logs live', '.strata')
    .option('--cluster <file>', 'cluster file (default: the built-in cluster)')
    .option('--port <n>', 'API server port (0 picks a free one)', port, 6443)
    .option('--host <addr>', 'API server listen address', '127.0.0.1')
    .addOption(logLevelOption())
    .action(async (o: { dataDir: string; cluster?: string; port: number; host: string; logLevel: string }) => {
      const { readyMessage, startStrata } = await import('./up.ts');
      let running: Awaited<ReturnType<typeof startStrata>> | undefined;
      const starting = startStrata({
        dataDir: o.dataDir,
        clusterFile: o.cluster,
        port: o.port,
        host: o.host,
        logLevel: o.logLevel,
        progress: (line) => process.stdout.write(line + '\n'),
      });
      // A signal while starting stops what has started so far.
      untilSignal(async () => {
        running = await starting.catch(() => undefined);
        await running?.close();
      });
      running = await starting;
      process.stdout.write('\n' + readyMessage(running));
    });
}

function schedulerCommand(): Command {
  return new Command('scheduler')
    .description('run the scheduler alone against an API server')
    .addOption(kubeconfigOption())
    .option('--scheduler-name <name>', 'the schedulerName of the pods to place', 'default-scheduler')
    .addOption(logLevelOption())
    .action(async (o: { kubeconfig?: string; schedulerName: string; logLevel: string }) => {
      const [{ KubeClient }, { runScheduler }, { default: pino }] = await Promise.all([
        import('../client/rest.ts'), import('../scheduler/run.ts'), import('pino'),
      ]);
      const client = KubeClient.fromKubeconfig(defaultKubeconfig(o.kubeconfig), { userAgent: 'strata-scheduler' });
      const stop = new AbortController();
      const running = runScheduler({ client, signal: stop.signal, schedulerName: o.schedulerName, logger: pino({ name: 'scheduler', level: o.logLevel }, pino.destination(2)) });
      untilSignal(async () => {
        stop.abort();
        await running;
        client.close();
      });
      await running;
    });
}

function demoCommand(): Command {
  const demo = new Command('demo').description("replay the lecture's live demonstrations against a fresh Strata (the lecture's lab)");
  for (const [name, description] of [
    ['topology', 'WaitForFirstConsumer, allowedTopologies in the wrong zone, FailedScheduling, fixed; PV nodeAffinity'],
    ['snapshot', 'a pod writes files; VolumeSnapshotClass, VolumeSnapshot, its content; restore into a new PVC; delete'],
  ] as const) {
    demo
      .command(name)
      .description(description)
      .option('--yes', 'run every step without pausing for Enter')
      .option('--kubeconfig <file>', 'run against this cluster instead of starting a fresh Strata')
      .action(async (o: { yes?: boolean; kubeconfig?: string }) => {
        const { runDemo } = await import('./demo.ts');
        const ok = await runDemo(name, { yes: o.yes ?? false, kubeconfig: o.kubeconfig, out: process.stdout });
        process.exit(ok ? 0 : 1);
      });
  }
  return demo;
}

function explainCommand(): Command {
  const explain = new Command('explain').description('why a pod is not placed, a PVC not bound, or a VolumeSnapshot not ready');
  for (const [kind, aliases] of [['pod', ['pods', 'po']], ['pvc', ['persistentvolumeclaim', 'persistentvolumeclaims']], ['volumesnapshot', ['volumesnapshots', 'vs']]] as const) {
    explain
      .command(`${kind} <name>`)
      .aliases([...aliases])
      .option('-n, --namespace <ns>', "namespace (default: the kubeconfig context's)")
      .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
      .addOption(kubeconfigOption())
      .action(async (name: string, o: { namespace?: string; output: 'text' | 'json'; kubeconfig?: string }) => {
        const [{ KubeClient }, fetch, { renderText }] = await Promise.all([
          import('../client/rest.ts'), import('../explain/fetch.ts'), import('../explain/format.ts'),
        ]);
        const client = KubeClient.fromKubeconfig(defaultKubeconfig(o.kubeconfig), { userAgent: 'strata-explain' });
        const namespace = o.namespace ?? client.namespace;
        const explainers = { pod: fetch.fetchAndExplainPod, pvc: fetch.fetchAndExplainClaim, volumesnapshot: fetch.fetchAndExplainVolumeSnapshot };
        try {
          const e = await explainers[kind](client, namespace, name);
          process.stdout.write(o.output === 'json' ? JSON.stringify(e, null, 2) + '\n' : renderText(e));
        } finally {
          client.close();
        }
      });
  }
  return explain;
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
    .option('--storage <backend>', 'sqlite (durable, default), memory, or etcd (shared by every API server on the same etcd)', 'sqlite')
    .option('--etcd-endpoints <urls>', 'comma-separated etcd client URLs, for --storage etcd', (v: string) => v.split(',').filter(Boolean))
    .option('--watch-cache-size <n>', 'events kept for watches to resume from; older resourceVersions get 410 Expired', positiveInt, 100_000)
    .action(async (o: { dataDir: string; port: number; host: string; storage: string; etcdEndpoints?: string[]; watchCacheSize: number }) => {
      if (o.storage !== 'sqlite' && o.storage !== 'memory' && o.storage !== 'etcd') throw new InvalidArgumentError(`--storage must be sqlite, memory or etcd, not ${o.storage}`);
      if (o.storage === 'etcd' && !o.etcdEndpoints?.length) throw new InvalidArgumentError('--storage etcd needs --etcd-endpoints');
      const server = await startApiServer({ dataDir: o.dataDir, port: o.port, host: o.host, storage: o.storage, etcdEndpoints: o.etcdEndpoints, watchCacheCapacity: o.watchCacheSize });
      // Handlers first: whoever reads the ready line may signal at once.
      untilSignal(() => server.close());
      process.stdout.write(`Strata API server is ready at ${server.url}\n`);
      process.stdout.write(`kubeconfig: ${server.kubeconfigPath}\n`);
    });

  program.addCommand(upCommand());
  program.addCommand(controllerManagerCommand());
  program.addCommand(schedulerCommand());
  program.addCommand(
    nodeCommand().action(async (o: NodeCommandOptions) => {
      await runNodeCommand({ ...o, kubeconfig: defaultKubeconfig(o.kubeconfig) });
      process.exit(0);
    }),
  );
  program.addCommand(
    csiDriverCommand().action(async (o: CsiDriverCommandOptions) => {
      await runCsiDriverCommand(o);
      process.exit(0);
    }),
  );
  program.addCommand(demoCommand());
  program.addCommand(explainCommand());
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
