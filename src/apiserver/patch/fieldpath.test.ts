import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldSet } from './fieldpath.ts';
import { compare } from './typed.ts';
import { schemaForGvk } from './smp-schema.ts';

const fields = (set: FieldSet) => set.toFieldsV1();

test('set operations share unchanged subtrees and leave their operands as they were', () => {
  const a = FieldSet.fromFieldsV1({ 'f:spec': { 'f:x': {}, 'f:y': { 'f:z': {} } }, 'f:status': { 'f:phase': {} } });
  const b = FieldSet.fromFieldsV1({ 'f:spec': { 'f:y': { 'f:z': {} }, 'f:w': {} } });
  const before = [fields(a), fields(b)];

  assert.deepEqual(fields(a.union(b)), { 'f:spec': { 'f:w': {}, 'f:x': {}, 'f:y': { 'f:z': {} } }, 'f:status': { 'f:phase': {} } });
  assert.deepEqual(fields(a.difference(b)), { 'f:spec': { 'f:x': {} }, 'f:status': { 'f:phase': {} } });
  assert.deepEqual(fields(b.difference(a)), { 'f:spec': { 'f:w': {} } });
  assert.deepEqual(fields(a.intersection(b)), { 'f:spec': { 'f:y': { 'f:z': {} } } });
  assert.deepEqual(fields(a.filterTop(['f:status'], true)), { 'f:status': { 'f:phase': {} } });
  assert.deepEqual(fields(a.filterTop(['f:status'], false)), { 'f:spec': { 'f:x': {}, 'f:y': { 'f:z': {} } } });
  assert.deepEqual([fields(a), fields(b)], before, 'operands unchanged');

  const empty = new FieldSet();
  assert.equal(a.union(empty), a, 'union with nothing is the set itself');
  assert.equal(a.difference(empty), a);
  assert.equal(a.difference(FieldSet.of(['f:metadata'])), a, 'removing what is not there keeps the set');
  assert.deepEqual(fields(empty.union(a)), fields(a));
});

test('compare: an added or removed subtree makes every node of it a member, as a walk of both sides does', () => {
  const schema = schemaForGvk('v1/Pod');
  const pod = {
    metadata: { labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: '1' } } }], tolerations: [{ key: 'k', operator: 'Exists' }] },
  };
  const created = compare({}, pod, schema);
  assert.deepEqual(fields(created.added), {
    'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
    'f:spec': {
      'f:containers': { '.': {}, 'k:{"name":"c"}': { '.': {}, 'f:image': {}, 'f:name': {}, 'f:resources': { '.': {}, 'f:requests': { '.': {}, 'f:cpu': {} } } } },
      'f:tolerations': {},
    },
  });
  assert.ok(created.modified.isEmpty() && created.removed.isEmpty());
  const deleted = compare(pod, {}, schema);
  assert.deepEqual(fields(deleted.removed), fields(created.added));
  assert.ok(deleted.added.isEmpty() && deleted.modified.isEmpty());

  const changed = compare(pod, { ...pod, spec: { ...pod.spec, containers: [{ name: 'c', image: 'j' }, { name: 'd', image: 'i' }] } }, schema);
  assert.deepEqual(fields(changed.modified), { 'f:spec': { 'f:containers': { 'k:{"name":"c"}': { 'f:image': {} } } } });
  assert.deepEqual(fields(changed.added), { 'f:spec': { 'f:containers': { 'k:{"name":"d"}': { '.': {}, 'f:image': {}, 'f:name': {} } } } });
  // resources is a struct that Go always has: emptied, not removed; what it held is.
  assert.deepEqual(fields(changed.removed), { 'f:spec': { 'f:containers': { 'k:{"name":"c"}': { 'f:resources': { 'f:requests': { '.': {}, 'f:cpu': {} } } } } } });
});

test('compare: a field named like an Object.prototype member is still a field', () => {
  const changes = compare({ data: { a: '1' } }, { data: { a: '1', constructor: 'x', toString: 'y' } }, schemaForGvk('v1/ConfigMap'));
  assert.deepEqual(fields(changes.added), { 'f:data': { 'f:constructor': {}, 'f:toString': {} } });
});
