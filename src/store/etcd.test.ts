// What only the etcd backend has: several stores (API servers) sharing one etcd, key prefixes, opening on existing
// data, compaction reaching etcd. The Store contract itself runs against etcd in contract.test.ts.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdProcess } from '../../test/helpers/etcd.ts';
import { EtcdStore, type EtcdStoreOptions } from './etcd.ts';
import { CompactedError, KeyExistsError, openStore, RevisionConflictError, StoreError } from './index.ts';
import type { Store, WatchEvent } from './types.ts';

describe('EtcdStore', () => {
  let etcd: EtcdProcess;
  let raw: Etcd3;
  const open: Store[] = [];
  let prefixes = 0;
  /** A prefix no other test uses, so tests share one etcd without seeing each other's keys. */
  const freshPrefix = () => `/test-${++prefixes}`;
  const newStore = async (options: Partial<EtcdStoreOptions> = {}) => {
    const store = await EtcdStore.open({ endpoints: [etcd.endpoint], ...options });
    open.push(store);
    return store;
  };

  before(async () => {
    etcd = await startEtcd();
    raw = new Etcd3({ hosts: etcd.endpoint });
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });
  after(async () => {
    raw?.close();
    await etcd?.stop();
  });

  test('two stores on one etcd (two API servers) see each other\'s writes through watch, in one revision order', async () => {
    const prefix = freshPrefix();
    const a = await newStore({ prefix });
    const b = await newStore({ prefix });
    const start = await a.currentRevision();
    const seenByB: WatchEvent[] = [];
    await b.watch('/pods/', { afterRevision: start, onEvent: (event) => seenByB.push(event) });

    const created = await a.create('/pods/p1', 'v1');
    const updated = await b.update('/pods/p1', 'v2', created);
    // a's stale write loses, and the error carries the winner's revision for the API server's retry.
    await assert.rejects(a.update('/pods/p1', 'v3', created), (err) => {
      assert.ok(err instanceof RevisionConflictError);
      assert.equal(err.currentModRevision, updated);
      return true;
    });
    await assert.rejects(b.create('/pods/p1', 'again'), KeyExistsError);
    const deleted = await a.delete('/pods/p1', updated);

    assert.deepEqual([created, updated, deleted], [start + 1, start + 2, start + 3]);
    assert.equal(await b.currentRevision(), deleted);
    // b's own write was delivered before it resolved; a's arrive through the shared etcd watch.
    await waitUntil(() => seenByB.length === 3);
    assert.deepEqual(seenByB.map((e) => [e.type, e.kv.value, e.revision]), [
      ['put', 'v1', created],
      ['put', 'v2', updated],
      ['delete', 'v2', deleted],
    ]);
    assert.deepEqual(seenByB[1]!.prevKv, { key: '/pods/p1', value: 'v1', modRevision: created, createRevision: created });
    assert.deepEqual(await b.list('/pods/'), { items: [], revision: deleted });
  });

  test('keys live under the prefix in etcd, and stores with other prefixes do not see them', async () => {
    const prefix = freshPrefix();
    const store = await newStore({ prefix });
    const other = await newStore({ prefix: `${prefix}x` });
    const otherEvents: WatchEvent[] = [];
    await other.watch('', { afterRevision: await other.currentRevision(), onEvent: (event) => otherEvents.push(event) });
    const revision = await store.create('/a', 'value');
    await other.create('/b', 'other');
    assert.equal(await raw.get(`${prefix}/a`).string(), 'value');
    assert.equal(await raw.get(`${prefix}x/b`).string(), 'other');
    assert.deepEqual((await store.list('')).items.map((kv) => kv.key), ['/a']);
    assert.deepEqual((await other.list('')).items.map((kv) => kv.key), ['/b']);
    assert.deepEqual(otherEvents.map((e) => e.kv.key), ['/b']);
    // Store revisions are etcd's minus one: a fresh etcd is at revision 1 with nothing written.
    const stored = await raw.get(`${prefix}/a`).exec();
    assert.equal(Number(stored.kvs[0]!.mod_revision), revision + 1);
  });

  test('keys must start with "/"; a list under any other prefix is empty', async () => {
    const store = await newStore({ prefix: freshPrefix() });
    await assert.rejects(store.create('a', 'v'), TypeError);
    await store.create('/a', 'v');
    assert.deepEqual((await store.list('a')).items, []);
  });

  test('the default prefix is /strata', async () => {
    const store = await newStore();
    const key = `/default-prefix-${Date.now()}`;
    await store.create(key, 'v');
    assert.equal(await raw.get(`/strata${key}`).string(), 'v');
    await store.delete(key);
  });

  test('a store opened on existing data reads it, and its watches resume from the revision it opened at', async () => {
    const prefix = freshPrefix();
    const first = await newStore({ prefix });
    const created = await first.create('/k/a', '1');
    await first.update('/k/a', '2');
    const second = await newStore({ prefix });
    const openedAt = await second.currentRevision();
    assert.equal(second.compactedRevision(), openedAt);
    assert.deepEqual(await second.get('/k/a'), { key: '/k/a', value: '2', modRevision: created + 1, createRevision: created });
    // History from before it opened is not kept locally: such a watch gets 410-style CompactedError, like a
    // restarted kube-apiserver's watch cache; the client relists.
    await assert.rejects(second.watch('/k/', { afterRevision: created, onEvent: () => {} }), CompactedError);
    const events: WatchEvent[] = [];
    await second.watch('/k/', { afterRevision: openedAt, onEvent: (event) => events.push(event) });
    const revision = await first.update('/k/a', '3');
    await waitUntil(() => events.length === 1);
    assert.deepEqual(events.map((e) => [e.kv.value, e.prevKv?.value, e.revision]), [['3', '2', revision]]);
  });

  test('compaction reaches etcd: reads at compacted revisions fail there too', async () => {
    const store = await newStore({ prefix: freshPrefix() });
    const first = await store.create('/c', '1');
    const second = await store.update('/c', '2');
    await store.compact(second);
    assert.equal(store.compactedRevision(), second);
    await store.close(); // waits for the etcd compaction
    await assert.rejects(raw.get('/x').revision(first + 1).exec(), /required revision has been compacted/);
  });

  test('a store behind a compaction done by another store still compacts without error', async () => {
    const prefix = freshPrefix();
    const a = await newStore({ prefix });
    const b = await newStore({ prefix });
    const seenByB: WatchEvent[] = [];
    await b.watch('/', { afterRevision: b.compactedRevision(), onEvent: (event) => seenByB.push(event) });
    const early = await a.create('/k', '1');
    const late = await a.update('/k', '2');
    await waitUntil(() => seenByB.length === 2);
    await a.compact(late);
    await a.close();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      await b.compact(early);
      await b.close();
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
    assert.equal(b.compactedRevision(), early);
  });

  test('open fails with a StoreError naming the endpoint when etcd is unreachable', async () => {
    const unreachable = 'http://127.0.0.1:1';
    await assert.rejects(EtcdStore.open({ endpoints: [unreachable] }), (err) => {
      assert.ok(err instanceof StoreError);
      assert.match(err.message, /cannot open the etcd store at http:\/\/127\.0\.0\.1:1/);
      return true;
    });
  });

  test('openStore opens the etcd backend and needs endpoints', async () => {
    const store = await openStore({ backend: 'etcd', endpoints: [etcd.endpoint], prefix: freshPrefix(), historyLimit: 5 });
    open.push(store);
    assert.ok(store instanceof EtcdStore);
    assert.equal(await store.get('/none'), undefined);
    await assert.rejects(openStore({ backend: 'etcd' }), /the etcd backend needs endpoints/);
    await assert.rejects(openStore({ backend: 'etcd', endpoints: [] }), /the etcd backend needs endpoints/);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
