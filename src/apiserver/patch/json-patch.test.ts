import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptedPatchContentTypes,
  applyJsonPatch,
  applyMergePatch,
  PatchError,
  patchTypeFromContentType,
  unsupportedPatchMediaType,
} from './index.ts';

const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { a: '1' } }, data: { k: 'v' } };

const jsonPatchCases = [
  { name: 'add a label', ops: [{ op: 'add', path: '/metadata/labels/b', value: '2' }], expected: { ...cm, metadata: { ...cm.metadata, labels: { a: '1', b: '2' } } } },
  { name: 'replace data', ops: [{ op: 'replace', path: '/data/k', value: 'w' }], expected: { ...cm, data: { k: 'w' } } },
  { name: 'remove labels', ops: [{ op: 'remove', path: '/metadata/labels' }], expected: { ...cm, metadata: { name: 'c' } } },
  { name: 'passing test then replace', ops: [{ op: 'test', path: '/data/k', value: 'v' }, { op: 'replace', path: '/data/k', value: 'x' }], expected: { ...cm, data: { k: 'x' } } },
  { name: 'null patch', ops: null, expected: cm },
];
for (const c of jsonPatchCases) {
  test(`json patch: ${c.name}`, () => {
    const original = structuredClone(cm);
    assert.deepEqual(applyJsonPatch(original, c.ops), c.expected);
    assert.deepEqual(original, cm, 'the original is not mutated');
  });
}

const jsonPatchErrors = [
  { name: 'failed test', ops: [{ op: 'test', path: '/data/k', value: 'nope' }], code: 422, reason: 'Invalid', message: 'the server rejected our request due to an error in our request' },
  { name: 'remove of a missing path', ops: [{ op: 'remove', path: '/data/missing' }], code: 422, reason: 'Invalid', message: 'the server rejected our request due to an error in our request' },
  { name: 'replace of a missing path', ops: [{ op: 'replace', path: '/spec/x', value: 1 }], code: 422, reason: 'Invalid', message: 'the server rejected our request due to an error in our request' },
  { name: 'unknown op', ops: [{ op: 'frobnicate', path: '/data' }], code: 422, reason: 'Invalid', message: 'the server rejected our request due to an error in our request' },
  { name: 'not a list', ops: { op: 'add' }, code: 400, reason: 'BadRequest', message: 'json: cannot unmarshal object into Go value of type jsonpatch.Patch' },
  { name: 'operation not an object', ops: ['add'], code: 400, reason: 'BadRequest', message: 'json: cannot unmarshal string into Go value of type jsonpatch.Operation' },
  {
    name: 'too many operations',
    ops: Array.from({ length: 10001 }, () => ({ op: 'test', path: '/kind', value: 'ConfigMap' })),
    code: 413,
    reason: 'RequestEntityTooLarge',
    message: 'Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001',
  },
];
for (const c of jsonPatchErrors) {
  test(`json patch error: ${c.name}`, () => {
    assert.throws(() => applyJsonPatch(cm, c.ops), (err: unknown) => {
      assert.ok(err instanceof PatchError);
      assert.equal(err.code, c.code);
      assert.equal(err.reason, c.reason);
      assert.equal(err.message, c.message);
      return true;
    });
  });
}

test('json patch: a failed operation keeps its detail for logs', () => {
  assert.throws(() => applyJsonPatch(cm, [{ op: 'test', path: '/data/k', value: 'nope' }]), (err: unknown) => {
    assert.ok(err instanceof PatchError && typeof err.detail === 'string' && err.detail.length > 0);
    return true;
  });
});

const mergePatchCases = [
  { name: 'RFC 7386: set, replace, delete', original: { a: 'b', c: { d: 'e', f: 'g' } }, patch: { a: 'z', c: { f: null } }, expected: { a: 'z', c: { d: 'e' } } },
  { name: 'lists are replaced', original: { a: [1, 2] }, patch: { a: [3] }, expected: { a: [3] } },
  { name: 'nulls inside added objects are dropped', original: {}, patch: { a: { b: null, c: 1 } }, expected: { a: { c: 1 } } },
  { name: 'nulls inside lists stay, nulls in their objects go', original: {}, patch: { a: [null, { b: null, c: 1 }] }, expected: { a: [null, { c: 1 }] } },
  { name: 'object replaces a scalar', original: { a: 'x' }, patch: { a: { b: 1 } }, expected: { a: { b: 1 } } },
  { name: 'deleting a missing key', original: { a: 1 }, patch: { b: null }, expected: { a: 1 } },
  { name: 'finalizers: null (snapshot kinds)', original: { metadata: { name: 's', finalizers: ['x'] } }, patch: { metadata: { finalizers: null } }, expected: { metadata: { name: 's' } } },
];
for (const c of mergePatchCases) {
  test(`merge patch: ${c.name}`, () => {
    const original = structuredClone(c.original);
    assert.deepEqual(applyMergePatch(original, c.patch), c.expected);
    assert.deepEqual(original, c.original);
  });
}

test('merge patch errors: scalar or null patch is 400 "Invalid JSON Patch", a list is 422', () => {
  for (const patch of [null, 'x', 5]) {
    assert.throws(() => applyMergePatch(cm, patch), (err: unknown) => err instanceof PatchError && err.code === 400 && err.message === 'Invalid JSON Patch');
  }
  assert.throws(() => applyMergePatch(cm, [1]), (err: unknown) => {
    assert.ok(err instanceof PatchError);
    assert.equal(err.code, 422);
    assert.equal(err.reason, 'Invalid');
    assert.match(err.message, /^ "" is invalid: patch: Invalid value: "\[1\]": couldn't get version\/kind; json parse error: json: cannot unmarshal array/);
    return true;
  });
});

test('patchTypeFromContentType', () => {
  const cases: Array<[string, string | undefined]> = [
    ['application/json-patch+json', 'json'],
    ['application/merge-patch+json', 'merge'],
    ['application/strategic-merge-patch+json', 'strategic'],
    ['application/apply-patch+yaml', 'apply'],
    ['application/merge-patch+json; charset=utf-8', 'merge'],
    ['application/apply-patch+cbor', undefined],
    ['application/json', undefined],
    ['constructor', undefined],
  ];
  for (const [ct, expected] of cases) assert.equal(patchTypeFromContentType(ct), expected, ct);
});

test('415 for strategic merge patch on custom kinds lists the accepted types', () => {
  assert.deepEqual(acceptedPatchContentTypes('v1/Pod'), [
    'application/json-patch+json',
    'application/merge-patch+json',
    'application/strategic-merge-patch+json',
    'application/apply-patch+yaml',
  ]);
  const err = unsupportedPatchMediaType('snapshot.storage.k8s.io/v1/VolumeSnapshot');
  assert.equal(err.code, 415);
  assert.equal(
    err.message,
    'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
  );
});
