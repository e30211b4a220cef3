// The embedded API server from @kubernetes/client-node's point of view, its local socket, and its durability across
// kill -9.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import type { KubeObject } from '../../src/api/types.ts';
import { localSocketPath } from '../../src/apiserver/server.ts';
import { Resources } from '../../src/client/resources.ts';
import { KubeClient } from '../../src/client/rest.ts';
import type { ResourceType } from '../../src/client/rest.ts';
import { eventually, startApiServerProcess, tempDir } from '../helpers/processes.ts';

const configMaps: ResourceType<KubeObject & { data?: Record<string, string> }> = { group: '', version: 'v1', plural: 'configmaps', namespaced: true };

/** One plain-HTTP request over a unix socket: status and parsed body. */
function overSocket(socketPath: string, path: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('@kubernetes/client-node against the embedded API server', () => {
  it('an informer lists, follows changes, and recovers from 410 Expired by relisting', async () => {
    // A tiny watch window so that a resumed watch falls outside it and gets 410.
    const srv = await startApiServerProcess({ storage: 'memory', extraArgs: ['--watch-cache-size', '20'] });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(srv.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const seen = new Map<string, string | undefined>();
    const errors: unknown[] = [];
    let informer: k8s.Informer<k8s.V1ConfigMap> & k8s.ObjectCache<k8s.V1ConfigMap> | undefined;
    try {
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'before' }, data: { v: '0' } } });
      informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
      informer.on('add', (cm) => seen.set(cm.metadata!.name!, cm.data?.v));
      informer.on('update', (cm) => seen.set(cm.metadata!.name!, cm.data?.v));
      informer.on('delete', (cm) => seen.delete(cm.metadata!.name!));
      informer.on('error', (e) => errors.push(e));
      await informer.start();
      assert.equal(seen.get('before'), '0', 'the initial list is delivered');

      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'live' }, data: { v: '1' } } });
      await core.patchNamespacedConfigMap({ namespace: 'default', name: 'before', body: { data: { v: '2' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
      await eventually(() => seen.get('live') === '1' && seen.get('before') === '2', { what: 'watch events' });

      // Cut the informer's watch, then move the store far past the watch window while it is away: the resumed
      // watch gets 410 Expired and the informer must relist to see the final state.
      await informer.stop();
      for (let i = 0; i < 60; i++) {
        await core.patchNamespacedConfigMap({ namespace: 'default', name: 'live', body: { data: { v: String(100 + i) } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
      }
      await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'before' });
      const expired = await srv.request('GET', '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion=5');
      assert.match(expired.body, /"type":"ERROR".*"code":410/, 'an old resourceVersion is answered with 410 Expired');
      await informer.start();
      await eventually(() => seen.get('live') === '159' && !seen.has('before'), { what: 'state after relist' });
    } finally {
      await informer?.stop();
      await srv.cleanup();
    }
  });
});

describe('the local socket', () => {
  it('serves the same API to this user only, with the token, and the kubeconfig names it for Strata clients', async () => {
    const srv = await startApiServerProcess();
    const socket = join(srv.dataDir, 'apiserver.sock');
    try {
      assert.ok(statSync(socket).isSocket());
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.match(readFileSync(srv.kubeconfig, 'utf8'), /- name: strata\.io\/local-socket\n\s+extension:\n\s+path: .*apiserver\.sock/);
      for (const token of [undefined, 'wrong']) {
        const denied = await overSocket(socket, '/api/v1/namespaces', token);
        assert.equal(denied.status, 401);
        assert.deepEqual({ kind: denied.body.kind, reason: denied.body.reason, code: denied.body.code }, { kind: 'Status', reason: 'Unauthorized', code: 401 });
      }
      const ok = await overSocket(socket, '/api/v1/namespaces/kube-system', srv.token);
      assert.equal(ok.status, 200);
      assert.equal((ok.body.metadata as { name: string }).name, 'kube-system');
      // What kubectl writes over TCP, a Strata client reads over the socket.
      const created = await srv.kubectl(['create', 'configmap', 'via-kubectl', '--from-literal=k=v']);
      assert.equal(created.code, 0, created.stderr);
      const client = KubeClient.fromKubeconfig(srv.kubeconfig);
      try {
        assert.equal(client.socketPath, socket);
        assert.equal((await client.resource(configMaps).get('via-kubectl', 'default')).data?.k, 'v');
      } finally {
        client.close();
      }
    } finally {
      await srv.cleanup();
    }
    assert.throws(() => statSync(socket), /ENOENT/, 'the socket goes when the server stops');
  });

  it('a burst of writes reaches a watcher on the socket and one over HTTPS as the same events in the same order', async () => {
    const srv = await startApiServerProcess();
    const local = KubeClient.fromKubeconfig(srv.kubeconfig);
    const tcp = KubeClient.fromKubeconfig(srv.kubeconfig, { localSocket: false });
    const seen = { local: [] as string[], tcp: [] as string[] };
    const watches: Array<{ stop(): void }> = [];
    try {
      assert.ok(local.socketPath);
      const { metadata } = await local.resource(configMaps).list({ namespace: 'default' });
      for (const [name, client] of [['local', local], ['tcp', tcp]] as const) {
        watches.push(client.resource(configMaps).watch({ namespace: 'default', resourceVersion: metadata.resourceVersion }, (type, cm) => {
          seen[name].push(`${type} ${cm.metadata.name} ${cm.metadata.resourceVersion} ${cm.data?.i}`);
        }, (err) => err && assert.fail(`watch ended: ${err.message}`)));
      }
      await new Promise((r) => setTimeout(r, 100));
      // Concurrent writes commit in shared batches, so a watcher gets many events in one turn.
      const burst = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => local.resource(configMaps).create({
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `burst-${i}`, namespace: 'default' }, data: { i: String(i).padStart(2000, '0') },
      })));
      await burst(300);
      await eventually(() => seen.local.length === 300 && seen.tcp.length === 300, { what: '300 events on both watches' });
      assert.deepEqual(seen.local, seen.tcp);
      const revisions = seen.local.map((line) => Number(line.split(' ')[2]));
      assert.deepEqual(revisions, [...revisions].sort((a, b) => a - b), 'in resourceVersion order');
      assert.equal(new Set(seen.local.map((line) => line.split(' ')[1])).size, 300);
    } finally {
      for (const w of watches) w.stop();
      local.close();
      tcp.close();
      await srv.cleanup();
    }
  });

  it('is named by its absolute path (a relative data dir too), and left out when the path is too long for a socket', () => {
    assert.equal(localSocketPath('.strata'), resolve('.strata', 'apiserver.sock'));
    assert.equal(localSocketPath('/var/lib/strata'), '/var/lib/strata/apiserver.sock');
    assert.equal(localSocketPath(`/tmp/${'d'.repeat(90)}`), undefined);
  });

  it('a socket another process listens on is left to it: the server serves over TCP only', async () => {
    const dataDir = tempDir();
    const squatter = createServer((c) => c.on('error', () => undefined).end());
    await new Promise<void>((resolve) => squatter.listen(join(dataDir, 'apiserver.sock'), resolve));
    try {
      const srv = await startApiServerProcess({ dataDir });
      try {
        await srv.waitFor(/local socket .*apiserver\.sock is in use by another process; serving over TCP only/);
        assert.doesNotMatch(readFileSync(srv.kubeconfig, 'utf8'), /local-socket/);
        const client = KubeClient.fromKubeconfig(srv.kubeconfig);
        try {
          assert.equal(client.socketPath, undefined);
          assert.ok((await client.resource(Resources.namespaces).list()).items.length >= 4);
        } finally {
          client.close();
        }
      } finally {
        await srv.cleanup();
      }
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('durability', () => {
  it('after kill -9 during a stream of writes, every acknowledged write is there and resourceVersions keep increasing', async () => {
    const dataDir = tempDir();
    try {
      const first = await startApiServerProcess({ dataDir });
      const acknowledged: Array<{ name: string; rv: number }> = [];
      let stop = false;
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const name = `w${w}-${i}`;
          try {
            const r = await first.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } });
            if (r.status === 201) acknowledged.push({ name, rv: Number(JSON.parse(r.body).metadata.resourceVersion) });
          } catch {
            return; // the server died mid-request: that write was never acknowledged
          }
        }
      });
      await eventually(() => acknowledged.length >= 300, { what: '300 acknowledged writes', timeoutMs: 30_000 });
      process.kill(first.pid, 'SIGKILL');
      await first.exited;
      stop = true;
      await Promise.all(writers);
      first.agent.destroy();

      const second = await startApiServerProcess({ dataDir });
      try {
        const list = JSON.parse((await second.request('GET', '/api/v1/namespaces/default/configmaps')).body);
        const names = new Set(list.items.map((c: { metadata: { name: string } }) => c.metadata.name));
        const missing = acknowledged.filter((a) => !names.has(a.name));
        assert.deepEqual(missing, [], 'acknowledged writes lost');
        const maxBefore = Math.max(...acknowledged.map((a) => a.rv));
        const r = await second.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-restart' } });
        assert.equal(r.status, 201);
        assert.ok(Number(JSON.parse(r.body).metadata.resourceVersion) > maxBefore, 'resourceVersion continues after restart');
        // The killed server's socket file was left behind; the new server replaced it and serves on it.
        const client = KubeClient.fromKubeconfig(second.kubeconfig);
        try {
          assert.ok(client.socketPath);
          assert.equal((await client.resource(configMaps).get('after-restart', 'default')).metadata.name, 'after-restart');
        } finally {
          client.close();
        }
      } finally {
        await second.cleanup();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('concurrency', () => {
  it('concurrent patches without a resourceVersion never answer 409: the server retries them, as upstream', async () => {
    const srv = await startApiServerProcess();
    try {
      await srv.request('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }] } });
      for (let i = 0; i < 30; i++) {
        const results = await Promise.all([
          srv.request('PATCH', '/api/v1/namespaces/default/pods/p/status', { status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: `m${i}` }] } }, { 'Content-Type': 'application/strategic-merge-patch+json' }),
          srv.request('PATCH', '/api/v1/namespaces/default/pods/p', { metadata: { annotations: { a: String(i) } } }, { 'Content-Type': 'application/merge-patch+json' }),
          srv.request('PATCH', '/api/v1/namespaces/default/pods/p', { metadata: { labels: { l: String(i) } } }, { 'Content-Type': 'application/merge-patch+json' }),
        ]);
        for (const r of results) assert.equal(r.status, 200, r.body);
      }
      const pod = JSON.parse((await srv.request('GET', '/api/v1/namespaces/default/pods/p')).body);
      assert.equal(pod.metadata.annotations.a, '29');
      assert.equal(pod.metadata.labels.l, '29');
      assert.equal(pod.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled').message, 'm29');
    } finally {
      await srv.cleanup();
    }
  });
});
