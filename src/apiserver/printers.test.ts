import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/types.ts';
import { humanDuration, tableColumns, tableRow } from './printers.ts';

const now = new Date('2024-05-01T12:00:00Z');
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();
const names = (kind: string) => tableColumns(kind).map((c) => (c.priority ? `${c.name}*` : c.name));

// TestHumanDuration (k8s.io/apimachinery/pkg/util/duration).
test('TestHumanDuration', () => {
  const cases: Array<[number, string]> = [
    [-2, '<invalid>'], [-1, '0s'], [0, '0s'], [1, '1s'], [119, '119s'], [120, '2m'], [192, '3m12s'], [600, '10m'],
    [179 * 60, '179m'], [3 * 3600, '3h'], [3 * 3600 + 60, '3h1m'], [8 * 3600, '8h'], [47 * 3600, '47h'], [48 * 3600, '2d'],
    [49 * 3600, '2d1h'], [8 * 86400, '8d'], [729 * 86400, '729d'], [730 * 86400, '2y'], [731 * 86400, '2y1d'], [8 * 365 * 86400, '8y'],
  ];
  for (const [seconds, expected] of cases) assert.equal(humanDuration(seconds * 1000), expected, String(seconds));
});

test('column sets as kubectl get shows them (priority 1 marked *)', () => {
  assert.deepEqual(names('PersistentVolumeClaim'), ['Name', 'Status', 'Volume', 'Capacity', 'Access Modes', 'StorageClass', 'VolumeAttributesClass', 'Age', 'VolumeMode*']);
  assert.deepEqual(names('PersistentVolume'), ['Name', 'Capacity', 'Access Modes', 'Reclaim Policy', 'Status', 'Claim', 'StorageClass', 'VolumeAttributesClass', 'Reason', 'Age', 'VolumeMode*']);
  assert.deepEqual(names('Pod'), ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP*', 'Node*', 'Nominated Node*', 'Readiness Gates*']);
  assert.deepEqual(names('Event'), ['Last Seen', 'Type', 'Reason', 'Object', 'Subobject*', 'Source*', 'Message', 'First Seen*', 'Count*', 'Name*']);
  assert.deepEqual(names('VolumeSnapshot'), ['Name', 'ReadyToUse', 'SourcePVC', 'SourceSnapshotContent', 'RestoreSize', 'SnapshotClass', 'SnapshotContent', 'CreationTime', 'Age']);
  assert.deepEqual(names('Widget'), ['Name', 'Created At']);
  const age = tableColumns('VolumeSnapshotClass').at(-1)!;
  assert.deepEqual(age, { name: 'Age', type: 'date', format: '', priority: 0, description: 'Custom resource definition column (in JSONPath format): .metadata.creationTimestamp' });
  assert.equal(tableColumns('Pod')[0]!.format, 'name');
});

test('PersistentVolumeClaim rows', () => {
  const pending: KubeObject = {
    metadata: { name: 'data', namespace: 'demo', creationTimestamp: ago(45) },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'zonal', volumeMode: 'Filesystem' },
    status: { phase: 'Pending' },
  };
  assert.deepEqual(tableRow('PersistentVolumeClaim', pending, now), ['data', 'Pending', '', '', '', 'zonal', '<unset>', '45s', 'Filesystem']);
  const bound: KubeObject = {
    ...pending,
    spec: { ...(pending['spec'] as object), volumeName: 'pvc-123' },
    status: { phase: 'Bound', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'], capacity: { storage: '1024Mi' } },
  };
  assert.deepEqual(tableRow('PersistentVolumeClaim', bound, now), ['data', 'Bound', 'pvc-123', '1Gi', 'RWO,ROX', 'zonal', '<unset>', '45s', 'Filesystem']);
  const deleting = { ...bound, metadata: { ...bound.metadata, deletionTimestamp: ago(1), annotations: { 'volume.beta.kubernetes.io/storage-class': 'legacy' } } };
  assert.deepEqual(tableRow('PersistentVolumeClaim', deleting, now).slice(0, 6), ['data', 'Terminating', 'pvc-123', '1Gi', 'RWO,ROX', 'legacy']);
});

test('PersistentVolume rows', () => {
  const pv: KubeObject = {
    metadata: { name: 'pvc-123', creationTimestamp: ago(3 * 3600 + 120) },
    spec: {
      capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOncePod', 'ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: 'zonal', volumeMode: 'Block', claimRef: { namespace: 'demo', name: 'data' },
    },
    status: { phase: 'Bound' },
  };
  assert.deepEqual(tableRow('PersistentVolume', pv, now), ['pvc-123', '5Gi', 'RWO,RWOP', 'Delete', 'Bound', 'demo/data', 'zonal', '<unset>', '', '3h2m', 'Block']);
  const bare: KubeObject = { metadata: { name: 'x' }, spec: {}, status: { phase: 'Available' } };
  assert.deepEqual(tableRow('PersistentVolume', bare, now), ['x', '0', '', '', 'Available', '', '', '<unset>', '', '<unknown>', '<unset>']);
});

const running = (name: string, restartCount = 0) => ({ name, ready: true, restartCount, state: { running: { startedAt: ago(60) } } });

test('Pod rows (printPod)', () => {
  const base = { metadata: { name: 'web', namespace: 'demo', creationTimestamp: ago(300) }, spec: { containers: [{ name: 'a' }, { name: 'b' }], nodeName: 'node-a' } };
  const cases: Array<[string, Record<string, unknown>, Partial<KubeObject['metadata']>, unknown[]]> = [
    ['running', { phase: 'Running', podIP: '10.1.0.4', containerStatuses: [running('a'), running('b')] }, {}, ['web', '2/2', 'Running', '0', '5m']],
    ['pending unscheduled', { phase: 'Pending' }, {}, ['web', '0/2', 'Pending', '0', '5m']],
    ['container creating', { phase: 'Pending', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }, running('b')] }, {}, ['web', '1/2', 'ContainerCreating', '0', '5m']],
    ['completed', { phase: 'Succeeded', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }, {}, ['web', '0/2', 'Completed', '0', '5m']],
    ['completed next to running, not ready', { phase: 'Running', containerStatuses: [running('a'), { name: 'b', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }, {}, ['web', '1/2', 'NotReady', '0', '5m']],
    ['exit code', { phase: 'Running', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 2 } } }] }, {}, ['web', '0/2', 'ExitCode:2', '0', '5m']],
    ['terminating', { phase: 'Running', containerStatuses: [running('a'), running('b')] }, { deletionTimestamp: ago(5) }, ['web', '2/2', 'Terminating', '0', '5m']],
    ['node lost', { phase: 'Running', reason: 'NodeLost' }, { deletionTimestamp: ago(5) }, ['web', '0/2', 'Unknown', '0', '5m']],
    ['restarts with last restart', { phase: 'Running', containerStatuses: [{ ...running('a', 3), lastState: { terminated: { exitCode: 1, finishedAt: ago(192) } } }, running('b')] }, {}, ['web', '2/2', 'Running', '3 (3m12s ago)', '5m']],
  ];
  for (const [title, status, metadata, expected] of cases) {
    const pod: KubeObject = { ...base, metadata: { ...base.metadata, ...metadata }, status };
    assert.deepEqual(tableRow('Pod', pod, now).slice(0, 5), expected, title);
  }
  const wide = tableRow('Pod', { ...base, status: { phase: 'Running', podIPs: [{ ip: '10.1.0.4' }] } }, now).slice(5);
  assert.deepEqual(wide, ['10.1.0.4', 'node-a', '<none>', '<none>']);
});

test('Pod init containers', () => {
  const base = { metadata: { name: 'job', creationTimestamp: ago(10) }, spec: { initContainers: [{ name: 'i1' }, { name: 'i2' }], containers: [{ name: 'a' }] } };
  const row = (status: Record<string, unknown>) => tableRow('Pod', { ...base, status }, now).slice(1, 3);
  assert.deepEqual(row({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', ready: false, restartCount: 0, state: { running: {} } }] }), ['0/1', 'Init:0/2']);
  assert.deepEqual(row({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } }, { name: 'i2', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff' } } }] }), ['0/1', 'Init:ImagePullBackOff']);
  assert.deepEqual(row({ phase: 'Pending', initContainerStatuses: [{ name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error' } } }] }), ['0/1', 'Init:Error']);
});

test('Node rows', () => {
  const node: KubeObject = {
    metadata: { name: 'node-a', creationTimestamp: ago(9 * 86400), labels: { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/role': 'worker' } },
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'Ready', status: 'False' }], addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
      nodeInfo: { kubeletVersion: 'v1.32.0-strata', osImage: 'Strata' },
    },
  };
  assert.deepEqual(tableRow('Node', node, now), ['node-a', 'NotReady,SchedulingDisabled', 'control-plane,worker', '9d', 'v1.32.0-strata', '10.0.0.1', '<none>', 'Strata', '<unknown>', '<unknown>']);
  assert.equal(tableRow('Node', { metadata: { name: 'n' } }, now)[1], 'Unknown');
});

test('StorageClass, CSI and other built-in rows', () => {
  assert.deepEqual(
    tableRow('StorageClass', { metadata: { name: 'zonal', creationTimestamp: ago(60), annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'strata.csi.io', volumeBindingMode: 'WaitForFirstConsumer' }, now),
    ['zonal (default)', 'strata.csi.io', 'Delete', 'WaitForFirstConsumer', false, '60s'],
  );
  assert.deepEqual(tableRow('CSINode', { metadata: { name: 'node-a', creationTimestamp: ago(1) }, spec: { drivers: [{ name: 'd', nodeID: 'n' }] } }, now), ['node-a', 1, '1s']);
  assert.deepEqual(
    tableRow('CSIDriver', { metadata: { name: 'strata.csi.io', creationTimestamp: ago(2) }, spec: { attachRequired: false, volumeLifecycleModes: ['Persistent'] } }, now),
    ['strata.csi.io', false, false, false, '<unset>', false, 'Persistent', '2s'],
  );
  assert.deepEqual(tableRow('CSIStorageCapacity', { metadata: { name: 'csisc-1' }, storageClassName: 'zonal', capacity: '10240Mi' }, now), ['csisc-1', 'zonal', '10Gi']);
  // A canonical decimal string is printed as stored, as upstream's Quantity keeps it.
  assert.deepEqual(tableRow('CSIStorageCapacity', { metadata: { name: 'csisc-1' }, storageClassName: 'zonal', capacity: '10737418240' }, now)[2], '10737418240');
  assert.deepEqual(tableRow('CSIStorageCapacity', { metadata: { name: 'csisc-2' }, storageClassName: 'zonal' }, now), ['csisc-2', 'zonal', '<unset>']);
  assert.deepEqual(
    tableRow('VolumeAttachment', { metadata: { name: 'csi-abc', creationTimestamp: ago(3) }, spec: { attacher: 'strata.csi.io', nodeName: 'node-a', source: { persistentVolumeName: 'pv1' } }, status: { attached: true } }, now),
    ['csi-abc', 'strata.csi.io', 'pv1', 'node-a', true, '3s'],
  );
  assert.deepEqual(tableRow('Lease', { metadata: { name: 'node-a', creationTimestamp: ago(4) }, spec: { holderIdentity: 'node-a' } }, now), ['node-a', 'node-a', '4s']);
  assert.deepEqual(tableRow('Secret', { metadata: { name: 's', creationTimestamp: ago(5) }, type: 'Opaque', data: { a: 'eA==', b: 'eQ==' } }, now), ['s', 'Opaque', 2, '5s']);
  assert.deepEqual(tableRow('ConfigMap', { metadata: { name: 'c', creationTimestamp: ago(5) }, data: { a: 'x' }, binaryData: { b: 'eQ==' } }, now), ['c', 2, '5s']);
  assert.deepEqual(tableRow('ServiceAccount', { metadata: { name: 'default', creationTimestamp: ago(5) } }, now), ['default', 0, '5s']);
  assert.deepEqual(tableRow('Namespace', { metadata: { name: 'demo', creationTimestamp: ago(5) }, status: { phase: 'Active' } }, now), ['demo', 'Active', '5s']);
});

test('Event rows', () => {
  const event: KubeObject = {
    metadata: { name: 'data.17c', namespace: 'demo' },
    involvedObject: { kind: 'PersistentVolumeClaim', name: 'data', namespace: 'demo' },
    reason: 'WaitForFirstConsumer', message: 'waiting for first consumer to be created before binding\n', type: 'Normal',
    source: { component: 'persistentvolume-controller' }, firstTimestamp: ago(600), lastTimestamp: ago(30), count: 3,
  };
  assert.deepEqual(tableRow('Event', event, now), [
    '30s', 'Normal', 'WaitForFirstConsumer', 'persistentvolumeclaim/data', '', 'persistentvolume-controller',
    'waiting for first consumer to be created before binding', '10m', 3, 'data.17c',
  ]);
  const eventsApi: KubeObject = { metadata: { name: 'e' }, involvedObject: { kind: 'Node' }, eventTime: ago(7), reportingComponent: 'kubelet', reportingInstance: 'node-a' };
  assert.deepEqual(tableRow('Event', eventsApi, now), ['7s', '', '', 'node', '', 'kubelet, node-a', '', '7s', 1, 'e']);
});

test('snapshot CRD rows (additionalPrinterColumns)', () => {
  const snapshot: KubeObject = {
    metadata: { name: 'snap-1', namespace: 'demo', creationTimestamp: ago(125) },
    spec: { source: { persistentVolumeClaimName: 'data' }, volumeSnapshotClassName: 'strata-snap' },
    status: { readyToUse: true, restoreSize: '1Gi', boundVolumeSnapshotContentName: 'snapcontent-1', creationTime: ago(120) },
  };
  assert.deepEqual(tableRow('VolumeSnapshot', snapshot, now), ['snap-1', true, 'data', null, '1Gi', 'strata-snap', 'snapcontent-1', '2m', '2m5s']);
  const fresh: KubeObject = { metadata: { name: 'snap-2', creationTimestamp: ago(1) }, spec: { source: { persistentVolumeClaimName: 'data' } } };
  assert.deepEqual(tableRow('VolumeSnapshot', fresh, now), ['snap-2', null, 'data', null, null, null, null, null, '1s']);
  const content: KubeObject = {
    metadata: { name: 'snapcontent-1', creationTimestamp: ago(125) },
    spec: { deletionPolicy: 'Delete', driver: 'strata.csi.io', volumeSnapshotClassName: 'strata-snap', volumeSnapshotRef: { name: 'snap-1', namespace: 'demo' }, source: { volumeHandle: 'v1' } },
    status: { readyToUse: true, restoreSize: 1073741824, creationTime: 1714564680000000000 },
  };
  assert.deepEqual(tableRow('VolumeSnapshotContent', content, now), ['snapcontent-1', true, 1073741824, 'Delete', 'strata.csi.io', 'strata-snap', 'snap-1', 'demo', '2m5s']);
  assert.deepEqual(tableRow('VolumeSnapshotClass', { metadata: { name: 'strata-snap', creationTimestamp: ago(9) }, driver: 'strata.csi.io', deletionPolicy: 'Retain' }, now), ['strata-snap', 'strata.csi.io', 'Retain', '9s']);
  assert.deepEqual(tableRow('VolumeSnapshot', { ...fresh, status: { creationTime: 'yesterday' } }, now)[7], '<invalid>');
});

test('default table for other kinds', () => {
  assert.deepEqual(tableRow('Widget', { metadata: { name: 'w', creationTimestamp: '2024-04-30T10:20:30.123Z' } }, now), ['w', '2024-04-30T10:20:30Z']);
});
