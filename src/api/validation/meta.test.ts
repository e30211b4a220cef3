import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateCreate, validateUpdate } from './index.ts';
import { kube, labelMsg, messages, subdomainMsg } from './test-helpers.ts';

const cm = (metadata: Record<string, unknown>) => kube({ apiVersion: 'v1', kind: 'ConfigMap', metadata });

// Cases after apimachinery's objectmeta_test.go.
test('ObjectMeta on create', () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['valid', { name: 'a', namespace: 'ns' }, []],
    ['name required', { namespace: 'ns' }, ['metadata.name: Required value: name or generateName is required']],
    ['invalid name', { name: 'A_b', namespace: 'ns' }, [`metadata.name: Invalid value: "A_b": ${subdomainMsg}`]],
    ['invalid generateName', { generateName: 'Ab-', name: 'Ab-xyz12', namespace: 'ns' }, [
      `metadata.generateName: Invalid value: "Ab-": ${subdomainMsg}`,
      `metadata.name: Invalid value: "Ab-xyz12": ${subdomainMsg}`,
    ]],
    ['namespace required', { name: 'a' }, ['metadata.namespace: Required value']],
    ['invalid namespace', { name: 'a', namespace: 'a.b' }, ['metadata.namespace: Invalid value: "a.b": must not contain dots']],
    ['negative generation', { name: 'a', namespace: 'ns', generation: -1 }, ['metadata.generation: Invalid value: -1: must be greater than or equal to 0']],
    ['invalid label value', { name: 'a', namespace: 'ns', labels: { k: 'bad value' } }, [
      "metadata.labels: Invalid value: \"bad value\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]],
    ['annotation key is case-insensitive', { name: 'a', namespace: 'ns', annotations: { 'Example.COM/Key': 'v' } }, []],
    ['annotations too large', { name: 'a', namespace: 'ns', annotations: { a: 'x'.repeat(256 * 1024) } }, ['metadata.annotations: Too long: must have at most 262144 bytes']],
    ['unqualified non-standard finalizer', { name: 'a', namespace: 'ns', finalizers: ['custom'] }, [
      'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
    ]],
    ['orphan and foregroundDeletion', { name: 'a', namespace: 'ns', finalizers: ['orphan', 'foregroundDeletion'] }, [
      'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set',
    ]],
    ['owner reference fields', { name: 'a', namespace: 'ns', ownerReferences: [{ apiVersion: '', kind: '', name: '', uid: '' }] }, [
      'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
      'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
      'metadata.ownerReferences.name: Invalid value: "": must not be empty',
      'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
    ]],
  ];
  for (const [name, metadata, expected] of cases) assert.deepEqual(messages(validateCreate('v1/ConfigMap', cm(metadata))), expected, name);
});

test('cluster-scoped kinds forbid a namespace; Namespace names are DNS labels', () => {
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/StorageClass', kube({ metadata: { name: 'sc', namespace: 'x' }, provisioner: 'p', volumeBindingMode: 'Immediate' }))), [
    'metadata.namespace: Forbidden: not allowed on this type',
  ]);
  assert.deepEqual(messages(validateCreate('v1/Namespace', kube({ metadata: { name: 'Bad' } }))), [`metadata.name: Invalid value: "Bad": ${labelMsg}`]);
});

test('ObjectMeta on update', () => {
  const old = { name: 'a', namespace: 'ns', uid: 'u1', resourceVersion: '1', creationTimestamp: '2024-01-02T03:04:05Z' };
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['unchanged', { ...old }, []],
    ['uid immutable', { ...old, uid: 'u2' }, ['metadata.uid: Invalid value: "u2": field is immutable']],
    ['name immutable', { ...old, name: 'b' }, ['metadata.name: Invalid value: "b": field is immutable']],
    ['creationTimestamp immutable', { ...old, creationTimestamp: '2025-01-02T03:04:05Z' }, [
      'metadata.creationTimestamp: Invalid value: 2025-01-02 03:04:05 +0000 UTC: field is immutable',
    ]],
    ['deletionTimestamp immutable', { ...old, deletionTimestamp: '2025-01-02T03:04:05Z' }, [
      'metadata.deletionTimestamp: Invalid value: 2025-01-02 03:04:05 +0000 UTC: field is immutable',
    ]],
    ['resourceVersion required', { ...old, resourceVersion: '' }, ['metadata.resourceVersion: Invalid value: "": must be specified for an update']],
    ['generation decremented', { ...old, generation: 1 }, []],
  ];
  for (const [name, metadata, expected] of cases) {
    assert.deepEqual(messages(validateUpdate('v1/ConfigMap', cm(metadata), cm(old))), expected, name);
  }
  assert.deepEqual(messages(validateUpdate('v1/ConfigMap', cm({ ...old, generation: 1 }), cm({ ...old, generation: 2 }))), [
    'metadata.generation: Invalid value: 1: must not be decremented',
  ]);
});

test('no new finalizers once deletion started', () => {
  const old = { name: 'a', namespace: 'ns', resourceVersion: '1', deletionTimestamp: '2024-01-02T03:04:05Z', finalizers: ['x.io/a'] };
  assert.deepEqual(messages(validateUpdate('v1/ConfigMap', cm({ ...old, finalizers: ['x.io/a', 'x.io/b'] }), cm(old))), [
    'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"x.io/b"}',
  ]);
});

test('an Event gets only the generic path-segment name check', () => {
  const event = (name: string) => kube({ metadata: { name, namespace: 'default' }, involvedObject: { namespace: 'default' } });
  assert.deepEqual(messages(validateCreate('v1/Event', event('pod.17a1b2c3d4'))), []);
  assert.deepEqual(messages(validateCreate('v1/Event', event('a/b'))), ['metadata.name: Invalid value: "a/b": may not contain \'/\'']);
});
