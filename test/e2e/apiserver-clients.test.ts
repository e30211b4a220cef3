// The embedded API server from @kubernetes/client-node's point of view, and its durability across kill -9.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { eventually, startApiServerProcess, tempDir } from '../helpers/processes.ts';

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
