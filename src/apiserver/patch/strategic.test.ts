import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyStrategicMergePatch, PatchError, supportsStrategicMerge } from './index.ts';

const podGvk = 'v1/Pod';

interface Case {
  name: string;
  gvk?: string;
  original: unknown;
  patch: unknown;
  expected: unknown;
}

const pod = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', ...metadata },
  spec,
});

const cases: Case[] = [
  {
    name: 'add, replace and delete (null) map keys',
    original: { metadata: { labels: { a: '1', b: '2' } } },
    patch: { metadata: { labels: { a: 'x', b: null, c: '3' } } },
    expected: { metadata: { labels: { a: 'x', c: '3' } } },
  },
  {
    name: 'null for a missing key is ignored (IgnoreUnmatchedNulls)',
    original: { metadata: {} },
    patch: { metadata: { labels: null, annotations: { a: null, b: '1' } } },
    expected: { metadata: { annotations: { b: '1' } } },
  },
  {
    name: '$patch: replace on a map replaces it',
    original: { metadata: { labels: { a: '1', b: '2' } } },
    patch: { metadata: { labels: { $patch: 'replace', c: '3' } } },
    expected: { metadata: { labels: { c: '3' } } },
  },
  {
    name: '$patch: delete on a map empties it',
    original: { metadata: { labels: { a: '1' } } },
    patch: { metadata: { labels: { $patch: 'delete' } } },
    expected: { metadata: { labels: {} } },
  },
  {
    // Patch items unknown to the live list go before server-only items (upstream mergeSortedSlice).
    name: 'finalizers: primitive merge list is a union ordered by the patch, new items first',
    original: { metadata: { finalizers: ['a', 'b'] } },
    patch: { metadata: { finalizers: ['c', 'b'] } },
    expected: { metadata: { finalizers: ['c', 'a', 'b'] } },
  },
  {
    name: '$deleteFromPrimitiveList removes finalizers',
    original: { metadata: { finalizers: ['a', 'b', 'c'] } },
    patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } },
    expected: { metadata: { finalizers: ['a', 'c'] } },
  },
  {
    name: '$deleteFromPrimitiveList on a missing list adds nothing',
    original: { metadata: {} },
    patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } },
    expected: { metadata: {} },
  },
  {
    name: 'finalizers: null removes the list (kubectl three-way patch)',
    original: { metadata: { finalizers: ['a'] } },
    patch: { metadata: { finalizers: null } },
    expected: { metadata: {} },
  },
  {
    name: '$setElementOrder with $deleteFromPrimitiveList (kubectl apply removing a finalizer)',
    original: { metadata: { finalizers: ['x', 'a', 'b'] } },
    patch: { metadata: { '$setElementOrder/finalizers': ['b', 'x'], '$deleteFromPrimitiveList/finalizers': ['a'] } },
    expected: { metadata: { finalizers: ['b', 'x'] } },
  },
  {
    name: 'containers merge by name; other containers kept',
    original: pod({ containers: [{ name: 'a', image: 'a:1' }, { name: 'b', image: 'b:1' }] }),
    patch: { spec: { containers: [{ name: 'b', image: 'b:2' }] } },
    expected: pod({ containers: [{ name: 'a', image: 'a:1' }, { name: 'b', image: 'b:2' }] }),
  },
  {
    name: 'new container without $setElementOrder goes first; its nulls are dropped',
    original: pod({ containers: [{ name: 'a', image: 'a:1' }] }),
    patch: { spec: { containers: [{ name: 'c', image: 'c:1', resources: null }] } },
    expected: pod({ containers: [{ name: 'c', image: 'c:1' }, { name: 'a', image: 'a:1' }] }),
  },
  {
    name: 'new container with $setElementOrder (what kubectl sends) goes where the order says',
    original: pod({ containers: [{ name: 'a', image: 'a:1' }] }),
    patch: { spec: { '$setElementOrder/containers': [{ name: 'a' }, { name: 'c' }], containers: [{ name: 'c', image: 'c:1' }] } },
    expected: pod({ containers: [{ name: 'a', image: 'a:1' }, { name: 'c', image: 'c:1' }] }),
  },
  {
    name: 'list item {$patch: delete} removes by merge key',
    original: pod({ containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }),
    patch: { spec: { containers: [{ $patch: 'delete', name: 'b' }] } },
    expected: pod({ containers: [{ name: 'a' }, { name: 'c' }] }),
  },
  {
    name: 'list item {$patch: replace} replaces the list with the other patch items',
    original: pod({ containers: [{ name: 'a', image: 'a' }, { name: 'b' }] }),
    patch: { spec: { containers: [{ name: 'z', image: 'z' }, { $patch: 'replace' }] } },
    expected: pod({ containers: [{ name: 'z', image: 'z' }] }),
  },
  {
    name: 'kubectl client-side apply patch: $setElementOrder, item delete, label null, last-applied',
    original: pod(
      {
        containers: [
          { name: 'app', image: 'nginx:1.25', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
          { name: 'sidecar', image: 'busybox' },
        ],
        tolerations: [{ key: 'k', operator: 'Exists' }],
      },
      { labels: { app: 'web', tier: 'front' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'old' } },
    ),
    patch: {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'new' }, labels: { tier: null } },
      spec: {
        '$setElementOrder/containers': [{ name: 'app' }],
        containers: [
          { '$setElementOrder/env': [{ name: 'B' }, { name: 'A' }], env: [{ name: 'B', value: '3' }], image: 'nginx:1.26', name: 'app' },
          { $patch: 'delete', name: 'sidecar' },
        ],
      },
    },
    expected: pod(
      {
        containers: [{ name: 'app', image: 'nginx:1.26', env: [{ name: 'B', value: '3' }, { name: 'A', value: '1' }] }],
        tolerations: [{ key: 'k', operator: 'Exists' }],
      },
      { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'new' } },
    ),
  },
  {
    name: '$setElementOrder reorders: server-only items keep their live position relative to patch items',
    original: pod({ containers: [{ name: '1' }, { name: '2' }, { name: '3' }] }),
    patch: { spec: { '$setElementOrder/containers': [{ name: '3' }, { name: '1' }], containers: [{ name: '3', image: 'x' }] } },
    expected: pod({ containers: [{ name: '2' }, { name: '3', image: 'x' }, { name: '1' }] }),
  },
  {
    name: '$setElementOrder alone reorders the live list',
    original: pod({ containers: [{ name: 'a' }, { name: 'b' }] }),
    patch: { spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }] } },
    expected: pod({ containers: [{ name: 'b' }, { name: 'a' }] }),
  },
  {
    name: 'tolerations have no strategy: replaced whole',
    original: pod({ tolerations: [{ key: 'a' }, { key: 'b' }] }),
    patch: { spec: { tolerations: [{ key: 'c' }] } },
    expected: pod({ tolerations: [{ key: 'c' }] }),
  },
  {
    name: 'container ports merge by containerPort, volumeMounts by mountPath',
    original: pod({
      containers: [{ name: 'a', ports: [{ containerPort: 80 }, { containerPort: 443 }], volumeMounts: [{ name: 'v', mountPath: '/d' }] }],
    }),
    patch: { spec: { containers: [{ name: 'a', ports: [{ containerPort: 80, name: 'http' }], volumeMounts: [{ mountPath: '/d', readOnly: true }] }] } },
    expected: pod({
      containers: [
        {
          name: 'a',
          ports: [{ containerPort: 80, name: 'http' }, { containerPort: 443 }],
          volumeMounts: [{ name: 'v', mountPath: '/d', readOnly: true }],
        },
      ],
    }),
  },
  {
    name: 'volumes $retainKeys clears the other volume source',
    original: pod({ volumes: [{ name: 'data', emptyDir: {} }, { name: 'other', emptyDir: {} }] }),
    patch: { spec: { volumes: [{ $retainKeys: ['name', 'persistentVolumeClaim'], name: 'data', persistentVolumeClaim: { claimName: 'c' } }] } },
    expected: pod({ volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'c' } }, { name: 'other', emptyDir: {} }] }),
  },
  {
    name: 'ownerReferences merge by uid',
    original: { metadata: { ownerReferences: [{ uid: '1', name: 'a' }] } },
    patch: { metadata: { ownerReferences: [{ uid: '2', name: 'b' }] } },
    expected: { metadata: { ownerReferences: [{ uid: '2', name: 'b' }, { uid: '1', name: 'a' }] } },
  },
  {
    name: 'node status conditions and addresses merge by type; taints replaced',
    gvk: 'v1/Node',
    original: {
      spec: { taints: [{ key: 'a', effect: 'NoSchedule' }] },
      status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'DiskPressure', status: 'False' }], addresses: [{ type: 'Hostname', address: 'n' }] },
    },
    patch: {
      spec: { taints: [] },
      status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] },
    },
    expected: {
      spec: { taints: [] },
      status: {
        conditions: [{ type: 'Ready', status: 'True' }, { type: 'DiskPressure', status: 'False' }],
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'n' }],
      },
    },
  },
  {
    name: 'PVC status conditions merge by type; accessModes replaced',
    gvk: 'v1/PersistentVolumeClaim',
    original: { spec: { accessModes: ['ReadWriteOnce'] }, status: { conditions: [{ type: 'Resizing', status: 'True' }] } },
    patch: { spec: { accessModes: ['ReadOnlyMany'] }, status: { conditions: [{ type: 'FileSystemResizePending', status: 'True' }] } },
    expected: {
      spec: { accessModes: ['ReadOnlyMany'] },
      status: { conditions: [{ type: 'FileSystemResizePending', status: 'True' }, { type: 'Resizing', status: 'True' }] },
    },
  },
  {
    name: 'CSINode drivers merge by name',
    gvk: 'storage.k8s.io/v1/CSINode',
    original: { spec: { drivers: [{ name: 'a', nodeID: 'n', topologyKeys: ['zone'] }] } },
    patch: { spec: { drivers: [{ name: 'b', nodeID: 'n' }] } },
    expected: { spec: { drivers: [{ name: 'b', nodeID: 'n' }, { name: 'a', nodeID: 'n', topologyKeys: ['zone'] }] } },
  },
  {
    name: 'a value of another type replaces the original',
    original: { spec: { x: { a: 1 } } },
    patch: { spec: { x: ['a'] } },
    expected: { spec: { x: ['a'] } },
  },
  {
    name: 'null patch is a no-op',
    original: { a: 1 },
    patch: null,
    expected: { a: 1 },
  },
];

for (const c of cases) {
  test(`strategic merge patch: ${c.name}`, () => {
    const original = structuredClone(c.original);
    assert.deepEqual(applyStrategicMergePatch(original, c.patch, c.gvk ?? podGvk), c.expected);
    assert.deepEqual(original, c.original, 'the original is not mutated');
  });
}

interface ErrorCase {
  name: string;
  original: unknown;
  patch: unknown;
  code: number;
  reason: string;
  message: string | RegExp;
}

const errorCases: ErrorCase[] = [
  {
    name: 'patch that is not an object',
    original: {},
    patch: [1],
    code: 400,
    reason: 'BadRequest',
    message: 'json: cannot unmarshal array into Go value of type map[string]interface {}',
  },
  {
    name: '$retainKeys not a list',
    original: pod({ volumes: [{ name: 'v' }] }),
    patch: { spec: { volumes: [{ name: 'v', $retainKeys: 'name' }] } },
    code: 400,
    reason: 'BadRequest',
    message: 'invalid patch format of retainKeys',
  },
  {
    name: 'patch sets a field missing from $retainKeys',
    original: pod({ volumes: [{ name: 'v' }] }),
    patch: { spec: { volumes: [{ name: 'v', emptyDir: {}, $retainKeys: ['name'] }] } },
    code: 400,
    reason: 'BadRequest',
    message: 'invalid patch format of retainKeys',
  },
  {
    name: 'malformed $deleteFromPrimitiveList key',
    original: { metadata: { finalizers: ['a'] } },
    patch: { metadata: { $deleteFromPrimitiveListfinalizers: ['a'] } },
    code: 400,
    reason: 'BadRequest',
    message: 'invalid patch format of primitive list',
  },
  {
    name: 'malformed $setElementOrder key',
    original: { metadata: { finalizers: ['a'] } },
    patch: { metadata: { $setElementOrderfinalizers: ['a'] } },
    code: 400,
    reason: 'BadRequest',
    message: 'invalid patch format of setElementOrder list',
  },
  {
    name: 'lists of lists',
    original: { metadata: { finalizers: [] } },
    patch: { metadata: { finalizers: [['b']] } },
    code: 422,
    reason: 'Invalid',
    message: 'the server rejected our request due to an error in our request',
  },
  {
    name: 'list items of different types',
    original: { metadata: { finalizers: ['a'] } },
    patch: { metadata: { finalizers: [['b']] } },
    code: 500,
    reason: '',
    message: 'list element types are not identical: [[a] [[b]]]',
  },
  {
    name: 'list item without its merge key',
    original: pod({ containers: [{ name: 'a' }] }),
    patch: { spec: { containers: [{ image: 'x' }] } },
    code: 500,
    reason: '',
    message: 'map: map[image:x] does not contain declared merge key: name',
  },
  {
    name: '$patch: merge on a map',
    original: { metadata: { labels: { a: '1' } } },
    patch: { metadata: { labels: { $patch: 'merge', b: '2' } } },
    code: 500,
    reason: '',
    message: 'unknown patch type: merge in map: map[$patch:merge b:2]',
  },
  {
    name: '$patch: merge as a list item',
    original: pod({ containers: [{ name: 'a' }] }),
    patch: { spec: { containers: [{ $patch: 'merge' }] } },
    code: 500,
    reason: '',
    message: 'merging lists cannot yet be specified in the patch',
  },
  {
    name: 'patch list out of $setElementOrder',
    original: pod({ containers: [{ name: 'a' }, { name: 'b' }] }),
    patch: { spec: { '$setElementOrder/containers': [{ name: 'a' }], containers: [{ name: 'b', image: 'x' }] } },
    code: 500,
    reason: '',
    message: /^the order in patch list:\n\[map\[image:x name:b\]\]\n doesn't match \$setElementOrder list:\n\[map\[name:a\]\]$/,
  },
];

for (const c of errorCases) {
  test(`strategic merge patch error: ${c.name}`, () => {
    assert.throws(
      () => applyStrategicMergePatch(c.original, c.patch, podGvk),
      (err: unknown) => {
        assert.ok(err instanceof PatchError);
        assert.equal(err.code, c.code);
        assert.equal(err.reason, c.reason);
        if (typeof c.message === 'string') assert.equal(err.message, c.message);
        else assert.match(err.message, c.message);
        return true;
      },
    );
  });
}

test('supportsStrategicMerge: built-in groups yes, snapshot CRDs no', () => {
  assert.equal(supportsStrategicMerge('v1/Pod'), true);
  assert.equal(supportsStrategicMerge('storage.k8s.io/v1/StorageClass'), true);
  assert.equal(supportsStrategicMerge('coordination.k8s.io/v1/Lease'), true);
  assert.equal(supportsStrategicMerge('snapshot.storage.k8s.io/v1/VolumeSnapshot'), false);
  assert.equal(supportsStrategicMerge('snapshot.storage.k8s.io/v1/VolumeSnapshotContent'), false);
});
