// `strata demo topology|snapshot`: the lecture's live demonstrations, replayed with the machine's kubectl against a
// fresh Strata on the lecture's lab (or any cluster given by --kubeconfig). Every step shows the YAML (the files of
// examples/), the kubectl command and what came back, then checks the outcome the lecture shows; a step whose
// outcome does not come fails the demo.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Writable } from 'node:stream';
import { KubeClient } from '../client/rest.ts';
import { fetchAndExplainPod } from '../explain/fetch.ts';
import { renderText } from '../explain/format.ts';
import { DemoStepError } from './errors.ts';
import { startStrata, type RunningStrata } from './up.ts';

export const ExamplesDir = resolve(import.meta.dirname, '../../examples');
export const LectureLabFile = join(ExamplesDir, 'lecture-lab.cluster.yaml');

/** FailedScheduling of the lecture's pod, byte for byte upstream's. */
export const LectureFailedScheduling =
  "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 2 node(s) didn't find available persistent volumes to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";

export type DemoName = 'topology' | 'snapshot';

export interface DemoOptions {
  /** No pauses between steps. */
  yes: boolean;
  /** Run against this cluster instead of a fresh Strata. */
  kubeconfig?: string;
  out: Writable;
}

interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The machine's kubectl with its own discovery cache. */
class Kubectl {
  readonly kubeconfig: string;
  private readonly cacheDir: string;
  constructor(kubeconfig: string, cacheDir: string) {
    this.kubeconfig = kubeconfig;
    this.cacheDir = cacheDir;
  }
  run(args: string[]): Promise<KubectlResult> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn('kubectl', args, {
        env: { ...process.env, KUBECONFIG: this.kubeconfig, KUBECACHEDIR: this.cacheDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', (err) => reject(new Error(`cannot run kubectl: ${err.message}`)));
      child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    });
  }
  async json<T>(args: string[]): Promise<T | undefined> {
    const r = await this.run([...args, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
  }
}

/** kubectl's JSON output, read loosely. */
type Json = Record<string, any>;

/** One demonstration: prints and runs steps, stops at the first failed check. */
class Demo {
  private step = 0;
  readonly kubectl: Kubectl;
  readonly client: KubeClient;
  private readonly o: DemoOptions;
  private readonly total: number;
  constructor(kubectl: Kubectl, o: DemoOptions, total: number) {
    this.kubectl = kubectl;
    this.client = KubeClient.fromKubeconfig(kubectl.kubeconfig, { userAgent: 'strata-demo' });
    this.o = o;
    this.total = total;
  }
  print(text = ''): void {
    this.o.out.write(text + '\n');
  }
  async begin(title: string, why: string): Promise<void> {
    if (this.step > 0 && !this.o.yes) {
      const rl = createInterface({ input: process.stdin, output: this.o.out });
      // On a terminal, Ctrl-C at the prompt reaches readline, not the process: pass it on, so the demo stops.
      rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
      await rl.question('\n(press Enter for the next step)');
      rl.close();
    }
    this.step++;
    this.print(`\n── Step ${this.step}/${this.total}: ${title} ──`);
    this.print(why);
  }
  /** Shows the command and its output; fails the step when kubectl fails. */
  async kc(args: string[], allowFailure = false): Promise<KubectlResult> {
    this.print(`\n$ kubectl ${args.map((a) => (/[\s'"$]/.test(a) ? `'${a}'` : a)).join(' ')}`);
    const r = await this.kubectl.run(args);
    const text = (r.stdout + r.stderr).trimEnd();
    if (text) this.print(text);
    if (r.code !== 0 && !allowFailure) throw new DemoStepError(`kubectl ${args.join(' ')}`, `exit ${r.code}: ${r.stderr.trim()}`);
    return r;
  }
  /** Shows an example file, then applies it. */
  async apply(file: string): Promise<void> {
    this.print(`\n# examples/${file}`);
    this.print(readFileSync(join(ExamplesDir, file), 'utf8').trimEnd());
    this.print(`\n$ kubectl apply -f examples/${file}`);
    const r = await this.kubectl.run(['apply', '-f', join(ExamplesDir, file)]);
    this.print((r.stdout + r.stderr).trimEnd());
    if (r.code !== 0) throw new DemoStepError(`kubectl apply -f examples/${file}`, r.stderr.trim());
  }
  /** Polls until check returns a value; the step fails with `expected` after the timeout. */
  async expect<T>(expected: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check().catch(() => undefined);
      if (v) {
        this.print(`✔ ${expected}`);
        return v;
      }
      if (Date.now() > deadline) throw new DemoStepError(`step ${this.step}`, `expected ${expected} within ${timeoutMs / 1000}s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  async events(kind: string, name: string): Promise<Json[]> {
    const list = await this.kubectl.json<Json>(['get', 'events', '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`]);
    return list?.items ?? [];
  }
  close(): void {
    this.client.close();
  }
}

const get = (d: Demo, args: string[]) => d.kubectl.json<Json>(['get', ...args]);

async function topology(d: Demo): Promise<void> {
  await d.begin('A StorageClass that binds late, in the wrong zone',
    'WaitForFirstConsumer delays binding and provisioning until a pod uses the claim; allowedTopologies limits where\nvolumes may be provisioned — here to cn-hangzhou-d.');
  await d.apply('topology/storageclass-zone-d.yaml');

  await d.begin('A PVC of that class stays Pending', 'Nothing is provisioned yet: the claim waits for its first consumer.');
  await d.apply('topology/pvc.yaml');
  await d.expect('PVC disk-pvc has event WaitForFirstConsumer', async () =>
    (await d.events('PersistentVolumeClaim', 'disk-pvc')).some((e) => e.reason === 'WaitForFirstConsumer'));
  await d.kc(['get', 'pvc', 'disk-pvc']);
  await d.kc(['get', 'events', '--field-selector', 'involvedObject.name=disk-pvc', '-o', 'custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message']);
  const pvc = await get(d, ['pvc', 'disk-pvc']);
  if (pvc?.status?.phase !== 'Pending') throw new DemoStepError('PVC stays Pending', `phase is ${pvc?.status?.phase}`);

  await d.begin('A pod that uses the PVC cannot be scheduled',
    'The scheduler finds no node: the master is tainted, and the workers are not in a zone the class allows.');
  await d.apply('topology/pod.yaml');
  await d.expect('FailedScheduling with upstream\'s exact message', async () =>
    (await d.events('Pod', 'disk-pod')).some((e) => e.reason === 'FailedScheduling' && e.message === LectureFailedScheduling));
  await d.kc(['get', 'pod', 'disk-pod']);
  await d.kc(['get', 'events', '--field-selector', 'involvedObject.name=disk-pod,reason=FailedScheduling', '-o', 'custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message']);

  await d.begin('Why: strata explain', 'Upstream gives counts only; strata explain names the node, the plugin, the class term and the fix.');
  d.print('\n$ strata explain pod disk-pod');
  const explanation = await fetchAndExplainPod(d.client, 'default', 'disk-pod');
  d.print(renderText(explanation).trimEnd());

  await d.begin('The node labels', 'node1 and node2 — the nodes a pod may use — are in zone cn-hangzhou-b.');
  await d.kc(['get', 'nodes', '-L', 'topology.kubernetes.io/region,topology.kubernetes.io/zone']);
  const nodes = await get(d, ['nodes']);
  const zones = new Set((nodes?.items ?? []).map((n: Json) => n.metadata.labels?.['topology.kubernetes.io/zone']));
  if (!zones.has('cn-hangzhou-b') || zones.has('cn-hangzhou-d')) throw new DemoStepError('node labels', `zones are ${[...zones].join(', ')}`);

  await d.begin('Recreate the StorageClass in cn-hangzhou-b', 'A StorageClass cannot be changed in place; delete it and create it again with the right zone.');
  await d.kc(['delete', 'storageclass', 'csi-disk-topology']);
  await d.apply('topology/storageclass-zone-b.yaml');

  await d.begin('Recreate the pod: it runs', 'The scheduler now picks node1 or node2; the provisioner creates the volume in that node\'s zone.');
  await d.kc(['delete', 'pod', 'disk-pod', '--wait=true']);
  await d.apply('topology/pod.yaml');
  await d.expect('pod disk-pod is Running on node1 or node2', async () => {
    const p = await get(d, ['pod', 'disk-pod']);
    return p?.status?.phase === 'Running' && ['node1', 'node2'].includes(p.spec.nodeName) ? p : undefined;
  }, 90_000);
  await d.kc(['get', 'pod', 'disk-pod', '-o', 'wide']);
  await d.kc(['get', 'pvc', 'disk-pvc']);
  await d.expect('the pod wrote its file into the volume', async () => (await d.kubectl.run(['logs', 'disk-pod'])).stdout.includes('hello from'));
  await d.kc(['logs', 'disk-pod']);

  await d.begin("The PV's nodeAffinity", 'The provisioned PV may only be used from cn-hangzhou-b: its nodeAffinity comes from the topology the driver returned.');
  const pvName = (await get(d, ['pvc', 'disk-pvc']))?.spec?.volumeName as string;
  await d.kc(['get', 'pv', pvName, '-o', 'jsonpath={.spec.nodeAffinity}{"\\n"}']);
  const pv = await get(d, ['pv', pvName]);
  const affinity = JSON.stringify(pv?.spec?.nodeAffinity ?? {});
  if (!affinity.includes('cn-hangzhou-b')) throw new DemoStepError("PV's nodeAffinity", `it is ${affinity}`);
  d.print('✔ the PV\'s nodeAffinity names cn-hangzhou-b');
}

async function snapshot(d: Demo): Promise<void> {
  await d.begin('A StorageClass, a PVC and a pod that writes files', 'The data to protect.');
  await d.apply('snapshot/storageclass.yaml');
  await d.apply('snapshot/source-pvc.yaml');
  await d.apply('snapshot/writer-pod.yaml');
  await d.expect('pod writer is Running and wrote its files', async () => {
    const p = await get(d, ['pod', 'writer']);
    return p?.status?.phase === 'Running' && (await d.kubectl.run(['logs', 'writer'])).stdout.includes('done');
  }, 90_000);
  await d.kc(['get', 'pvc,pod']);

  await d.begin('A VolumeSnapshotClass', 'Which driver cuts the snapshots, and what deleting a snapshot does (deletionPolicy).');
  await d.apply('snapshot/volumesnapshotclass.yaml');
  await d.kc(['get', 'volumesnapshotclass']);

  await d.begin('A VolumeSnapshot of the PVC', 'The snapshot controller creates a VolumeSnapshotContent; the snapshotter asks the driver to cut it.');
  await d.apply('snapshot/volumesnapshot.yaml');
  await d.expect('VolumeSnapshot source-snapshot is readyToUse', async () => (await get(d, ['volumesnapshot', 'source-snapshot']))?.status?.readyToUse === true);
  await d.kc(['get', 'volumesnapshot', 'source-snapshot']);

  await d.begin('Its VolumeSnapshotContent', 'The cluster-scoped object that holds the driver\'s snapshotHandle.');
  const contentName = (await get(d, ['volumesnapshot', 'source-snapshot']))?.status?.boundVolumeSnapshotContentName as string;
  await d.kc(['get', 'volumesnapshotcontent', contentName, '-o', 'custom-columns=NAME:.metadata.name,READY:.status.readyToUse,SNAPSHOTHANDLE:.status.snapshotHandle,RESTORESIZE:.status.restoreSize,POLICY:.spec.deletionPolicy']);
  const content = await get(d, ['volumesnapshotcontent', contentName]);
  if (!content?.status?.snapshotHandle) throw new DemoStepError('VolumeSnapshotContent', 'it has no snapshotHandle');
  d.print(`✔ bound with snapshotHandle ${content.status.snapshotHandle}`);

  await d.begin('Restore: a new PVC from the snapshot, and a pod that reads it', 'dataSource names the VolumeSnapshot; the provisioner creates the volume from it.');
  await d.apply('snapshot/restore-pvc.yaml');
  await d.apply('snapshot/reader-pod.yaml');
  await d.expect('pod reader is Running and reads the snapshot\'s files', async () => {
    const p = await get(d, ['pod', 'reader']);
    const logs = (await d.kubectl.run(['logs', 'reader'])).stdout;
    return p?.status?.phase === 'Running' && logs.includes('written before the snapshot') && /^100$/m.test(logs);
  }, 90_000);
  await d.kc(['get', 'pvc', 'restore-pvc']);
  await d.kc(['logs', 'reader']);

  await d.begin('Delete the snapshot: its content goes with it', 'deletionPolicy Delete: the VolumeSnapshotContent and the backend snapshot are removed too.');
  await d.kc(['delete', 'volumesnapshot', 'source-snapshot']);
  await d.expect(`VolumeSnapshotContent ${contentName} is gone`, async () => (await d.kubectl.run(['get', 'volumesnapshotcontent', contentName])).code !== 0);
  await d.kc(['get', 'volumesnapshotcontent']);
}

const demos: Record<DemoName, { steps: number; run: (d: Demo) => Promise<void> }> = {
  topology: { steps: 8, run: topology },
  snapshot: { steps: 6, run: snapshot },
};

/**
 * Runs one demonstration; true when every step turned out as the lecture shows. SIGINT or SIGTERM stops it the same
 * way as its end: the fresh Strata stopped and its scratch directory removed, then the process exits (128 + signal).
 */
export async function runDemo(name: DemoName, o: DemoOptions): Promise<boolean> {
  const scratch = mkdtempSync(join(tmpdir(), 'strata-demo-'));
  let strata: RunningStrata | undefined;
  let demo: Demo | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = (): Promise<void> =>
    (cleaning ??= (async () => {
      // A stopped node leaves its volumes mounted (pods resume on restart); a throwaway Strata deletes its pods first.
      if (strata && demo) await demo.kubectl.run(['delete', 'pods', '--all', '--wait=true', '--timeout=60s']).catch(() => undefined);
      demo?.close();
      await strata?.close();
      try {
        rmSync(scratch, { recursive: true, force: true });
      } catch (err) {
        o.out.write(`could not remove ${scratch}: ${(err as Error).message}\n`);
      }
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    o.out.write(`\nreceived ${signal}, stopping the demonstration\n`);
    void cleanUp().finally(() => process.exit(128 + osConstants.signals[signal]));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let kubeconfig = o.kubeconfig;
    if (!kubeconfig) {
      o.out.write(`Starting a fresh Strata on the lecture's lab (${LectureLabFile}) in ${scratch}/strata …\n`);
      strata = await startStrata({ dataDir: join(scratch, 'strata'), clusterFile: LectureLabFile, port: 0 });
      kubeconfig = strata.kubeconfigPath;
      o.out.write(`Strata is ready: KUBECONFIG=${kubeconfig}\n`);
    }
    demo = new Demo(new Kubectl(kubeconfig, join(scratch, 'kubecache')), o, demos[name].steps);
    await demos[name].run(demo);
    o.out.write(`\nThe ${name} demonstration went as in the lecture.\n`);
    return true;
  } catch (err) {
    // A step that fails because a signal is stopping the demo is not the demo's failure.
    if (!cleaning) o.out.write(`\n✘ ${(err as Error).message}\n`);
    return false;
  } finally {
    // After a signal, the signal's handler ends the process once this is done (it waited first).
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
