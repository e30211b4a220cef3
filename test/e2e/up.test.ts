// `strata up` as a new user runs it: ready within 30 s, the machine's kubectl works with the printed KUBECONFIG,
// SIGTERM stops everything, a restart keeps every object, and the cluster file's nodes come and go.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LECTURE_LAB, processesMentioning, startUp } from '../helpers/cluster.ts';
import { eventually, startStrata, tempDir } from '../helpers/processes.ts';

const marker = `strata-up-test-${process.pid}`;
const podYaml = `apiVersion: v1
kind: Pod
metadata: {name: looper}
spec:
  containers:
    - name: c
      image: busybox
      command: [sh, -c, 'while true; do sleep 1; done; : ${marker}']
`;

describe('strata up', () => {
  const dataDir = tempDir('strata-up-');
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is ready within 30 s, prints how to use it, and kubectl works with the printed KUBECONFIG', async () => {
    const started = Date.now();
    const up = await startUp({ dataDir });
    try {
      assert.ok(Date.now() - started < 30_000);
      const out = up.output();
      assert.equal(up.kubeconfig, join(dataDir, 'kubeconfig'));
      assert.match(out, /^Starting the API server/m);
      assert.match(out, /^ {2}kubectl get nodes -L topology.kubernetes.io\/zone$/m);
      assert.match(out, /^ {2}control-plane\s+strata-region\s+zone-a\s+-\s+node-role.kubernetes.io\/control-plane:NoSchedule$/m);
      assert.match(out, /^ {2}worker-b1\s+strata-region\s+zone-b\s+100Gi\s+-$/m);
      const nodes = await up.ok(['get', 'nodes', '-L', 'topology.kubernetes.io/zone', '--no-headers']);
      const zones = Object.fromEntries(nodes.trim().split('\n').map((l) => l.split(/\s+/)).map((f) => [f[0], [f[1], f.at(-1)]]));
      assert.deepEqual(zones, {
        'control-plane': ['Ready', 'zone-a'], 'worker-a1': ['Ready', 'zone-a'], 'worker-a2': ['Ready', 'zone-a'],
        'worker-b1': ['Ready', 'zone-b'], 'worker-c1': ['Ready', 'zone-c'],
      });
      // Logs go to files, not the terminal.
      assert.doesNotMatch(out, /"level":/);

      await up.ok(['create', 'configmap', 'keep-me', '--from-literal=a=1']);
      await up.ok(['apply', '-f', '-'], podYaml);
      await eventually(async () => (await up.ok(['get', 'pod', 'looper', '-o', 'jsonpath={.status.phase}'])) === 'Running', { timeoutMs: 30_000, what: 'pod Running' });
      // The container is a real process, running its first instance: on failure, say what the node reported.
      const running = await eventually(async () => {
        const statuses = await up.ok(['get', 'pod', 'looper', '-o', 'jsonpath={.status.containerStatuses}']);
        return processesMentioning(marker).length > 0 ? statuses : undefined;
      }, { timeoutMs: 5000, what: 'the container process' }).catch(async (err: Error) => {
        const statuses = await up.kubectl(['get', 'pod', 'looper', '-o', 'jsonpath={.status.containerStatuses}']);
        const logs = await up.kubectl(['logs', 'looper']);
        throw new Error(`${err.message}; containerStatuses ${statuses.stdout}; log ${logs.stdout}${logs.stderr}`);
      });
      assert.equal((JSON.parse(running) as Array<{ restartCount: number }>)[0]!.restartCount, 0, running);

      assert.equal(await up.stop('SIGTERM'), 0);
      assert.deepEqual(processesMentioning(marker), [], 'no container left');
      assert.deepEqual(processesMentioning(dataDir), [], 'no component left');
    } finally {
      await up.stop('SIGKILL');
    }
  });

  it('a restart on the same data dir keeps every object, and the pod runs again', async () => {
    const up = await startUp({ dataDir });
    try {
      assert.equal(await up.ok(['get', 'configmap', 'keep-me', '-o', 'jsonpath={.data.a}']), '1');
      await eventually(async () => (await up.ok(['get', 'pod', 'looper', '-o', 'jsonpath={.status.phase}'])) === 'Running', { timeoutMs: 30_000, what: 'pod Running again' });
      assert.equal(await up.stop('SIGTERM'), 0);
    } finally {
      await up.stop('SIGKILL');
    }
  });

  it('a changed cluster file adds and removes nodes, as Kubernetes would', async () => {
    const up = await startUp({ dataDir, cluster: LECTURE_LAB });
    try {
      assert.equal(await up.ok(['get', 'configmap', 'keep-me', '-o', 'jsonpath={.data.a}']), '1');
      const names = (await up.ok(['get', 'nodes', '-o', 'name'])).trim().split('\n').sort();
      assert.deepEqual(names, ['node/master', 'node/node1', 'node/node2']);
      assert.match(up.output(), /removed node worker-a1 \(no longer in the cluster file\)/);
      const csiNodes = (await up.ok(['get', 'csinodes', '-o', 'name'])).trim().split('\n').sort();
      assert.deepEqual(csiNodes, ['csinode.storage.k8s.io/master', 'csinode.storage.k8s.io/node1', 'csinode.storage.k8s.io/node2']);
      // The pod was on a node that left: it went with it, as the pod garbage collector deletes orphaned pods.
      assert.equal((await up.kubectl(['get', 'pod', 'looper'])).code, 1);
    } finally {
      await up.cleanup();
    }
  });

  it('a broken cluster file gets a message naming the field', async () => {
    const bad = join(dataDir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: strata.io/v1alpha1\nkind: Cluster\nmetadata: {name: x}\nspec:\n  region: r\n  zones: [{name: z1}]\n  nodes:\n    - {name: n1, zone: z9}\n');
    const proc = startStrata(['up', '--data-dir', join(dataDir, 'bad'), '--port', '0', '--cluster', bad]);
    assert.equal(await proc.exited, 1);
    assert.match(proc.output(), /spec\.nodes\[0\]\.zone/);
    assert.match(proc.output(), new RegExp(`^strata: ${bad.replaceAll('/', '\\/')}: `, 'm'));
  });

  it('a busy port gets a message suggesting --port 0', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const proc = startStrata(['up', '--data-dir', join(dataDir, 'busy'), '--port', String(port)]);
      assert.equal(await proc.exited, 1);
      assert.match(proc.output(), new RegExp(`port ${port} on 127.0.0.1 is already in use .*--port 0 for a free one`));
    } finally {
      blocker.close();
    }
  });
});
