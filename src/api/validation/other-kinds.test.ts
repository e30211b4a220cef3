import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnknownKindError, applyDefaults, prepareForCreate, servedKinds, unknownFields, validateCreate, validateStatusUpdate, validateUpdate } from './index.ts';
import { kube, messages, subdomainMsg } from './test-helpers.ts';

test('Namespace: defaults, create-time status and finalizer, status phase rules', () => {
  const ns = kube({ metadata: { name: 'team-a' } });
  applyDefaults('v1/Namespace', ns);
  prepareForCreate('v1/Namespace', ns);
  assert.deepEqual(ns.metadata.labels, { 'kubernetes.io/metadata.name': 'team-a' });
  assert.deepEqual(ns.spec, { finalizers: ['kubernetes'] });
  assert.deepEqual(ns.status, { phase: 'Active' });
  assert.deepEqual(messages(validateCreate('v1/Namespace', ns)), []);
  const old = kube({ ...ns, metadata: { ...ns.metadata, resourceVersion: '1' } });
  const terminating = kube({ ...old, status: { phase: 'Terminating' } });
  assert.deepEqual(messages(validateStatusUpdate('v1/Namespace', terminating, old)), ["status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]);
  assert.deepEqual(messages(validateCreate('v1/Namespace', kube({ metadata: { name: 'x' }, spec: { finalizers: ['custom'] } }))), [
    'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
  ]);
});

test('Node: taints and resources', () => {
  const node = (spec: Record<string, unknown>, status: Record<string, unknown> = {}) => kube({ metadata: { name: 'node-1', resourceVersion: '1' }, spec, status });
  assert.deepEqual(messages(validateCreate('v1/Node', node({ taints: [{ key: 'k', effect: 'NoSchedule' }] }, { capacity: { cpu: '4' } }))), []);
  assert.deepEqual(messages(validateCreate('v1/Node', node({ taints: [{ key: 'k', effect: 'Maybe' }] }))), [
    'metadata.taints[0].effect: Unsupported value: "Maybe": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
  ]);
  assert.deepEqual(messages(validateCreate('v1/Node', node({ taints: [{ key: 'k', effect: 'NoSchedule' }, { key: 'k', value: 'v', effect: 'NoSchedule' }] }))), [
    'metadata.taints[1]: Duplicate value: core.Taint{Key:"k", Value:"v", Effect:"NoSchedule", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair',
  ]);
  assert.deepEqual(messages(validateCreate('v1/Node', node({}, { capacity: { memory: '-1Gi' } }))), ['status.capacity.memory: Invalid value: "-1Gi": must be greater than or equal to 0']);
  assert.deepEqual(messages(validateUpdate('v1/Node', node({ providerID: 'b' }), node({ providerID: 'a' }))), [
    'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid',
  ]);
  const defaulted = node({}, { capacity: { cpu: '2' } });
  applyDefaults('v1/Node', defaulted);
  assert.deepEqual((defaulted.status as any).allocatable, { cpu: '2' });
});

test('Event (core/v1 legacy rules)', () => {
  const event = (fields: Record<string, unknown>) => kube({ metadata: { name: 'e', namespace: 'default' }, involvedObject: { kind: 'Pod', namespace: 'default', name: 'p' }, ...fields });
  assert.deepEqual(messages(validateCreate('v1/Event', event({}))), []);
  assert.deepEqual(messages(validateCreate('v1/Event', event({ involvedObject: { namespace: 'other' } }))), ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']);
  assert.deepEqual(messages(validateCreate('v1/Event', event({ eventTime: '2024-01-02T03:04:05.000000Z' }))), [
    'reportingComponent: Required value',
    `reportingComponent: Invalid value: "": name part must be non-empty`,
    "reportingComponent: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    'reportingInstance: Required value',
    'action: Required value',
    'reason: Required value',
  ]);
});

test('Secret and ConfigMap', () => {
  const secret = (fields: Record<string, unknown>) => kube({ metadata: { name: 's', namespace: 'default', resourceVersion: '1' }, ...fields });
  const s = secret({ data: { 'a.b': 'eA==' } });
  applyDefaults('v1/Secret', s);
  assert.equal(s.type, 'Opaque');
  assert.deepEqual(messages(validateCreate('v1/Secret', s)), []);
  assert.deepEqual(messages(validateCreate('v1/Secret', secret({ type: 'kubernetes.io/tls', data: {} }))), ['data[tls.crt]: Required value', 'data[tls.key]: Required value']);
  assert.deepEqual(messages(validateCreate('v1/Secret', secret({ data: { 'a/b': 'eA==' } }))), [
    "data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
  ]);
  assert.deepEqual(messages(validateUpdate('v1/Secret', secret({ type: 'Opaque', immutable: true, data: { a: 'eQ==' } }), secret({ type: 'Opaque', immutable: true, data: { a: 'eA==' } }))), [
    'data: Forbidden: field is immutable when `immutable` is set',
  ]);
  assert.deepEqual(messages(validateUpdate('v1/Secret', secret({ type: 'kubernetes.io/basic-auth', data: { username: 'eA==' } }), secret({ type: 'Opaque' }))), [
    'type: Invalid value: "kubernetes.io/basic-auth": field is immutable',
  ]);
  const cm = kube({ metadata: { name: 'c', namespace: 'default' }, data: { k: 'v' }, binaryData: { k: 'eA==' } });
  assert.deepEqual(messages(validateCreate('v1/ConfigMap', cm)), [
    'data[k]: Invalid value: "k": duplicate of key present in binaryData',
    'binaryData[k]: Invalid value: "k": duplicate of key present in data',
  ]);
});

test('Binding, ServiceAccount, Lease', () => {
  assert.deepEqual(messages(validateCreate('v1/Binding', kube({ metadata: { name: 'p' }, target: { kind: 'Pod' } }))), [
    'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"',
    'target.name: Required value',
  ]);
  assert.deepEqual(messages(validateCreate('v1/Binding', kube({ metadata: { name: 'p' }, target: { kind: 'Node', name: 'n' } }))), []);
  assert.deepEqual(messages(validateCreate('v1/ServiceAccount', kube({ metadata: { name: 'default', namespace: 'ns' } }))), []);
  assert.deepEqual(messages(validateCreate('coordination.k8s.io/v1/Lease', kube({ metadata: { name: 'node-1', namespace: 'kube-node-lease' }, spec: { leaseDurationSeconds: 0 } }))), [
    'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
  ]);
});

test('CSINode', () => {
  const csiNode = (drivers: unknown[]) => kube({ metadata: { name: 'node-1', resourceVersion: '1' }, spec: { drivers } });
  const driver = { name: 'strata.csi.example.com', nodeID: 'node-1', topologyKeys: ['topology.kubernetes.io/zone'] };
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/CSINode', csiNode([driver]))), []);
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/CSINode', csiNode([driver, { ...driver, nodeID: '' }]))), [
    'spec.drivers[1].nodeID: Required value',
    'spec.drivers[1].name: Duplicate value: "strata.csi.example.com"',
  ]);
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/CSINode', csiNode([{ ...driver, topologyKeys: ['a', 'a'] }]))), ['spec.drivers[0]: Duplicate value: "a"']);
  const changed = messages(validateUpdate('storage.k8s.io/v1/CSINode', csiNode([{ ...driver, nodeID: 'other' }]), csiNode([driver])));
  assert.equal(changed.length, 1);
  assert.match(changed[0]!, /^CSINodeDriver: Invalid value: .*: field is immutable$/);
  assert.deepEqual(messages(validateUpdate('storage.k8s.io/v1/CSINode', csiNode([driver, { ...driver, name: 'b.example.com' }]), csiNode([driver]))), []);
});

test('CSIDriver', () => {
  const driver = kube({ metadata: { name: 'strata.csi.example.com', resourceVersion: '1' }, spec: {} });
  applyDefaults('storage.k8s.io/v1/CSIDriver', driver);
  assert.deepEqual(driver.spec, {
    attachRequired: true,
    podInfoOnMount: false,
    storageCapacity: false,
    fsGroupPolicy: 'ReadWriteOnceWithFSType',
    requiresRepublish: false,
    seLinuxMount: false,
    volumeLifecycleModes: ['Persistent'],
  });
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/CSIDriver', driver)), []);
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/CSIDriver', kube({ metadata: { name: 'Bad_Name' }, spec: { ...(driver.spec as object), fsGroupPolicy: 'Any' } }))), [
    `name: Invalid value: "Bad_Name": ${subdomainMsg}`,
    'spec.fsGroupPolicy: Unsupported value: "Any": supported values: "File", "None", "ReadWriteOnceWithFSType"',
  ]);
  const changed = kube({ ...driver, spec: { ...(driver.spec as object), attachRequired: false } });
  assert.deepEqual(messages(validateUpdate('storage.k8s.io/v1/CSIDriver', changed, driver)), ['spec.attachedRequired: Invalid value: false: field is immutable']);
});

test('CSIStorageCapacity and VolumeAttachment', () => {
  const capacity = (fields: Record<string, unknown>) =>
    kube({ metadata: { name: 'csisc-1', namespace: 'kube-system', resourceVersion: '1' }, storageClassName: 'fast', capacity: '10Gi', nodeTopology: { matchLabels: { zone: 'a' } }, ...fields });
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/CSIStorageCapacity', capacity({}))), []);
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/CSIStorageCapacity', capacity({ capacity: '-1' }))), ['capacity: Invalid value: "-1": must be greater than or equal to 0']);
  assert.deepEqual(messages(validateUpdate('storage.k8s.io/v1/CSIStorageCapacity', capacity({ storageClassName: 'slow' }), capacity({}))), [
    'storageClassName: Invalid value: "slow": field is immutable',
  ]);

  const va = (spec: Record<string, unknown>) => kube({ metadata: { name: 'csi-abc', resourceVersion: '1' }, spec: { attacher: 'strata.csi.example.com', nodeName: 'node-1', source: { persistentVolumeName: 'pv-1' }, ...spec } });
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/VolumeAttachment', va({}))), []);
  assert.deepEqual(messages(validateCreate('storage.k8s.io/v1/VolumeAttachment', va({ source: {} }))), [
    'spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName',
  ]);
  const moved = messages(validateUpdate('storage.k8s.io/v1/VolumeAttachment', va({ nodeName: 'node-2' }), va({})));
  assert.equal(moved.length, 1);
  assert.match(moved[0]!, /^spec: Invalid value: .*: field is immutable$/);
  assert.deepEqual(messages(validateStatusUpdate('storage.k8s.io/v1/VolumeAttachment', kube({ ...va({}), status: { attached: true } }), va({}))), []);
});

test('unknownFields reports paths the schema does not have', () => {
  const p = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', bogus: 1, labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i', colour: 'red', resources: { requests: { cpu: '1' } } }], foo: true }, status: {} };
  assert.deepEqual(unknownFields('v1/Pod', p), ['metadata.bogus', 'spec.containers[0].colour', 'spec.foo']);
  assert.deepEqual(unknownFields('v1/PersistentVolumeClaim', { metadata: {}, spec: { accessModes: [], resources: { requests: { storage: '1' } }, storage: '1Gi' } }), ['spec.storage']);
  // Deeper: a list in a list, a model under a list, maps of strings (never unknown), in the order of the body.
  assert.deepEqual(unknownFields('v1/Pod', {
    metadata: { labels: { 'any.key/x': 'y' }, annotations: { a: 'b' } },
    spec: {
      nodeSelector: { zone: 'a' },
      containers: [{ name: 'a' }, { name: 'b', ports: [{ containerPort: 80 }, { containerPort: 81, colour: 'red' }], env: [{ name: 'E', valueFrom: { fieldRef: { fieldPath: 'x', extra: 1 } } }] }],
      volumes: [{ name: 'v', csi: { driver: 'd', volumeAttributes: { k: 'v' }, size: 1 } }],
    },
  }), ['spec.containers[1].ports[1].colour', 'spec.containers[1].env[0].valueFrom.fieldRef.extra', 'spec.volumes[0].csi.size']);
  assert.deepEqual(unknownFields('storage.k8s.io/v1/StorageClass', { metadata: {}, provisioner: 'p', parameters: { any: 'x' }, allowedTopologies: [{ matchLabelExpressions: [{ key: 'k', values: [], operator: 'In' }] }] }), [
    'allowedTopologies[0].matchLabelExpressions[0].operator',
  ]);
  assert.deepEqual(unknownFields('snapshot.storage.k8s.io/v1/VolumeSnapshot', { metadata: { name: 's', extra: 1 }, spec: { source: { pvc: 'x' } }, status: { readyToUse: true } }), [
    'metadata.extra',
    'spec.source.pvc',
  ]);
  assert.deepEqual(unknownFields('snapshot.storage.k8s.io/v1/VolumeSnapshotClass', { metadata: {}, driver: 'd', deletionPolicy: 'Delete', parameters: { x: 'y' }, spec: {} }), ['spec']);
  assert.deepEqual(unknownFields('coordination.k8s.io/v1/Lease', { metadata: {}, spec: { holderIdentity: 'a', renewTime: '2024-01-01T00:00:00.000000Z' } }), []);
});

test('every served kind dispatches; others are refused', () => {
  assert.equal(servedKinds().length, 19);
  for (const gvk of servedKinds()) assert.ok(Array.isArray(unknownFields(gvk, { metadata: {} })), gvk);
  assert.throws(() => validateCreate('apps/v1/Deployment', kube({ metadata: {} })), UnknownKindError);
});
