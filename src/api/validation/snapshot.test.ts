import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareForCreate, validateCreate, validateStatusUpdate, validateUpdate } from './index.ts';
import { kube, messages, subdomainMsg } from './test-helpers.ts';

const VS = 'snapshot.storage.k8s.io/v1/VolumeSnapshot';
const VSC = 'snapshot.storage.k8s.io/v1/VolumeSnapshotContent';
const VSCLASS = 'snapshot.storage.k8s.io/v1/VolumeSnapshotClass';

const snapshot = (spec: unknown) => kube({ metadata: { name: 'snap', namespace: 'default', resourceVersion: '1' }, spec });
const content = (spec: Record<string, unknown>) =>
  kube({
    metadata: { name: 'snapcontent-1', resourceVersion: '1' },
    spec: { driver: 'strata.csi.example.com', deletionPolicy: 'Delete', source: { volumeHandle: 'vol-1' }, volumeSnapshotRef: { name: 'snap', namespace: 'default' }, ...spec },
  });

// The CEL rules and OpenAPI schema of external-snapshotter's CRDs, reported the way kube-apiserver does.
test('VolumeSnapshot create', () => {
  const cases: Array<[string, unknown, string[]]> = [
    ['from a PVC', { source: { persistentVolumeClaimName: 'data' }, volumeSnapshotClassName: 'csi' }, []],
    ['from a content', { source: { volumeSnapshotContentName: 'c' } }, []],
    ['both sources', { source: { persistentVolumeClaimName: 'a', volumeSnapshotContentName: 'b' } }, [
      'spec.source: Invalid value: "object": exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set',
    ]],
    ['no source name', { source: {} }, ['spec.source: Invalid value: "object": exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set']],
    ['no source', {}, ['spec.source: Required value']],
    ['empty class name', { source: { persistentVolumeClaimName: 'a' }, volumeSnapshotClassName: '' }, [
      'spec.volumeSnapshotClassName: Invalid value: "string": volumeSnapshotClassName must not be the empty string when set',
    ]],
    ['wrong type', { source: { persistentVolumeClaimName: 7 } }, [
      'spec.source.persistentVolumeClaimName: Invalid value: "integer": spec.source.persistentVolumeClaimName in body must be of type string: "integer"',
    ]],
  ];
  for (const [name, spec, expected] of cases) assert.deepEqual(messages(validateCreate(VS, snapshot(spec))), expected, name);
  assert.deepEqual(messages(validateCreate(VS, kube({ metadata: { name: 'Snap', namespace: 'default' }, spec: { source: { persistentVolumeClaimName: 'a' } } }))), [
    `metadata.name: Invalid value: "Snap": ${subdomainMsg}`,
  ]);
  assert.deepEqual(messages(validateCreate(VS, kube({ metadata: { name: 's', namespace: 'default' } }))), ['spec: Required value']);
});

test('VolumeSnapshot source is immutable', () => {
  const old = snapshot({ source: { persistentVolumeClaimName: 'a' } });
  assert.deepEqual(messages(validateUpdate(VS, snapshot({ source: { persistentVolumeClaimName: 'b' } }), old)), [
    'spec.source.persistentVolumeClaimName: Invalid value: "string": persistentVolumeClaimName is immutable',
  ]);
  assert.deepEqual(messages(validateUpdate(VS, snapshot({ source: { volumeSnapshotContentName: 'c' } }), old)), [
    'spec.source: Invalid value: "object": persistentVolumeClaimName is required once set',
  ]);
  assert.deepEqual(messages(validateUpdate(VS, snapshot({ source: { persistentVolumeClaimName: 'a' }, volumeSnapshotClassName: 'x' }), old)), []);
});

test('VolumeSnapshot status update checks the status schema', () => {
  const old = snapshot({ source: { persistentVolumeClaimName: 'a' } });
  const updated = { ...old, status: { readyToUse: true, restoreSize: '1Gi', creationTime: '2024-01-02T03:04:05Z' } };
  assert.deepEqual(messages(validateStatusUpdate(VS, kube(updated), old)), []);
  const bad = { ...old, status: { readyToUse: 'yes', restoreSize: 'lots' } };
  assert.deepEqual(messages(validateStatusUpdate(VS, kube(bad), old)), [
    'status.readyToUse: Invalid value: "string": status.readyToUse in body must be of type boolean: "string"',
    "status.restoreSize: Invalid value: \"lots\": status.restoreSize in body should match '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$'",
  ]);
  const withStatus = snapshot({ source: { persistentVolumeClaimName: 'a' } });
  withStatus.status = { readyToUse: true };
  prepareForCreate(VS, withStatus);
  assert.equal(withStatus.status, undefined);
});

test('VolumeSnapshotContent create and update', () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['dynamic', {}, []],
    ['pre-provisioned', { source: { snapshotHandle: 'h' } }, []],
    ['both handles', { source: { volumeHandle: 'v', snapshotHandle: 'h' } }, [
      'spec.source: Invalid value: "object": exactly one of volumeHandle and snapshotHandle must be set',
    ]],
    ['bad deletion policy', { deletionPolicy: 'Keep' }, ['spec.deletionPolicy: Unsupported value: "Keep": supported values: "Delete", "Retain"']],
    ['ref without namespace', { volumeSnapshotRef: { name: 'snap' } }, [
      'spec.volumeSnapshotRef: Invalid value: "object": both spec.volumeSnapshotRef.name and spec.volumeSnapshotRef.namespace must be set',
    ]],
  ];
  for (const [name, spec, expected] of cases) assert.deepEqual(messages(validateCreate(VSC, content(spec))), expected, name);
  assert.deepEqual(messages(validateCreate(VSC, kube({ metadata: { name: 'c' }, spec: {} }))), [
    'spec.deletionPolicy: Required value',
    'spec.driver: Required value',
    'spec.source: Required value',
    'spec.volumeSnapshotRef: Required value',
  ]);
  assert.deepEqual(messages(validateCreate(VSC, kube({ metadata: { name: 'c', namespace: 'x' }, spec: content({}).spec }))), ['metadata.namespace: Forbidden: not allowed on this type']);

  assert.deepEqual(messages(validateUpdate(VSC, content({ source: { volumeHandle: 'vol-2' } }), content({}))), [
    'spec.source.volumeHandle: Invalid value: "string": Spec.Source.VolumeHandle is immutable',
  ]);
  assert.deepEqual(messages(validateUpdate(VSC, content({ sourceVolumeMode: 'Block' }), content({ sourceVolumeMode: 'Filesystem' }))), [
    'spec.sourceVolumeMode: Invalid value: "string": Spec.sourceVolumeMode is immutable',
  ]);
  assert.deepEqual(messages(validateUpdate(VSC, content({}), content({ sourceVolumeMode: 'Filesystem' }))), [
    'spec: Invalid value: "object": sourceVolumeMode is required once set',
  ]);
  // deletionPolicy may change (the snapshot controller flips it on class changes).
  assert.deepEqual(messages(validateUpdate(VSC, content({ deletionPolicy: 'Retain' }), content({}))), []);
  const negative = { ...content({}), status: { restoreSize: -1 } };
  assert.deepEqual(messages(validateStatusUpdate(VSC, kube(negative), content({}))), [
    'status.restoreSize: Invalid value: -1: status.restoreSize in body should be greater than or equal to 0',
  ]);
});

test('VolumeSnapshotClass', () => {
  const cls = (fields: Record<string, unknown>) => kube({ metadata: { name: 'csi-snap', resourceVersion: '1' }, driver: 'd.example.com', deletionPolicy: 'Delete', ...fields });
  assert.deepEqual(messages(validateCreate(VSCLASS, cls({ parameters: { a: 'b' } }))), []);
  assert.deepEqual(messages(validateCreate(VSCLASS, kube({ metadata: { name: 'x' } }))), ['deletionPolicy: Required value', 'driver: Required value']);
  assert.deepEqual(messages(validateCreate(VSCLASS, cls({ deletionPolicy: 'Never' }))), ['deletionPolicy: Unsupported value: "Never": supported values: "Delete", "Retain"']);
  assert.deepEqual(messages(validateCreate(VSCLASS, cls({ parameters: { a: 1 } }))), [
    'parameters.a: Invalid value: "integer": parameters.a in body must be of type string: "integer"',
  ]);
  assert.deepEqual(messages(validateUpdate(VSCLASS, cls({ parameters: { a: 'c' } }), cls({ parameters: { a: 'b' } }))), []);
});
