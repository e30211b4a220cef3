import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../api/types.ts';
import { MemoryStore } from '../store/memory.ts';
import { findResource, objectKey } from './resources.ts';
import { CachedObject, WatchCache, encodeForStore } from './watch-cache.ts';

const pvcs = findResource('', 'v1', 'persistentvolumeclaims')!;

function claim(metadata: Record<string, unknown>, claimRefRV?: string): KubeObject {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: { name: 'c', namespace: 'ns', ...metadata },
    spec: { volumeName: 'pv-1', accessModes: ['ReadWriteOnce'], ...(claimRefRV !== undefined ? { dataSourceRef: { name: 'x', kind: 'K', resourceVersion: claimRefRV } } : {}) },
    status: { phase: 'Bound' },
  } as KubeObject;
}

/** The stored value as it was made before encodeForStore: the object's JSON without metadata.resourceVersion. */
function plainValue(obj: KubeObject): string {
  const copy = structuredClone(obj);
  delete copy.metadata.resourceVersion;
  return JSON.stringify(copy);
}

test('encodeForStore stores the JSON without metadata.resourceVersion, wherever that member was, and leaves the object as it was', () => {
  const cases: KubeObject[] = [
    claim({ resourceVersion: '7', labels: { a: 'b' } }),
    claim({ labels: { a: 'b' }, resourceVersion: '7' }),
    claim({ labels: { a: 'b' } }),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { resourceVersion: '3' } } as KubeObject,
    { apiVersion: 'v1', kind: 'Namespace', metadata: {} } as KubeObject,
  ];
  for (const obj of cases) {
    const before = JSON.stringify(obj);
    const encoded = encodeForStore(obj.kind!, obj);
    assert.equal(encoded.value, plainValue(obj));
    assert.ok(encoded.template, 'a template for an ordinary object');
    assert.equal(JSON.stringify(obj), before, 'the object is unchanged, key order included');
  }
});

test('encodeForStore takes the plain way when another member encodes the same as its placeholder', () => {
  const obj = claim({ resourceVersion: '7' }, '\0rv\0');
  const encoded = encodeForStore(obj.kind!, obj);
  assert.equal(encoded.template, undefined);
  assert.equal(encoded.value, plainValue(obj));
  assert.equal((obj.spec as { dataSourceRef: { resourceVersion: string } }).dataSourceRef.resourceVersion, '\0rv\0');
});

test('the cache serves a value written through expect exactly as one it decodes from the store', async () => {
  const store = new MemoryStore();
  const cache = new WatchCache(store);
  await cache.start();
  try {
    const key = objectKey(pvcs, 'ns', 'c');
    const obj = claim({ labels: { app: 'db' }, annotations: { note: 'the placeholder is \0rv\0 here' } });
    const encoded = encodeForStore(obj.kind!, obj);
    assert.ok(encoded.template);
    cache.expect(key, encoded);
    const rev = await store.create(key, encoded.value);
    const served = cache.get(pvcs, key)!;
    const decoded = CachedObject.decode(key, pvcs, encoded.value, rev);
    assert.equal(served.raw.toString(), decoded.raw.toString());
    assert.equal(served.obj.metadata.resourceVersion, String(rev));
    assert.deepEqual(served.labels, { app: 'db' });
    assert.deepEqual(served.fields, decoded.fields);

    // A label changed on the writer's object after the write does not change what is served.
    obj.metadata.labels!.app = 'changed';
    assert.deepEqual(cache.get(pvcs, key)!.labels, { app: 'db' });

    // A value other than the expected one (another writer's) is decoded, never served from the stale encoding.
    const next = claim({ labels: { app: 'web' } });
    const stale = encodeForStore(next.kind!, next);
    cache.expect(key, stale);
    const otherValue = plainValue(claim({ labels: { app: 'other' } }));
    const rev2 = await store.update(key, otherValue, rev);
    assert.equal(cache.get(pvcs, key)!.raw.toString(), CachedObject.decode(key, pvcs, otherValue, rev2).raw.toString());
    cache.forget(key, stale);
  } finally {
    cache.stop();
    await store.close();
  }
});
