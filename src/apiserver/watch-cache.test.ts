import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/types.ts';
import { RESOURCES } from './resources.ts';
import { CachedObject } from './watch-cache.ts';

const configMaps = RESOURCES.find((r) => r.kind === 'ConfigMap')!;
const encode = (obj: KubeObject): string => JSON.stringify(obj);

describe('CachedObject', () => {
  const cases: Array<[string, KubeObject]> = [
    ['metadata after plain members', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'ns', labels: { x: 'y' } }, data: { k: '"metadata":{' } } as KubeObject],
    ['an object member before metadata', { data: { metadata: 'x', nested: { '"metadata":{': 1 } }, apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: 'ns' } } as unknown as KubeObject],
    ['empty metadata', { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} } as KubeObject],
  ];
  for (const [name, obj] of cases) {
    it(`caches what this server wrote as it would decode it: ${name}`, () => {
      const value = encode(obj);
      const decoded = new CachedObject('/registry/configmaps/ns/a', configMaps, value, 42);
      const written = new CachedObject('/registry/configmaps/ns/a', configMaps, value, 42, structuredClone(obj));
      assert.deepEqual(written.obj, decoded.obj);
      assert.equal(written.obj.metadata.resourceVersion, '42');
      assert.deepEqual(written.labels, decoded.labels);
      assert.deepEqual(written.fields, decoded.fields);
    });
  }
});
