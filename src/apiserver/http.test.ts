// The HTTP fast paths against the in-process server: list bodies assembled in a reused buffer, watch events written
// as pre-framed chunks shared by every watcher. Both must give exactly what the plain encodings give.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApiServer } from './server.ts';
import type { RunningApiServer } from './server.ts';

let server: RunningApiServer;
let agent: Agent;
let dataDir: string;

function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Opens a watch and collects its lines until `count` arrived. */
function watchLines(path: string, count: number): { lines: Promise<string[]>; opened: Promise<void> } {
  let opened!: () => void;
  const openedPromise = new Promise<void>((resolve) => (opened = resolve));
  const lines = new Promise<string[]>((resolve, reject) => {
    const req = request(new URL(path, server.url), { agent: new Agent({ ca: server.caPem }), headers: { Authorization: `Bearer ${server.token}` } }, (res) => {
      opened();
      let buf = '';
      const out: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          out.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (out.length === count) {
            req.destroy();
            resolve(out);
          }
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
  return { lines, opened: openedPromise };
}

describe('API server HTTP encodings', () => {
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-http-test-'));
    server = await startApiServer({ dataDir, port: 0, storage: 'memory', processMetrics: false });
    agent = new Agent({ keepAlive: true, ca: server.caPem });
  });
  after(async () => {
    agent.destroy();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a list larger than 1 MiB is the objects as get returns them, and stays so when its buffer is reused', async () => {
    const names = Array.from({ length: 700 }, (_, i) => `big-${String(i).padStart(4, '0')}`);
    for (const name of names) {
      const r = await call('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name }, data: { blob: 'x'.repeat(2000) } });
      assert.equal(r.status, 201);
    }
    const first = await call('GET', '/api/v1/namespaces/default/configmaps');
    assert.equal(first.status, 200);
    assert.ok(first.body.length > 1 << 20, `the list is ${first.body.length} bytes`);
    assert.equal(Number(first.headers['content-length']), first.body.length);
    const list = JSON.parse(first.body.toString()) as { kind: string; metadata: { resourceVersion: string }; items: Array<{ metadata: { name: string } }> };
    assert.equal(list.kind, 'ConfigMapList');
    assert.deepEqual(list.items.map((i) => i.metadata.name), names);
    const one = await call('GET', `/api/v1/namespaces/default/configmaps/${names[350]}`);
    assert.ok(first.body.includes(one.body), 'items carry the same bytes as a get');

    // A shorter list after a delete reuses the buffer; it must not carry bytes of the longer one.
    assert.equal((await call('DELETE', `/api/v1/namespaces/default/configmaps/${names[699]}`)).status, 200);
    const [second, third] = await Promise.all([call('GET', '/api/v1/namespaces/default/configmaps'), call('GET', '/api/v1/namespaces/default/configmaps')]);
    assert.deepEqual(second.body, third.body, 'concurrent lists (one in a fresh buffer) are identical');
    const shorter = JSON.parse(second.body.toString()) as typeof list;
    assert.deepEqual(shorter.items.map((i) => i.metadata.name), names.slice(0, 699));
    assert.equal(Number(second.headers['content-length']), second.body.length);
  });

  it('every watcher gets each event as one line of {"type","object"}, with a Table watch alongside', async () => {
    const rv = (JSON.parse((await call('GET', '/api/v1/namespaces/kube-public/configmaps')).body.toString()) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const path = `/api/v1/namespaces/kube-public/configmaps?watch=true&resourceVersion=${rv}`;
    const plain = Array.from({ length: 5 }, () => watchLines(path, 3));
    const labelled = watchLines(`${path}&labelSelector=pick%3Dyes`, 2);
    await Promise.all([...plain, labelled].map((w) => w.opened));
    const created = await call('POST', '/api/v1/namespaces/kube-public/configmaps', { metadata: { name: 'w1', labels: { pick: 'yes' } }, data: { a: '1' } });
    const patched = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = request(new URL('/api/v1/namespaces/kube-public/configmaps/w1', server.url), {
        method: 'PATCH', agent, headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/merge-patch+json' },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ metadata: { labels: { pick: 'no' } } }));
    });
    assert.equal(patched.status, 200);
    const deleted = await call('DELETE', '/api/v1/namespaces/kube-public/configmaps/w1');
    assert.equal(deleted.status, 200);

    const expected = [`{"type":"ADDED","object":${created.body}}`, `{"type":"MODIFIED","object":${patched.body}}`];
    for (const w of plain) {
      const lines = await w.lines;
      assert.deepEqual(lines.slice(0, 2), expected);
      const last = JSON.parse(lines[2]!) as { type: string; object: { metadata: { name: string } } };
      assert.equal(last.type, 'DELETED');
      assert.equal(last.object.metadata.name, 'w1');
    }
    // The label change takes the object out of the selection: a DELETED with the new state, as upstream.
    assert.deepEqual(await labelled.lines, [expected[0], `{"type":"DELETED","object":${patched.body}}`]);
  });
});
