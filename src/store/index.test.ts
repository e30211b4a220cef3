import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryStore, openStore, SqliteStore, type StoreOptions } from './index.ts';

test('openStore opens the memory backend', async () => {
  const store = await openStore({ backend: 'memory', historyLimit: 5 });
  assert.ok(store instanceof MemoryStore);
  await store.close();
});

test('openStore opens the sqlite backend at path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-open-store-'));
  try {
    const store = await openStore({ backend: 'sqlite', path: join(dir, 'state.db') });
    assert.ok(store instanceof SqliteStore);
    assert.equal(await store.create('/a', '1'), 1);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('openStore rejects incomplete or unknown options', async () => {
  await assert.rejects(openStore({ backend: 'sqlite' }), /needs a path/);
  await assert.rejects(openStore({ backend: 'leveldb' } as unknown as StoreOptions), /unknown backend "leveldb"/);
  await assert.rejects(openStore({ backend: 'memory', historyLimit: -1 }), RangeError);
});
