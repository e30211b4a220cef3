// The lecture's demonstrations, replayed by `strata demo … --yes` against a fresh Strata on the lecture's lab.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startStrata } from '../helpers/processes.ts';

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
});
