// `strata controller-manager`: its flags, and the command as a real process with leader election and /metrics
// against the embedded API server and the CSI driver.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { parseClusterFile } from '../api/cluster.ts';
import { startApiServer } from '../apiserver/server.ts';
import type { RunningApiServer } from '../apiserver/server.ts';
import { Resources } from '../client/resources.ts';
import { KubeClient } from '../client/rest.ts';
import { startCsiDriver } from '../driver/driver.ts';
import type { RunningCsiDriver } from '../driver/driver.ts';
import { controllerManagerCommand } from './cli.ts';
import type { ControllerManagerCommandOptions } from './cli.ts';

function parse(args: string[]): ControllerManagerCommandOptions {
  const command = controllerManagerCommand().exitOverride().configureOutput({ writeErr: () => undefined });
  command.action(() => undefined);
  return command.parse(args, { from: 'user' }).opts<ControllerManagerCommandOptions>();
}

describe('controller-manager flags', () => {
  it('defaults', () => {
    const o = parse(['--csi-endpoint', 'unix:///run/csi.sock']);
    assert.equal(o.csiEndpoint, 'unix:///run/csi.sock');
    assert.equal(o.leaderElect, false);
    assert.equal(o.metricsPort, undefined);
    assert.equal(o.pvBinderClaimWorkers, 128);
    assert.equal(o.logLevel, 'info');
  });

  it('all flags', () => {
    const o = parse(['--kubeconfig', '/k', '--csi-endpoint', 'unix:///s', '--leader-elect', '--leader-elect-identity', 'me', '--metrics-port', '9090', '--pv-binder-claim-workers', '1', '--driver-name', 'd']);
    assert.deepEqual({ ...o }, { kubeconfig: '/k', csiEndpoint: 'unix:///s', leaderElect: true, leaderElectIdentity: 'me', metricsPort: 9090, pvBinderClaimWorkers: 1, driverName: 'd', logLevel: 'info' });
  });

  for (const [args, message] of [
    [[], /required option '--csi-endpoint <endpoint>' not specified/],
    [['--csi-endpoint', 'unix:///s', '--metrics-port', '70000'], /must be an integer from 0 to 65535/],
    [['--csi-endpoint', 'unix:///s', '--pv-binder-claim-workers', '0'], /must be a positive integer/],
  ] as Array<[string[], RegExp]>) {
    it(`rejects ${JSON.stringify(args)}`, () => {
      assert.throws(() => parse(args), (err: unknown) => err instanceof CommanderError && message.test(err.message));
    });
  }
});

describe('strata controller-manager as a process', () => {
  let dir: string;
  let server: RunningApiServer;
  let driver: RunningCsiDriver;
  let client: KubeClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-cm-cli-'));
    server = await startApiServer({ dataDir: join(dir, 'api'), port: 0, storage: 'memory' });
    client = KubeClient.fromKubeconfig(server.kubeconfigPath);
    const cluster = parseClusterFile('apiVersion: strata.io/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  region: r\n  zones: [{name: z, zonalPool: 10Gi}]\n  nodes: [{name: n1, zone: z}]\n');
    driver = await startCsiDriver({ endpoint: `unix://${join(dir, 'csi.sock')}`, mode: 'controller', dataDir: join(dir, 'driver'), cluster });
  });

  after(async () => {
    client?.close();
    await driver?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the Lease, serves /metrics, creates the CSIDriver object, and on SIGTERM hands the Lease back and exits 0', async () => {
    const script = "const { controllerManagerCommand } = await import('./src/controllers/cli.ts'); await controllerManagerCommand().parseAsync(process.argv.slice(1), { from: 'user' });";
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--',
      '--kubeconfig', server.kubeconfigPath, '--csi-endpoint', driver.endpoint, '--leader-elect', '--leader-elect-identity', 'cm-test', '--metrics-port', '0', '--log-level', 'warn',
    ], { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 20_000;
      const leaseHolder = async () => (await client.resource(Resources.leases).get('strata-controller-manager', 'kube-system').catch(() => undefined))?.spec?.holderIdentity;
      while (!(output.includes('controller manager is running') && (await leaseHolder()) === 'cm-test')) {
        assert.ok(Date.now() < deadline, `timed out; output:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const metricsUrl = output.match(/metrics at (\S+)/)?.[1];
      assert.ok(metricsUrl, output);
      const metrics = await (await fetch(metricsUrl)).text();
      assert.match(metrics, /^# HELP snapshot_controller_operations_in_flight /m);
      assert.match(metrics, /^process_cpu_user_seconds_total /m);
      const csiDriver = await client.resource(Resources.csiDrivers).get('csi.strata.io');
      assert.deepEqual(csiDriver.spec, { ...csiDriver.spec, attachRequired: false, storageCapacity: true, podInfoOnMount: false });
    } finally {
      process.kill(child.pid!, 'SIGTERM');
    }
    assert.equal(await exited, 0, output);
    const lease = await client.resource(Resources.leases).get('strata-controller-manager', 'kube-system');
    assert.equal(lease.spec?.holderIdentity ?? '', '', 'released on shutdown');
  });
});
