// The lecture's demonstrations, replayed by `strata demo … --yes` against a fresh Strata on the lecture's lab.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startStrata } from '../helpers/processes.ts';

/** The live child processes of pid (from /proc/PID/stat's ppid field). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((child) => {
    try {
      const stat = readFileSync(`/proc/${child}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      return Number(stat[1]) === pid && stat[0] !== 'Z';
    } catch {
      return false;
    }
  }).map(Number);
}

async function runDemo(name: string): Promise<string> {
  const proc = startStrata(['demo', name, '--yes']);
  const code = await Promise.race([proc.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 150_000).unref())]);
  if (code === 'timeout') await proc.stop('SIGKILL');
  assert.equal(code, 0, proc.output());
  return proc.output();
}

describe('strata demo', () => {
  it('topology: Pending with the exact FailedScheduling message, fixed by recreating the class in the right zone', async () => {
    const out = await runDemo('topology');
    assert.match(out, /✔ PVC disk-pvc has event WaitForFirstConsumer/);
    assert.ok(out.includes(
      "Warning   FailedScheduling   0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/master: }, 2 node(s) didn't find available persistent volumes to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    ), out);
    assert.match(out, /StorageClass csi-disk-topology allows topology.kubernetes.io\/zone in \[cn-hangzhou-d\]; no schedulable node is in cn-hangzhou-d \(node1, node2 are in cn-hangzhou-b\)/);
    assert.match(out, /✔ pod disk-pod is Running on node1 or node2/);
    assert.match(out, /"key":"topology.kubernetes.io\/zone","operator":"In","values":\["cn-hangzhou-b"\]/);
    assert.match(out, /The topology demonstration went as in the lecture\.$/m);
  });

  it('snapshot: ready snapshot with its handle, restored data, content deleted with the snapshot', async () => {
    const out = await runDemo('snapshot');
    assert.match(out, /✔ VolumeSnapshot source-snapshot is readyToUse/);
    assert.match(out, /✔ bound with snapshotHandle snap-[0-9a-f-]{36}/);
    assert.match(out, /\$ kubectl logs reader\nwritten before the snapshot\n100\n/);
    assert.match(out, /✔ VolumeSnapshotContent snapcontent-[0-9a-f-]{36} is gone/);
    assert.match(out, /The snapshot demonstration went as in the lecture\.$/m);
  });

  it('Ctrl-C (SIGINT) during a demo stops its Strata, its pods\' processes, and removes its scratch directory', async () => {
    const proc = startStrata(['demo', 'snapshot']);
    try {
      const [, scratch] = await proc.waitFor(/Starting a fresh Strata on the lecture's lab \(.*\) in (\S+)\/strata/, 30_000);
      await proc.waitFor(/press Enter for the next step/, 90_000);
      const containers = childrenOf(proc.pid);
      assert.ok(containers.length > 0, `the writer pod runs as a child process:\n${proc.output()}`);
      assert.ok(existsSync(scratch!));
      const code = await proc.stop('SIGINT', 90_000);
      assert.equal(code, 130, proc.output());
      assert.match(proc.output(), /received SIGINT, stopping the demonstration/);
      assert.doesNotMatch(proc.output(), /✘/);
      assert.equal(existsSync(scratch!), false, `${scratch} is left`);
      assert.deepEqual(containers.filter((pid) => existsSync(`/proc/${pid}`)), []);
    } finally {
      await proc.stop('SIGKILL');
    }
  });
});
