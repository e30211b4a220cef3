import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/types.ts';
import { Indexer, NAMESPACE_INDEX, objectKey, splitKey } from './cache.ts';
import { IndexerError } from './errors.ts';

function pod(name: string, ns: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels } };
}
const byRight = (obj: KubeObject): string[] => (obj.metadata.labels?.right ?? '').split(',').filter(Boolean);

describe('objectKey / splitKey (MetaNamespaceKeyFunc)', () => {
  const cases: Array<[string, KubeObject, string, { namespace?: string; name: string }]> = [
    ['namespaced', pod('web', 'prod'), 'prod/web', { namespace: 'prod', name: 'web' }],
    ['cluster-scoped', { metadata: { name: 'pv-1' } }, 'pv-1', { name: 'pv-1' }],
  ];
  for (const [name, obj, key, parts] of cases) {
    it(name, () => {
      assert.equal(objectKey(obj), key);
      assert.deepEqual(splitKey(key), parts);
    });
  }
});

describe('Indexer (client-go thread_safe_store / index tests)', () => {
  it('TestMultiIndexKeys: an object is found under each of its index values', () => {
    const indexer = new Indexer<KubeObject>();
    indexer.addIndexer('byRight', byRight);
    indexer.set('ns/one', pod('one', 'ns', { right: 'a,b' }));
    indexer.set('ns/two', pod('two', 'ns', { right: 'b,c' }));
    indexer.set('ns/tre', pod('tre', 'ns', { right: 'c' }));
    assert.deepEqual(indexer.indexKeys('byRight', 'b').sort(), ['ns/one', 'ns/two']);
    assert.deepEqual(indexer.byIndex('byRight', 'c').map((o) => o.metadata.name).sort(), ['tre', 'two']);
    assert.deepEqual(indexer.indexValues('byRight').sort(), ['a', 'b', 'c']);

    // Updating moves the key between index values.
    indexer.set('ns/two', pod('two', 'ns', { right: 'a' }));
    assert.deepEqual(indexer.indexKeys('byRight', 'b'), ['ns/one']);
    assert.deepEqual(indexer.indexKeys('byRight', 'c'), ['ns/tre']);
    assert.deepEqual(indexer.indexKeys('byRight', 'a').sort(), ['ns/one', 'ns/two']);

    // Deleting removes it everywhere, and empty values disappear.
    indexer.delete('ns/tre');
    assert.deepEqual(indexer.indexKeys('byRight', 'c'), []);
    assert.deepEqual(indexer.indexValues('byRight').sort(), ['a', 'b']);
    assert.equal(indexer.size, 2);
  });

  it('the namespace index is always there', () => {
    const indexer = new Indexer<KubeObject>();
    indexer.set('a/x', pod('x', 'a'));
    indexer.set('b/y', pod('y', 'b'));
    indexer.set('pv', { metadata: { name: 'pv' } });
    assert.deepEqual(indexer.byIndex(NAMESPACE_INDEX, 'a').map((o) => o.metadata.name), ['x']);
    assert.deepEqual(indexer.indexValues(NAMESPACE_INDEX).sort(), ['a', 'b']);
  });

  it('an indexer added later indexes what is already cached', () => {
    const indexer = new Indexer<KubeObject>();
    indexer.set('ns/one', pod('one', 'ns', { right: 'z' }));
    indexer.addIndexer('byRight', byRight);
    assert.deepEqual(indexer.indexKeys('byRight', 'z'), ['ns/one']);
  });

  it('set and delete return the previous object', () => {
    const indexer = new Indexer<KubeObject>();
    const first = pod('one', 'ns');
    assert.equal(indexer.set('ns/one', first), undefined);
    assert.equal(indexer.set('ns/one', pod('one', 'ns', { v: '2' })), first);
    assert.equal(indexer.delete('ns/one')?.metadata.labels?.v, '2');
    assert.equal(indexer.delete('ns/one'), undefined);
  });

  it('unknown and duplicate index names are errors', () => {
    const indexer = new Indexer<KubeObject>();
    assert.throws(() => indexer.byIndex('nope', 'x'), (e: unknown) => e instanceof IndexerError && e.message === 'Index with name nope does not exist');
    assert.throws(() => indexer.addIndexer(NAMESPACE_INDEX, () => []), IndexerError);
  });
});
