// The embedded API server driven by the machine's real kubectl, as a user would.
import assert from 'node:assert/strict';
import { chmodSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ApiServerProcess } from '../helpers/processes.ts';
import { ROOT, eventually, startApiServerProcess, startStrata, tempDir } from '../helpers/processes.ts';

const ALL_KINDS = join(ROOT, 'test/fixtures/all-kinds.yaml');

describe('API server with kubectl', () => {
  let srv: ApiServerProcess;
  before(async () => {
    srv = await startApiServerProcess();
  });
  after(async () => {
    await srv?.cleanup();
  });

  const k = (args: string[], input?: string) => srv.kubectl(args, { input });
  const ok = async (args: string[], input?: string) => {
    const r = await k(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  it('serves /version with minor 32 so the kubectl dispatcher picks kubectl 1.32', async () => {
    const out = JSON.parse(await ok(['version', '-o', 'json']));
    assert.equal(out.serverVersion.minor, '32');
    assert.match(out.clientVersion.gitVersion, /^v1\.32\./);
  });

  it('applies a multi-document file holding every kind, and a second apply is unchanged', async () => {
    const first = await ok(['apply', '-f', ALL_KINDS]);
    assert.match(first, /namespace\/demo created/);
    assert.match(first, /persistentvolumeclaim\/data created/);
    assert.match(first, /volumesnapshot.snapshot.storage.k8s.io\/snap-1 created/);
    assert.match(first, /storageclass.storage.k8s.io\/csi-disk-topology created/);
    const second = await ok(['apply', '-f', ALL_KINDS]);
    for (const line of second.trim().split('\n')) assert.match(line, / unchanged$/, `second apply changed something: ${second}`);
  });

  it('server-side apply creates, and is a no-op the second time', async () => {
    const manifest = `apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: demo, labels: {a: "1"}}
data: {k: v}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: ssa-class}
driver: csi.strata.io
deletionPolicy: Retain
`;
    const first = await ok(['apply', '--server-side', '-f', '-'], manifest);
    assert.match(first, /configmap\/ssa serverside-applied/);
    const rv1 = JSON.parse(await ok(['get', 'cm', 'ssa', '-n', 'demo', '-o', 'json'])).metadata.resourceVersion;
    await ok(['apply', '--server-side', '-f', '-'], manifest);
    const cm = JSON.parse(await ok(['get', 'cm', 'ssa', '-n', 'demo', '-o', 'json', '--show-managed-fields']));
    assert.equal(cm.metadata.resourceVersion, rv1, 'a repeated server-side apply must not write');
    assert.ok(cm.metadata.managedFields.some((f: { manager: string; operation: string }) => f.manager === 'kubectl' && f.operation === 'Apply'));
    // A second manager setting the same field to another value conflicts, as upstream reports it.
    const r = await k(['apply', '--server-side', '--field-manager', 'other', '-f', '-'], manifest.split('---')[0].replace('k: v', 'k: other'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Apply failed with 1 conflict: conflict with "kubectl"/);
  });

  it('get shows upstream columns, -o wide, -o yaml, label and field selectors', async () => {
    const pvc = await ok(['get', 'pvc', '-n', 'demo']);
    assert.match(pvc.split('\n')[0], /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE$/);
    assert.match(pvc, /^data\s+Pending\s+csi-disk-topology\s+<unset>\s+\d+s$/m);
    const wide = await ok(['get', 'pvc', '-n', 'demo', '-o', 'wide']);
    assert.match(wide.split('\n')[0], /VOLUMEMODE$/);
    assert.match(wide, /Filesystem$/m);
    const sc = await ok(['get', 'sc']);
    assert.match(sc, /^csi-disk-topology\s+csi\.strata\.io\s+Delete\s+WaitForFirstConsumer\s+false\s+\d+s$/m);
    const pv = await ok(['get', 'pv']);
    assert.match(pv, /^local-pv-1\s+10Gi\s+RWO\s+Retain\s+Pending\s+local-storage\s+<unset>\s+\d+s$/m);
    const vs = await ok(['get', 'volumesnapshot', '-n', 'demo']);
    assert.match(vs.split('\n')[0], /^NAME\s+READYTOUSE\s+SOURCEPVC\s+SOURCESNAPSHOTCONTENT\s+RESTORESIZE\s+SNAPSHOTCLASS\s+SNAPSHOTCONTENT\s+CREATIONTIME\s+AGE$/);
    const yaml = await ok(['get', 'pvc', 'data', '-n', 'demo', '-o', 'yaml']);
    assert.match(yaml, /volumeMode: Filesystem/);
    assert.match(yaml, /- kubernetes.io\/pvc-protection/);
    const byLabel = await ok(['get', 'pods,pvc', '-n', 'demo', '-l', 'app in (web)', '-o', 'name']);
    assert.deepEqual(byLabel.trim().split('\n').sort(), ['persistentvolumeclaim/data', 'pod/web']);
    const none = await ok(['get', 'pods', '-n', 'demo', '-l', 'app!=web', '-o', 'name']);
    assert.equal(none.trim(), '');
    const byField = await ok(['get', 'pods', '-A', '--field-selector', 'status.phase=Pending,spec.nodeName=', '-o', 'name']);
    assert.equal(byField.trim(), 'pod/web');
    const bad = await k(['get', 'pods', '-n', 'demo', '--field-selector', 'spec.foo=bar']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /field label not supported: spec\.foo/);
  });

  it('get -w sees later changes', async () => {
    const watcher = srv.kubectl(['get', 'cm', '-n', 'demo', '-w', '--request-timeout=8s'], { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await ok(['create', 'configmap', 'watched', '-n', 'demo', '--from-literal=x=y']);
    const r = await watcher;
    assert.match(r.stdout, /^watched\s+1\s+\d+s$/m);
  });

  it('describe shows events', async () => {
    const uid = JSON.parse(await ok(['get', 'pvc', 'data', '-n', 'demo', '-o', 'json'])).metadata.uid;
    await ok(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Event', metadata: { name: 'data.e2e', namespace: 'demo' },
      involvedObject: { kind: 'PersistentVolumeClaim', name: 'data', namespace: 'demo', uid, apiVersion: 'v1' },
      reason: 'WaitForFirstConsumer', message: 'waiting for first consumer to be created before binding', type: 'Normal',
      source: { component: 'persistentvolume-controller' }, count: 1, firstTimestamp: new Date().toISOString(), lastTimestamp: new Date().toISOString(),
    }));
    const out = await ok(['describe', 'pvc', 'data', '-n', 'demo']);
    assert.match(out, /StorageClass:\s+csi-disk-topology/);
    assert.match(out, /Normal\s+WaitForFirstConsumer\s+\S+\s+persistentvolume-controller\s+waiting for first consumer to be created before binding/);
  });

  it('patch with strategic, merge and json types', async () => {
    await ok(['patch', 'pvc', 'data', '-n', 'demo', '-p', '{"metadata":{"labels":{"tier":"gold"}}}']);
    await ok(['patch', 'volumesnapshotclass', 'disk-snapshot', '--type=merge', '-p', '{"metadata":{"labels":{"x":"1"}}}']);
    await ok(['patch', 'sc', 'csi-disk-topology', '--type=json', '-p', '[{"op":"add","path":"/metadata/annotations","value":{"note":"zone-b"}}]']);
    assert.equal(JSON.parse(await ok(['get', 'pvc', 'data', '-n', 'demo', '-o', 'json'])).metadata.labels.tier, 'gold');
    assert.equal(JSON.parse(await ok(['get', 'vsclass', 'disk-snapshot', '-o', 'json'])).metadata.labels.x, '1');
    assert.equal(JSON.parse(await ok(['get', 'sc', 'csi-disk-topology', '-o', 'json'])).metadata.annotations.note, 'zone-b');
    // Strategic merge patch on a snapshot kind is refused with 415, as upstream does for custom resources.
    const r = await k(['patch', 'vsclass', 'disk-snapshot', '--type=strategic', '-p', '{"metadata":{"labels":{"y":"1"}}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /UnsupportedMediaType|unknown format|415/i);
    // An immutable field is refused with upstream's message.
    const imm = await k(['patch', 'sc', 'csi-disk-topology', '--type=merge', '-p', '{"parameters":{"type":"local"}}']);
    assert.notEqual(imm.code, 0);
    assert.match(imm.stderr, /parameters: Forbidden: updates to parameters are forbidden/);
  });

  it('edit with a scripted EDITOR', async () => {
    const dir = tempDir();
    const editor = join(dir, 'editor.sh');
    writeFileSync(editor, `#!/bin/sh\nsed -i 's/mode: fast/mode: careful/' "$1"\n`);
    chmodSync(editor, 0o755);
    const r = await srv.kubectl(['edit', 'cm', 'settings', '-n', 'demo'], { env: { EDITOR: editor, KUBE_EDITOR: editor } });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configmap\/settings edited/);
    assert.equal(JSON.parse(await ok(['get', 'cm', 'settings', '-n', 'demo', '-o', 'json'])).data.mode, 'careful');
  });

  it('label and annotate', async () => {
    await ok(['label', 'node', 'node1', 'rack=rack1']);
    await ok(['annotate', 'pv', 'local-pv-1', 'owner=ops']);
    const node = JSON.parse(await ok(['get', 'node', 'node1', '-o', 'json']));
    assert.equal(node.metadata.labels.rack, 'rack1');
    const pv = JSON.parse(await ok(['get', 'pv', 'local-pv-1', '-o', 'json']));
    assert.equal(pv.metadata.annotations.owner, 'ops');
    const out = await ok(['get', 'nodes', '-l', 'rack', '-o', 'name']);
    assert.equal(out.trim(), 'node/node1');
  });

  it('delete waits until finalizers are removed', async () => {
    await ok(['create', 'configmap', 'guarded', '-n', 'demo']);
    await ok(['patch', 'cm', 'guarded', '-n', 'demo', '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}']);
    const deleting = srv.kubectl(['delete', 'cm', 'guarded', '-n', 'demo', '--timeout=20s']);
    await eventually(async () => {
      const r = await k(['get', 'cm', 'guarded', '-n', 'demo', '-o', 'json']);
      return r.code === 0 && JSON.parse(r.stdout).metadata.deletionTimestamp;
    }, { what: 'deletionTimestamp' });
    await ok(['patch', 'cm', 'guarded', '-n', 'demo', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    const r = await deleting;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configmap "guarded" deleted/);
    const gone = await k(['get', 'cm', 'guarded', '-n', 'demo']);
    assert.match(gone.stderr, /Error from server \(NotFound\): configmaps "guarded" not found/);
  });

  it('wait --for=jsonpath sees a status change', async () => {
    const waiting = srv.kubectl(['wait', '--for=jsonpath={.status.phase}=Bound', 'pvc/data', '-n', 'demo', '--timeout=20s']);
    await new Promise((r) => setTimeout(r, 1000));
    const pvc = JSON.parse(await ok(['get', 'pvc', 'data', '-n', 'demo', '-o', 'json']));
    pvc.status = { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '20Gi' } };
    const res = await srv.request('PUT', '/api/v1/namespaces/demo/persistentvolumeclaims/data/status', pvc);
    assert.equal(res.status, 200, res.body);
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /persistentvolumeclaim\/data condition met/);
  });

  it('deleting a namespace removes what is in it', async () => {
    await ok(['create', 'namespace', 'scratch']);
    await ok(['create', 'configmap', 'a', '-n', 'scratch']);
    await ok(['delete', 'namespace', 'scratch', '--timeout=20s']);
    const r = await k(['get', 'cm', 'a', '-n', 'scratch']);
    assert.notEqual(r.code, 0);
    const sys = await k(['delete', 'namespace', 'kube-system']);
    assert.match(sys.stderr, /namespaces "kube-system" is forbidden: this namespace may not be deleted/);
  });
});

describe('strata apiserver command', () => {
  it('prints the ready line, writes a 0600 kubeconfig and token, and exits 0 on SIGTERM', async () => {
    const dir = tempDir();
    const p = startStrata(['apiserver', '--data-dir', dir, '--port', '0']);
    const m = await p.waitFor(/Strata API server is ready at (https:\/\/127\.0\.0\.1:\d+)/);
    assert.ok(m[1]);
    assert.equal(statSync(join(dir, 'kubeconfig')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'token')).mode & 0o777, 0o600);
    assert.equal(await p.stop('SIGTERM'), 0);
    rmSync(dir, { recursive: true, force: true });
  });
});
