// Past one machine: two `strata apiserver` processes with their own data dirs share one real etcd
// (`--storage etcd --etcd-endpoints URL`), and each serves what was written through the other.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startEtcd, type EtcdProcess } from '../helpers/etcd.ts';
import { eventually, startApiServerProcess, type ApiServerProcess } from '../helpers/processes.ts';

interface WatchEventLine {
  type: string;
  object: { metadata: { name: string; resourceVersion: string } };
}

/** An open HTTP watch on an API server, collecting its events. */
async function openWatch(srv: ApiServerProcess, path: string) {
  const events: WatchEventLine[] = [];
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpsRequest(new URL(path, srv.url), { agent: srv.agent, headers: { Authorization: `Bearer ${srv.token}` } }, resolve);
    req.on('error', reject);
    req.end();
  });
  assert.equal(response.statusCode, 200);
  let buffered = '';
  response.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as WatchEventLine);
  });
  response.on('error', () => {}); // destroyed by close()
  return { events, close: () => response.destroy() };
}

describe('two API servers sharing one etcd', () => {
  let etcd: EtcdProcess;
  let first: ApiServerProcess;
  let second: ApiServerProcess;
  before(async () => {
    etcd = await startEtcd();
    const etcdArgs = ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint];
    [first, second] = await Promise.all([
      startApiServerProcess({ extraArgs: etcdArgs }),
      startApiServerProcess({ extraArgs: etcdArgs }),
    ]);
  });
  after(async () => {
    await Promise.all([first?.cleanup(), second?.cleanup()]);
    await etcd?.stop();
  });

  it('an object created with kubectl through one is listed and read through the other', async () => {
    const created = await first.kubectl(['create', 'configmap', 'shared', '--from-literal=k=v', '-o', 'json']);
    assert.equal(created.code, 0, created.stderr);
    const rv = JSON.parse(created.stdout).metadata.resourceVersion;
    const listed = await eventually(async () => {
      const r = await second.kubectl(['get', 'configmaps', '-o', 'json']);
      const items = (JSON.parse(r.stdout) as { items: Array<{ metadata: { name: string; resourceVersion: string }; data: Record<string, string> }> }).items;
      return items.find((cm) => cm.metadata.name === 'shared');
    }, { what: 'configmap shared listed through the second API server' });
    assert.deepEqual(listed.data, { k: 'v' });
    assert.equal(listed.metadata.resourceVersion, rv);
    const got = await second.kubectl(['get', 'configmap', 'shared', '-o', 'jsonpath={.data.k}']);
    assert.equal(got.stdout, 'v');
  });

  it('a watch on one streams, in order, the writes made through the other', async () => {
    const list = await second.request('GET', '/api/v1/namespaces/default/configmaps');
    const from = JSON.parse(list.body).metadata.resourceVersion as string;
    const watch = await openWatch(second, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${from}&timeoutSeconds=30`);
    try {
      const created = await first.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'watched' }, data: { a: '1' } });
      assert.equal(created.status, 201, created.body);
      const deleted = await first.request('DELETE', '/api/v1/namespaces/default/configmaps/watched');
      assert.equal(deleted.status, 200, deleted.body);
      await eventually(() => watch.events.length >= 2, { what: 'two watch events through the second API server' });
      assert.deepEqual(watch.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'watched'], ['DELETED', 'watched']]);
      assert.equal(watch.events[0]!.object.metadata.resourceVersion, JSON.parse(created.body).metadata.resourceVersion);
      assert.ok(Number(watch.events[1]!.object.metadata.resourceVersion) > Number(watch.events[0]!.object.metadata.resourceVersion));
    } finally {
      watch.close();
    }
  });

  it('optimistic concurrency holds across them: a stale update through one gets 409 Conflict', async () => {
    const created = await first.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'contended' }, data: { v: '0' } });
    assert.equal(created.status, 201, created.body);
    const stale = JSON.parse(created.body);
    const bumped = await first.request('PUT', '/api/v1/namespaces/default/configmaps/contended', { ...stale, data: { v: '1' } });
    assert.equal(bumped.status, 200, bumped.body);
    const conflicting = await second.request('PUT', '/api/v1/namespaces/default/configmaps/contended', { ...stale, data: { v: '2' } });
    assert.equal(conflicting.status, 409, conflicting.body);
    assert.equal(
      JSON.parse(conflicting.body).message,
      'Operation cannot be fulfilled on configmaps "contended": the object has been modified; please apply your changes to the latest version and try again',
    );
    // The write that answered 200 is what both serve.
    await eventually(async () => {
      const r = await second.request('GET', '/api/v1/namespaces/default/configmaps/contended');
      return JSON.parse(r.body).data?.v === '1';
    }, { what: 'the second API server to serve the winning write' });
  });
});
