// Every file of examples/ applied with kubectl against `strata up` on the lecture's lab, each checked for what the
// lecture says it does.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseClusterFile } from '../../src/api/cluster.ts';
import { EXAMPLES, LECTURE_LAB, startUp, type UpProcess } from '../helpers/cluster.ts';
import { eventually } from '../helpers/processes.ts';

let up: UpProcess;
const applied = new Set<string>();

async function apply(...files: string[]): Promise<void> {
  await up.ok(['apply', ...files.flatMap((f) => ['-f', join(EXAMPLES, f)])]);
  for (const f of files) applied.add(f);
}
const jsonpath = (args: string[], path: string) => up.ok(['get', ...args, '-o', `jsonpath=${path}`]);
const until = (what: string, fn: () => Promise<boolean>, timeoutMs = 60_000) => eventually(fn, { what, timeoutMs });

describe('examples/', () => {
  before(async () => {
    up = await startUp({ cluster: LECTURE_LAB });
  });
  after(async () => {
    await up?.cleanup();
  });

  it('lecture-lab.cluster.yaml is the lecture\'s three-node lab', async () => {
    const nodes = await jsonpath(['nodes'], '{range .items[*]}{.metadata.name}={.metadata.labels.topology\\.kubernetes\\.io/zone}/{.metadata.labels.rack}{"\\n"}{end}');
    assert.deepEqual(nodes.trim().split('\n'), ['master=cn-hangzhou-b/', 'node1=cn-hangzhou-b/rack1', 'node2=cn-hangzhou-b/rack2']);
    assert.equal(await jsonpath(['node', 'master'], '{.spec.taints[0].key}:{.spec.taints[0].effect}'), 'node-role.kubernetes.io/master:NoSchedule');
    assert.equal(parseClusterFile(readFileSync(LECTURE_LAB, 'utf8')).name, 'lecture-lab');
  });

  it('topology/: the class in cn-hangzhou-b provisions where the pod lands; the PV carries the zone', async () => {
    await apply('topology/storageclass-zone-b.yaml', 'topology/pvc.yaml');
    await until('disk-pvc waits for its first consumer', async () => (await up.ok(['get', 'events', '--field-selector', 'involvedObject.name=disk-pvc,reason=WaitForFirstConsumer', '-o', 'name'])) !== '');
    await apply('topology/pod.yaml');
    await until('disk-pod Running', async () => (await jsonpath(['pod', 'disk-pod'], '{.status.phase}')) === 'Running');
    assert.match(await jsonpath(['pod', 'disk-pod'], '{.spec.nodeName}'), /^node[12]$/);
    const pv = await jsonpath(['pvc', 'disk-pvc'], '{.spec.volumeName}');
    assert.match(await jsonpath(['pv', pv], '{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[?(@.key=="topology.kubernetes.io/zone")].values[0]}'), /^cn-hangzhou-b$/);
    await until('the pod wrote into the volume', async () => (await up.ok(['logs', 'disk-pod'])).startsWith('hello from'));
    // The wrong-zone class is valid too (the demo shows what it does).
    await up.ok(['apply', '--dry-run=server', '-f', join(EXAMPLES, 'topology/storageclass-zone-d.yaml')]);
    applied.add('topology/storageclass-zone-d.yaml');
  });

  it('snapshot/: snapshot class, snapshot, restore PVC with dataSource, and pods using them', async () => {
    await apply('snapshot/storageclass.yaml', 'snapshot/source-pvc.yaml', 'snapshot/writer-pod.yaml', 'snapshot/volumesnapshotclass.yaml');
    await until('writer wrote its files', async () => (await up.ok(['logs', 'writer']).catch(() => '')).includes('done'));
    await apply('snapshot/volumesnapshot.yaml');
    await until('source-snapshot readyToUse', async () => (await jsonpath(['volumesnapshot', 'source-snapshot'], '{.status.readyToUse}')) === 'true');
    const content = await jsonpath(['volumesnapshot', 'source-snapshot'], '{.status.boundVolumeSnapshotContentName}');
    assert.match(await jsonpath(['volumesnapshotcontent', content], '{.status.snapshotHandle}'), /^snap-/);
    await apply('snapshot/restore-pvc.yaml', 'snapshot/reader-pod.yaml');
    await until('reader reads the snapshot', async () => /^written before the snapshot\n100\n/.test(await up.ok(['logs', 'reader']).catch(() => '')));
    assert.equal(await jsonpath(['pvc', 'restore-pvc'], '{.status.phase}'), 'Bound');
  });

  it('local/: a no-provisioner WaitForFirstConsumer class; the pod pinned to node2 gets node2\'s local PV', async () => {
    await apply('local/storageclass.yaml', 'local/pv-node1.yaml', 'local/pv-node2.yaml', 'local/pvc.yaml');
    assert.equal(await jsonpath(['pvc', 'local-pvc'], '{.status.phase}'), 'Pending');
    await apply('local/pod-on-node2.yaml');
    await until('local-pvc Bound', async () => (await jsonpath(['pvc', 'local-pvc'], '{.status.phase}')) === 'Bound');
    assert.equal(await jsonpath(['pvc', 'local-pvc'], '{.spec.volumeName}'), 'local-pv-node2');
    assert.equal(await jsonpath(['pod', 'local-pod'], '{.spec.nodeName}'), 'node2');
    assert.equal(await jsonpath(['pv', 'local-pv-node1'], '{.status.phase}'), 'Available');
  });

  it('every example file was applied and checked', () => {
    const all = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml') && f !== 'lecture-lab.cluster.yaml').sort();
    assert.deepEqual(all.filter((f) => !applied.has(f)), []);
  });
});
