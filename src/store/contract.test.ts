// One behavioural contract for every Store backend. A new backend joins with one storeContract(...) line at the end.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  MemoryStore,
  RevisionConflictError,
  SqliteStore,
  StoreError,
} from './index.ts';
import type { Store, WatchEvent } from './types.ts';
import { EtcdStore } from './etcd.ts';
import { startEtcd, type EtcdProcess } from '../../test/helpers/etcd.ts';

interface StoreFactoryOptions {
  historyLimit?: number;
}

/** Collects a watch's events. */
async function record(store: Store, prefix: string, afterRevision: number) {
  const events: WatchEvent[] = [];
  const errors: Error[] = [];
  const watch = await store.watch(prefix, {
    afterRevision,
    onEvent: (event) => events.push(event),
    onError: (err) => errors.push(err),
  });
  return { events, errors, watch };
}

/** The events as [type, key, value, revision] for compact comparison. */
function summary(events: WatchEvent[]): Array<[string, string, string, number]> {
  return events.map((e) => [e.type, e.kv.key, e.kv.value, e.revision]);
}

export function storeContract(name: string, makeStore: (options?: StoreFactoryOptions) => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    const open: Store[] = [];
    const newStore = async (options?: StoreFactoryOptions) => {
      const store = await makeStore(options);
      open.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close();
    });

    describe('create/get/update/delete', () => {
      test('create returns the first revision and get returns the value', async () => {
        const store = await newStore();
        assert.equal(await store.currentRevision(), 0);
        assert.equal(await store.get('/a'), undefined);
        const revision = await store.create('/a', 'v1');
        assert.equal(revision, 1);
        assert.deepEqual(await store.get('/a'), { key: '/a', value: 'v1', modRevision: 1, createRevision: 1 });
        assert.equal(await store.currentRevision(), 1);
      });

      test('create of an existing key fails with KeyExistsError and leaves it unchanged', async () => {
        const store = await newStore();
        await store.create('/a', 'v1');
        await assert.rejects(store.create('/a', 'v2'), (err) => {
          assert.ok(err instanceof KeyExistsError);
          assert.ok(err instanceof StoreError);
          assert.equal(err.key, '/a');
          return true;
        });
        assert.equal((await store.get('/a'))?.value, 'v1');
        assert.equal(await store.currentRevision(), 1);
      });

      test('update replaces the value, keeps createRevision and moves modRevision', async () => {
        const store = await newStore();
        await store.create('/other', 'x');
        const created = await store.create('/a', 'v1');
        const updated = await store.update('/a', 'v2');
        assert.equal(updated, created + 1);
        assert.deepEqual(await store.get('/a'), { key: '/a', value: 'v2', modRevision: updated, createRevision: created });
        const again = await store.update('/a', 'v3', updated);
        assert.equal(again, updated + 1);
        assert.equal((await store.get('/a'))?.value, 'v3');
      });

      test('update with a stale expectedModRevision fails with RevisionConflictError carrying the current one', async () => {
        const store = await newStore();
        const created = await store.create('/a', 'v1');
        const updated = await store.update('/a', 'v2');
        await assert.rejects(store.update('/a', 'v3', created), (err) => {
          assert.ok(err instanceof RevisionConflictError);
          assert.ok(err instanceof StoreError);
          assert.equal(err.key, '/a');
          assert.equal(err.expectedModRevision, created);
          assert.equal(err.currentModRevision, updated);
          return true;
        });
        assert.equal((await store.get('/a'))?.value, 'v2');
        assert.equal(await store.currentRevision(), updated);
      });

      test('update and delete of a missing key fail with KeyNotFoundError', async () => {
        const store = await newStore();
        for (const attempt of [
          () => store.update('/missing', 'v'),
          () => store.update('/missing', 'v', 1),
          () => store.delete('/missing'),
          () => store.delete('/missing', 1),
        ]) {
          await assert.rejects(attempt(), (err) => {
            assert.ok(err instanceof KeyNotFoundError);
            assert.ok(err instanceof StoreError);
            assert.equal(err.key, '/missing');
            return true;
          });
        }
        assert.equal(await store.currentRevision(), 0);
      });

      test('delete removes the key; a stale expectedModRevision fails and keeps it', async () => {
        const store = await newStore();
        const created = await store.create('/a', 'v1');
        const updated = await store.update('/a', 'v2');
        await assert.rejects(store.delete('/a', created), RevisionConflictError);
        assert.equal((await store.get('/a'))?.value, 'v2');
        const deleted = await store.delete('/a', updated);
        assert.equal(deleted, updated + 1);
        assert.equal(await store.get('/a'), undefined);
        assert.equal(await store.currentRevision(), deleted);
      });

      test('a key created again after delete gets a new createRevision', async () => {
        const store = await newStore();
        await store.create('/a', 'v1');
        await store.delete('/a');
        const recreated = await store.create('/a', 'v2');
        assert.deepEqual(await store.get('/a'), { key: '/a', value: 'v2', modRevision: recreated, createRevision: recreated });
      });
    });

    test('revisions are global and strictly increasing; failed writes consume none', async () => {
      const store = await newStore();
      const revisions = [
        await store.create('/x/1', 'a'),
        await store.create('/y/1', 'b'),
        await store.update('/x/1', 'c'),
      ];
      await assert.rejects(store.create('/y/1', 'dup'), KeyExistsError);
      await assert.rejects(store.update('/x/1', 'd', 1), RevisionConflictError);
      revisions.push(await store.delete('/y/1'), await store.create('/z', 'e'));
      assert.deepEqual(revisions, [1, 2, 3, 4, 5]);
      assert.equal(await store.currentRevision(), 5);
      // Concurrent writers still get distinct, consecutive revisions.
      const concurrent = await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(`/c/${i}`, 'v')));
      assert.deepEqual([...concurrent].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => 6 + i));
    });

    test('writes issued together, without awaiting, apply in call order', async () => {
      const store = await newStore();
      const { events } = await record(store, '/t/', 0);
      const revisions = await Promise.all([
        store.create('/t/a', '1'),
        store.update('/t/a', '2', 1),
        store.create('/t/b', '1'),
        store.delete('/t/a', 2),
        store.create('/t/a', '3'),
      ]);
      assert.deepEqual(revisions, [1, 2, 3, 4, 5]);
      assert.deepEqual(summary(events), [
        ['put', '/t/a', '1', 1],
        ['put', '/t/a', '2', 2],
        ['put', '/t/b', '1', 3],
        ['delete', '/t/a', '2', 4],
        ['put', '/t/a', '3', 5],
      ]);
      assert.deepEqual(await store.get('/t/a'), { key: '/t/a', value: '3', modRevision: 5, createRevision: 5 });
    });

    test('of concurrent conditional updates from the same revision exactly one wins', async () => {
      const store = await newStore();
      const created = await store.create('/a', 'v0');
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.update('/a', `v${i + 1}`, created)),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1);
      for (const result of results) {
        if (result.status === 'rejected') assert.ok(result.reason instanceof RevisionConflictError);
      }
      assert.equal((await store.get('/a'))?.modRevision, created + 1);
    });

    test('reads issued while writes are in flight see them, and list revision covers them', async () => {
      const store = await newStore();
      const writes = [store.create('/r/a', '1'), store.create('/r/b', '2')];
      assert.equal((await store.get('/r/b'))?.value, '2');
      const listed = await store.list('/r/');
      assert.deepEqual(listed.items.map((kv) => kv.key), ['/r/a', '/r/b']);
      assert.equal(listed.revision, 2);
      assert.deepEqual(await Promise.all(writes), [1, 2]);
    });

    test('close completes writes already issued, tells watchers, and is idempotent', async () => {
      const store = await newStore();
      const { events } = await record(store, '', 0);
      const write = store.create('/a', '1');
      await store.close();
      assert.equal(await write, 1);
      assert.deepEqual(events.map((e) => e.revision), [1]);
      await store.close();
    });

    describe('list', () => {
      test('returns keys under the prefix in key order with the current revision', async () => {
        const store = await newStore();
        for (const name of ['c', 'a', 'b', 'aa', 'B']) await store.create(`/pods/${name}`, name);
        await store.create('/services/a', 's');
        const updated = await store.update('/pods/b', 'b2');
        const result = await store.list('/pods/');
        assert.deepEqual(
          result.items.map((kv) => kv.key),
          ['/pods/B', '/pods/a', '/pods/aa', '/pods/b', '/pods/c'],
        );
        assert.equal(result.revision, updated);
        assert.deepEqual(result.items[3], { key: '/pods/b', value: 'b2', modRevision: updated, createRevision: 3 });
        assert.equal((await store.list('')).items.length, 6);
        assert.deepEqual(await store.list('/none/'), { items: [], revision: updated });
      });

      test('a prefix matches by string prefix only ("/pods/a" is not under "/podsx")', async () => {
        const store = await newStore();
        await store.create('/pods/a', '1');
        await store.create('/podsx/a', '2');
        await store.create('/pods', '3');
        await store.create('/pod', '4');
        assert.deepEqual((await store.list('/pods/')).items.map((kv) => kv.key), ['/pods/a']);
        assert.deepEqual((await store.list('/podsx')).items.map((kv) => kv.key), ['/podsx/a']);
        assert.deepEqual((await store.list('/pods')).items.map((kv) => kv.key), ['/pods', '/pods/a', '/podsx/a']);
      });

      test('orders non-ASCII keys by code point (UTF-8 byte order), like etcd', async () => {
        const store = await newStore();
        const keys = ['/k/\u{1F600}', '/k/\uFFFD', '/k/\u00E9', '/k/z', '/k/\u{10FFFF}', '/k/\uE000'];
        for (const key of keys) await store.create(key, key);
        const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.deepEqual((await store.list('/k/')).items.map((kv) => kv.key), expected);
        assert.deepEqual((await store.list('/k/\u{10FFFF}')).items.map((kv) => kv.key), ['/k/\u{10FFFF}']);
      });
    });

    test('values are returned byte-for-byte', async () => {
      const store = await newStore();
      const values = [
        '',
        ' leading and trailing whitespace \n',
        '{"kind":"PersistentVolumeClaim","metadata":{"name":"data"}}',
        'caf\u00E9 \u{1F600} \u4E2D\u6587 \u0000 nul \t tab \r\n crlf',
        'x'.repeat(1 << 20),
      ];
      for (const [i, value] of values.entries()) await store.create(`/v/${i}`, value);
      const { events } = await record(store, '/v/', 0);
      for (const [i, value] of values.entries()) {
        assert.equal((await store.get(`/v/${i}`))?.value, value);
        assert.equal(events[i]?.kv.value, value);
      }
      assert.deepEqual((await store.list('/v/')).items.map((kv) => kv.value), values);
    });

    describe('watch', () => {
      /** create a, create b, update a, delete b, create c (other prefix), update a — revisions 1..6. */
      async function writeScript(store: Store) {
        await store.create('/w/a', 'a1');
        await store.create('/w/b', 'b1');
        await store.update('/w/a', 'a2');
        await store.delete('/w/b');
        await store.create('/other/c', 'c1');
        await store.update('/w/a', 'a3', 3);
      }

      test('from revision 0 delivers every event in order, prevKv for updates and the old value for deletes', async () => {
        const store = await newStore();
        await writeScript(store);
        const { events } = await record(store, '/w/', 0);
        assert.deepEqual(summary(events), [
          ['put', '/w/a', 'a1', 1],
          ['put', '/w/b', 'b1', 2],
          ['put', '/w/a', 'a2', 3],
          ['delete', '/w/b', 'b1', 4],
          ['put', '/w/a', 'a3', 6],
        ]);
        assert.equal(events[0]!.prevKv, undefined);
        assert.deepEqual(events[0]!.kv, { key: '/w/a', value: 'a1', modRevision: 1, createRevision: 1 });
        assert.deepEqual(events[2]!.kv, { key: '/w/a', value: 'a2', modRevision: 3, createRevision: 1 });
        assert.deepEqual(events[2]!.prevKv, { key: '/w/a', value: 'a1', modRevision: 1, createRevision: 1 });
        // A delete carries the value as it was just before, with its modRevision; the event has the delete's revision.
        assert.deepEqual(events[3]!.kv, { key: '/w/b', value: 'b1', modRevision: 2, createRevision: 2 });
        assert.deepEqual(events[3]!.prevKv, events[3]!.kv);
        assert.deepEqual(events[4]!.prevKv, { key: '/w/a', value: 'a2', modRevision: 3, createRevision: 1 });
      });

      test('from a middle revision delivers exactly the later events', async () => {
        const store = await newStore();
        await writeScript(store);
        assert.deepEqual(summary((await record(store, '/w/', 3)).events), [
          ['delete', '/w/b', 'b1', 4],
          ['put', '/w/a', 'a3', 6],
        ]);
        assert.deepEqual(summary((await record(store, '', 4)).events), [
          ['put', '/other/c', 'c1', 5],
          ['put', '/w/a', 'a3', 6],
        ]);
        assert.deepEqual((await record(store, '/w/', 6)).events, []);
      });

      test('history is followed by live events, and a live event arrives before the write resolves', async () => {
        const store = await newStore();
        await store.create('/w/a', 'a1');
        const { events } = await record(store, '/w/', 0);
        assert.equal(events.length, 1);
        let seenWhenResolved = -1;
        const revision = await store.update('/w/a', 'a2').then((r) => {
          seenWhenResolved = events.length;
          return r;
        });
        assert.equal(seenWhenResolved, 2);
        await store.create('/other/x', 'x');
        await store.delete('/w/a');
        assert.deepEqual(summary(events), [
          ['put', '/w/a', 'a1', 1],
          ['put', '/w/a', 'a2', revision],
          ['delete', '/w/a', 'a2', revision + 2],
        ]);
      });

      test('a watch started while writes race has no gap and no duplicate', async () => {
        const store = await newStore();
        for (let i = 0; i < 50; i++) await store.create(`/race/pre-${i}`, 'v');
        const writers = Array.from({ length: 8 }, async (_, writer) => {
          for (let i = 0; i < 40; i++) {
            await store.create(`/race/${writer}-${i}`, 'v');
            if (i % 3 === writer % 3) await nextTurn();
          }
        });
        await nextTurn();
        await nextTurn();
        const startedAt = await store.currentRevision();
        const watched = await record(store, '/race/', 25);
        await Promise.all(writers);
        const final = await store.currentRevision();
        assert.equal(final, 50 + 8 * 40);
        // The watch really started mid-stream: part of what it saw was history, part live.
        assert.ok(startedAt > 50 && startedAt < final, `watch started at ${startedAt}`);
        assert.deepEqual(
          watched.events.map((e) => e.revision),
          Array.from({ length: final - 25 }, (_, i) => 26 + i),
        );
      });

      test('a watch started while a write is in flight sees it exactly once', async () => {
        const store = await newStore();
        const early = await record(store, '/w/', 0);
        const write = store.create('/w/a', '1');
        const late = await record(store, '/w/', 0);
        assert.equal(await write, 1);
        await store.create('/w/b', '2');
        assert.deepEqual(early.events.map((e) => e.revision), [1, 2]);
        assert.deepEqual(late.events.map((e) => e.revision), [1, 2]);
      });

      test('a watch from the current or a future revision delivers only later writes', async () => {
        const store = await newStore();
        const { events } = await record(store, '/w/', 0);
        await store.create('/w/a', 'a');
        const fromFuture = await record(store, '/w/', 3);
        await store.create('/w/b', 'b');
        await store.create('/w/c', 'c');
        assert.deepEqual(events.map((e) => e.revision), [1, 2, 3]);
        assert.deepEqual(fromFuture.events.map((e) => e.revision), []);
        await store.create('/w/d', 'd');
        assert.deepEqual(fromFuture.events.map((e) => e.revision), [4]);
      });

      test('watches are isolated by prefix', async () => {
        const store = await newStore();
        const pods = await record(store, '/pods/', 0);
        const podsx = await record(store, '/podsx/', 0);
        await store.create('/pods/a', '1');
        await store.create('/podsx/a', '2');
        await store.create('/pod', '3');
        assert.deepEqual(pods.events.map((e) => e.kv.key), ['/pods/a']);
        assert.deepEqual(podsx.events.map((e) => e.kv.key), ['/podsx/a']);
      });

      test('cancel stops delivery and is idempotent', async () => {
        const store = await newStore();
        const { events, watch } = await record(store, '/w/', 0);
        const other = await record(store, '/w/', 0);
        await store.create('/w/a', '1');
        watch.cancel();
        watch.cancel();
        await store.create('/w/b', '2');
        assert.deepEqual(events.map((e) => e.kv.key), ['/w/a']);
        assert.deepEqual(other.events.map((e) => e.kv.key), ['/w/a', '/w/b']);
      });

      test('cancel from inside the handler stops delivery at once', async () => {
        const store = await newStore();
        const seen: number[] = [];
        const watch = await store.watch('/w/', {
          afterRevision: 0,
          onEvent: (event) => {
            seen.push(event.revision);
            if (event.revision === 2) watch.cancel();
          },
        });
        for (let i = 0; i < 4; i++) await store.create(`/w/${i}`, 'v');
        assert.deepEqual(seen, [1, 2]);
      });

      test('a throwing handler ends only its own watch and reports through onError', async () => {
        const store = await newStore();
        const healthy = await record(store, '/w/', 0);
        const failure = new Error('handler failed');
        const errors: Error[] = [];
        let calls = 0;
        await store.watch('/w/', {
          afterRevision: 0,
          onEvent: () => {
            calls++;
            throw failure;
          },
          onError: (err) => errors.push(err),
        });
        assert.equal(await store.create('/w/a', '1'), 1);
        await store.create('/w/b', '2');
        await nextTurn();
        assert.equal(calls, 1);
        assert.deepEqual(errors, [failure]);
        assert.equal(healthy.events.length, 2);
      });

      test('writes made from a handler reach every watcher in revision order', async () => {
        const store = await newStore();
        const first = await record(store, '/w/', 0);
        const writes: Promise<number>[] = [];
        await store.watch('/w/', {
          afterRevision: 0,
          onEvent: (event) => {
            if (event.kv.key === '/w/a') writes.push(store.create('/w/from-handler', 'h'));
          },
        });
        const last = await record(store, '/w/', 0);
        await store.create('/w/a', 'a');
        await store.create('/w/b', 'b');
        await Promise.all(writes);
        for (const watcher of [first, last]) {
          assert.deepEqual(watcher.events.map((e) => e.kv.key), ['/w/a', '/w/from-handler', '/w/b']);
          assert.deepEqual(watcher.events.map((e) => e.revision), [1, 2, 3]);
        }
      });
    });

    describe('compaction', () => {
      test('a watch from before the compacted revision fails with CompactedError; later ones still work', async () => {
        const store = await newStore();
        for (let i = 1; i <= 10; i++) await store.create(`/c/${i}`, `${i}`);
        await store.update('/c/1', 'updated');
        assert.equal(store.compactedRevision(), 0);
        await store.compact(6);
        assert.equal(store.compactedRevision(), 6);
        await assert.rejects(record(store, '/c/', 5), (err) => {
          assert.ok(err instanceof CompactedError);
          assert.ok(err instanceof StoreError);
          assert.equal(err.requestedRevision, 5);
          assert.equal(err.compactedRevision, 6);
          assert.equal(err.message, 'too old resource version: 5 (6)');
          return true;
        });
        await assert.rejects(record(store, '/c/', 0), CompactedError);
        const { events } = await record(store, '/c/', 6);
        assert.deepEqual(events.map((e) => e.revision), [7, 8, 9, 10, 11]);
        // The event after compaction still carries its prevKv even though that write's own event is gone.
        assert.deepEqual(events[4]!.prevKv, { key: '/c/1', value: '1', modRevision: 1, createRevision: 1 });
        // Current values are untouched.
        assert.equal((await store.list('/c/')).items.length, 10);
        assert.equal((await store.get('/c/1'))?.value, 'updated');
      });

      test('compacting to an older revision is a no-op; beyond the current one stops at it', async () => {
        const store = await newStore();
        for (let i = 1; i <= 5; i++) await store.create(`/c/${i}`, `${i}`);
        await store.compact(3);
        await store.compact(2);
        assert.equal(store.compactedRevision(), 3);
        await store.compact(100);
        assert.equal(store.compactedRevision(), 5);
        assert.equal(await store.create('/c/6', '6'), 6);
        assert.deepEqual((await record(store, '', 5)).events.map((e) => e.revision), [6]);
      });

      test('historyLimit compacts automatically, off the write path, keeping at least the last N events', async () => {
        const store = await newStore({ historyLimit: 10 });
        for (let i = 1; i <= 200; i++) {
          await store.create(`/h/${i}`, `${i}`);
          // Automatic compaction never runs inside a write.
          assert.ok(store.compactedRevision() <= Math.max(0, i - 10));
        }
        await nextTurn();
        const compacted = store.compactedRevision();
        assert.ok(compacted > 0 && compacted <= 190, `compacted revision ${compacted}`);
        await assert.rejects(record(store, '/h/', 0), CompactedError);
        const { events } = await record(store, '/h/', 190);
        assert.deepEqual(events.map((e) => e.revision), Array.from({ length: 10 }, (_, i) => 191 + i));
        assert.equal((await store.list('/h/')).items.length, 200);
      });
    });
  });
}

describe('MemoryStore options', () => {
  test('rejects an invalid historyLimit', () => {
    assert.throws(() => new MemoryStore({ historyLimit: 0 }), RangeError);
    assert.throws(() => new MemoryStore({ historyLimit: 1.5 }), RangeError);
  });
});

let sqliteDir = '';
before(() => {
  sqliteDir = mkdtempSync(join(tmpdir(), 'strata-store-contract-'));
});
after(() => rmSync(sqliteDir, { recursive: true, force: true }));
let sqliteFiles = 0;

storeContract('memory', async (options) => new MemoryStore(options));
storeContract('sqlite', async (options) => new SqliteStore({ path: join(sqliteDir, `${++sqliteFiles}.db`), ...options }));

// Each etcd store gets a fresh etcd of its own (so revisions start at 0 as the contract expects), stopped after its
// test. The next one starts while a test runs, which hides part of etcd's start-up time.
const etcds: EtcdProcess[] = [];
let nextEtcd: Promise<EtcdProcess> | undefined;
function startNextEtcd(): Promise<EtcdProcess> {
  const starting = startEtcd();
  starting.catch(() => {}); // reported by the test that takes it
  return starting;
}
afterEach(async () => {
  for (const etcd of etcds.splice(0)) await etcd.stop();
});
after(async () => {
  await (await nextEtcd?.catch(() => undefined))?.stop();
});
storeContract('etcd', async (options) => {
  const etcd = await (nextEtcd ?? startNextEtcd());
  nextEtcd = startNextEtcd();
  etcds.push(etcd);
  return EtcdStore.open({ endpoints: [etcd.endpoint], ...options });
});
