// `strata up` as a real process for end-to-end tests: started on port 0 in a temp data dir, driven with the machine's
// kubectl, stopped by PID. Pods are deleted before the data dir goes, so that no volume stays mounted in it.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, makeKubectl, startStrata, tempDir, type Kubectl, type StrataProcess } from './processes.ts';

export const EXAMPLES = join(ROOT, 'examples');
export const LECTURE_LAB = join(EXAMPLES, 'lecture-lab.cluster.yaml');

export interface UpProcess extends StrataProcess {
  dataDir: string;
  kubeconfig: string;
  kubectl: Kubectl;
  /** kubectl that must succeed; returns stdout. */
  ok(args: string[], input?: string): Promise<string>;
  /** Deletes every pod, stops the process and removes the data dir (unless it was given). */
  cleanup(): Promise<void>;
}

export async function startUp(options: { dataDir?: string; cluster?: string; extraArgs?: string[] } = {}): Promise<UpProcess> {
  const dataDir = options.dataDir ?? tempDir('strata-up-');
  const proc = startStrata(['up', '--data-dir', dataDir, '--port', '0', ...(options.cluster ? ['--cluster', options.cluster] : []), ...(options.extraArgs ?? [])]);
  await proc.waitFor(/^Strata is ready$/m, 30_000);
  const kubeconfig = (await proc.waitFor(/export KUBECONFIG=(\S+)/))[1];
  const kubectl = makeKubectl(kubeconfig);
  const ok = async (args: string[], input?: string) => {
    const r = await kubectl(args, { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  return {
    ...proc,
    dataDir,
    kubeconfig,
    kubectl,
    ok,
    async cleanup() {
      if (proc.child.exitCode === null) await kubectl(['delete', 'pods', '--all', '-A', '--wait=true', '--timeout=60s']);
      await proc.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** PIDs of live processes whose command line mentions `text` (a data dir: a leftover component or container). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}
