import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { CompactedError, StoreError } from './errors.ts';
import { SqliteStore, prefixEnd } from './sqlite.ts';
import type { Store, WatchEvent } from './types.ts';

let dir = '';
let files = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-sqlite-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));
const newPath = () => join(dir, `${++files}.db`);

async function history(store: Store, prefix: string, afterRevision: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  const watch = await store.watch(prefix, { afterRevision, onEvent: (event) => events.push(event) });
  watch.cancel();
  return events;
}

describe('prefixEnd', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['empty prefix has no end', '', undefined],
    ['ASCII slash', '/pods/', '/pods0'],
    ['last character bumped', '/pods', '/podt'],
    ['skips the surrogate range', 'a\uD7FF', 'a\uE000'],
    ['astral code point', 'a\u{1F600}', 'a\u{1F601}'],
    ['carries over U+10FFFF', 'a\u{10FFFF}', 'b'],
    ['only U+10FFFF has no end', '\u{10FFFF}\u{10FFFF}', undefined],
  ];
  for (const [name, prefix, end] of cases) {
    test(name, () => assert.equal(prefixEnd(prefix), end));
  }
});

describe('SqliteStore', () => {
  test('values, revisions and history survive close and reopen', async () => {
    const path = newPath();
    const first = new SqliteStore({ path });
    await first.create('/pvc/a', 'a1');
    await first.create('/pvc/b', 'b1');
    await first.update('/pvc/a', 'a2', 1);
    await first.delete('/pvc/b');
    await first.create('/pv/x', 'x1');
    const before = { list: await first.list(''), history: await history(first, '', 0) };
    await first.close();

    const second = new SqliteStore({ path });
    try {
      assert.equal(await second.currentRevision(), 5);
      assert.deepEqual(await second.list(''), before.list);
      assert.deepEqual(await second.get('/pvc/a'), { key: '/pvc/a', value: 'a2', modRevision: 3, createRevision: 1 });
      // A watch resumes from a revision written before the restart and continues live.
      const resumed: WatchEvent[] = [];
      await second.watch('/pvc/', { afterRevision: 2, onEvent: (event) => resumed.push(event) });
      assert.equal(await second.create('/pvc/c', 'c1'), 6);
      assert.deepEqual(
        resumed.map((e) => [e.type, e.kv.key, e.kv.value, e.revision]),
        [
          ['put', '/pvc/a', 'a2', 3],
          ['delete', '/pvc/b', 'b1', 4],
          ['put', '/pvc/c', 'c1', 6],
        ],
      );
      assert.deepEqual(resumed[0]!.prevKv, { key: '/pvc/a', value: 'a1', modRevision: 1, createRevision: 1 });
      assert.deepEqual((await history(second, '', 0)).slice(0, 5), before.history);
    } finally {
      await second.close();
    }
  });

  test('the compacted revision survives reopen, and so does the revision when all history is compacted', async () => {
    const path = newPath();
    const first = new SqliteStore({ path });
    for (let i = 1; i <= 4; i++) await first.create(`/k/${i}`, `${i}`);
    await first.compact(4);
    await first.close();

    const second = new SqliteStore({ path });
    try {
      assert.equal(second.compactedRevision(), 4);
      assert.equal(await second.currentRevision(), 4);
      await assert.rejects(history(second, '', 3), CompactedError);
      assert.equal(await second.create('/k/5', '5'), 5);
      assert.deepEqual((await history(second, '', 4)).map((e) => e.revision), [5]);
    } finally {
      await second.close();
    }
  });

  test('a write still in flight at close is on disk afterwards', async () => {
    const path = newPath();
    const first = new SqliteStore({ path });
    const write = first.create('/a', '1');
    await first.close();
    assert.equal(await write, 1);
    const second = new SqliteStore({ path });
    assert.deepEqual(await second.get('/a'), { key: '/a', value: '1', modRevision: 1, createRevision: 1 });
    await second.close();
  });

  test('a second store on the same file is refused while the first is open', async () => {
    const path = newPath();
    const first = new SqliteStore({ path });
    await first.create('/a', '1');
    assert.throws(() => new SqliteStore({ path }), (err) => {
      assert.ok(err instanceof StoreError);
      assert.match(err.message, /is in use by another store/);
      return true;
    });
    await first.close();
    const second = new SqliteStore({ path });
    assert.equal((await second.get('/a'))?.value, '1');
    await second.close();
  });

  test('checkpoints run off the event loop, and once writes pause the WAL starts over instead of growing', async () => {
    const path = newPath();
    const store = new SqliteStore({ path });
    const walBytes = () => statSync(`${path}-wal`).size;
    const value = 'v'.repeat(2000);
    let n = 0;
    const burst = async (count: number) => {
      for (let i = 0; i < count; i += 8) await Promise.all(Array.from({ length: 8 }, () => store.create(`/wal/${n++}`, value)));
    };
    try {
      await burst(1000);
      const afterFirst = walBytes();
      // The pause lets a checkpoint copy every frame; the next burst, smaller than the first, then rewrites the WAL
      // from its start. Without checkpoints (or with one still holding frames) it would append after them.
      await new Promise((r) => setTimeout(r, 500));
      await burst(400);
      assert.equal(walBytes(), afterFirst);
      await new Promise((r) => setTimeout(r, 500));
      await burst(400);
      assert.equal(walBytes(), afterFirst);
      assert.equal((await store.list('/wal/')).items.length, 1800);
    } finally {
      await store.close();
    }
    const reopened = new SqliteStore({ path });
    assert.equal((await reopened.list('/wal/')).items.length, 1800);
    await reopened.close();
  });

  test('a database from a newer schema version is refused', () => {
    const path = newPath();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 99');
    db.close();
    assert.throws(() => new SqliteStore({ path }), /schema version 99/);
  });

  test('a write that fails inside a group commit rolls back the whole batch and consumes no revision', async () => {
    const store = new SqliteStore({ path: newPath() });
    try {
      const seen: number[] = [];
      await store.watch('', { afterRevision: 0, onEvent: (event) => seen.push(event.revision) });
      const first = store.create('/a', '1');
      // NOT NULL violation: the statement fails after /a was written into the open transaction.
      const failing = store.create('/b', null as unknown as string);
      await assert.rejects(failing, /NOT NULL/);
      await assert.rejects(first, /NOT NULL/);
      assert.equal(await store.get('/a'), undefined);
      assert.deepEqual(seen, []);
      assert.equal(await store.create('/c', '3'), 1);
      assert.deepEqual(seen, [1]);
    } finally {
      await store.close();
    }
  });

  test('operations fail after close', async () => {
    const store = new SqliteStore({ path: newPath() });
    await store.close();
    await assert.rejects(store.get('/a'));
  });

  // The child writes in a loop and prints each write once its promise resolved; we SIGKILL it mid-stream.
  const WRITER = `
    import { writeSync } from 'node:fs';
    import { setImmediate as nextTurn } from 'node:timers/promises';
    import { SqliteStore } from ${JSON.stringify(new URL('./sqlite.ts', import.meta.url).href)};
    const store = new SqliteStore({ path: process.env.STORE_PATH });
    // Synchronous, so a line the parent reads was printed right when its write resolved.
    const ack = (line) => writeSync(1, line + '\\n');
    ack('ready ' + (await store.currentRevision()));
    const run = process.env.RUN;
    // Four concurrent writers, so acknowledged writes also come from shared group commits.
    async function writer(w) {
      for (let i = 0; ; i++) {
        const key = '/kill/' + run + '/' + w + '-' + i;
        const created = await store.create(key, 'value-' + w + '-' + i);
        ack('create ' + key + ' ' + created);
        if (w === 0) {
          const counter = '/kill/counter-' + run;
          const updated = await store.update(counter, String(i)).catch(() => store.create(counter, String(i)));
          ack('counter ' + i + ' ' + updated);
        }
        // Let the event loop run, as a server's would.
        if (i % 2 === w % 2) await nextTurn();
      }
    }
    await Promise.all([0, 1, 2, 3].map(writer));
  `;

  /** Runs the writer until it has acknowledged `acks` writes, then kill -9; returns every acknowledged line. */
  function runWriterAndKill(path: string, run: string, acks: number): Promise<{ readyRevision: number; lines: string[][] }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER], {
        env: { ...process.env, STORE_PATH: path, RUN: run },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      let stderr = '';
      let killed = false;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (!killed && output.split('\n').length > acks + 1) {
          killed = true;
          child.kill('SIGKILL');
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') return reject(new Error(`writer exited with ${code}: ${stderr}`));
        // A line cut off by the kill was never acknowledged.
        const lines = output.split('\n').slice(0, -1).map((line) => line.split(' '));
        const [ready, ...acknowledged] = lines;
        assert.equal(ready?.[0], 'ready');
        resolve({ readyRevision: Number(ready[1]), lines: acknowledged });
      });
    });
  }

  test('every acknowledged write survives kill -9 and the revision keeps increasing', { timeout: 60_000 }, async () => {
    const path = newPath();
    const runs = [await runWriterAndKill(path, 'one', 2000)];
    runs.push(await runWriterAndKill(path, 'two', 2000));
    const maxAcked = (lines: string[][]) => Math.max(...lines.map((line) => Number(line[2])));
    assert.equal(runs[0]!.readyRevision, 0);
    // The restarted writer continues above everything the killed one acknowledged.
    assert.ok(runs[1]!.readyRevision >= maxAcked(runs[0]!.lines));
    assert.ok(Number(runs[1]!.lines[0]![2]) > runs[1]!.readyRevision);

    const store = new SqliteStore({ path });
    try {
      const current = await store.currentRevision();
      for (const [index, run] of ['one', 'two'].entries()) {
        const { lines } = runs[index]!;
        assert.ok(lines.length >= 2000, `run ${run} acknowledged ${lines.length} writes`);
        let lastCounter = -1;
        for (const [kind, name, revision] of lines) {
          if (kind === 'create') {
            assert.deepEqual(await store.get(name!), {
              key: name,
              value: `value-${name!.split('/').pop()}`,
              modRevision: Number(revision),
              createRevision: Number(revision),
            });
          } else {
            lastCounter = Number(name);
          }
        }
        // The counter may be one write ahead of the last acknowledgement (committed, killed before printing).
        const counter = Number((await store.get(`/kill/counter-${run}`))?.value);
        assert.ok(counter === lastCounter || counter === lastCounter + 1, `counter ${counter}, acknowledged ${lastCounter}`);
      }
      assert.ok(current >= maxAcked(runs[1]!.lines));
      // History is complete across both crashes: one event per revision.
      assert.deepEqual(
        (await history(store, '', 0)).map((e) => e.revision),
        Array.from({ length: current }, (_, i) => i + 1),
      );
      assert.equal(await store.create('/kill/after', 'x'), current + 1);
    } finally {
      await store.close();
    }
  });
});
