import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from './types.ts';
import { FieldSelectorParseError, fieldsForObject, parseFieldSelector, validateFieldSelectorForKind } from './fields.ts';

// TestSelectorParse (fields): requirements come out sorted, escapes undone.
test('TestSelectorParse', () => {
  assert.deepEqual(parseFieldSelector('').requirements, []);
  assert.deepEqual(parseFieldSelector('x=a,y!=b,z==c').requirements, [
    { field: 'x', operator: '=', value: 'a' }, { field: 'y', operator: '!=', value: 'b' }, { field: 'z', operator: '=', value: 'c' },
  ]);
  assert.deepEqual(parseFieldSelector('status.phase!=Succeeded,spec.nodeName=n1').requirements, [
    { field: 'spec.nodeName', operator: '=', value: 'n1' }, { field: 'status.phase', operator: '!=', value: 'Succeeded' },
  ]);
  assert.deepEqual(parseFieldSelector('a=x\\,y\\=z\\\\,,b=').requirements, [
    { field: 'a', operator: '=', value: 'x,y=z\\' }, { field: 'b', operator: '=', value: '' },
  ]);
});

test('TestSelectorParse errors', () => {
  const cases: Array<[string, string]> = [
    ['x', "invalid selector: 'x'; can't understand 'x'"],
    ['a=b,c', "invalid selector: 'a=b,c'; can't understand 'c'"],
    ['a=b\\c', 'invalid field selector: invalid escape sequence: \\c'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
    ['a==b=c', 'invalid field selector: unescaped character in value: 61'],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => parseFieldSelector(input), (err: unknown) => err instanceof FieldSelectorParseError && err.message === message, input);
  }
});

const pod: KubeObject = {
  metadata: { name: 'web-0', namespace: 'demo' },
  spec: { nodeName: 'node-a', restartPolicy: 'Always', schedulerName: 'default-scheduler', containers: [] },
  status: { phase: 'Running', podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }] },
};

test('matching pods the way kubectl describe node asks', () => {
  const fields = fieldsForObject('Pod', pod);
  const get = (f: string) => fields[f];
  assert.equal(parseFieldSelector('spec.nodeName=node-a,status.phase!=Succeeded,status.phase!=Failed').matches(get), true);
  assert.equal(parseFieldSelector('spec.nodeName=node-b').matches(get), false);
  assert.equal(parseFieldSelector('status.podIP=10.0.0.5,spec.hostNetwork=false').matches(get), true);
  assert.equal(parseFieldSelector('status.nominatedNodeName=').matches(get), true, 'a missing field reads as ""');
  assert.equal(parseFieldSelector('metadata.name=web-0,metadata.namespace=demo').matches(get), true);
});

test('event fields as kubectl describe asks for them', () => {
  const event: KubeObject = {
    metadata: { name: 'pvc-1.17a', namespace: 'demo' },
    involvedObject: { kind: 'PersistentVolumeClaim', namespace: 'demo', name: 'pvc-1', uid: 'u1' },
    reason: 'WaitForFirstConsumer', type: 'Normal', reportingComponent: 'persistentvolume-controller', source: {},
  };
  const fields = fieldsForObject('Event', event);
  assert.equal(fields['source'], 'persistentvolume-controller', 'source falls back to the reporting controller');
  const sel = parseFieldSelector('involvedObject.name=pvc-1,involvedObject.namespace=demo,involvedObject.kind=PersistentVolumeClaim,involvedObject.uid=u1');
  assert.equal(sel.matches((f) => fields[f]), true);
  assert.equal(validateFieldSelectorForKind('Event', sel), undefined);
});

test('validateFieldSelectorForKind', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['Pod', 'spec.nodeName=a,status.phase=Running', undefined],
    ['Pod', 'spec.volumes=x', 'field label not supported: spec.volumes'],
    ['Node', 'spec.unschedulable=false', undefined],
    ['Node', 'metadata.namespace=x', 'field label not supported: metadata.namespace'],
    ['Namespace', 'status.phase=Active', undefined],
    ['Secret', 'type=Opaque', undefined],
    ['PersistentVolumeClaim', 'metadata.name=a', undefined],
    ['PersistentVolumeClaim', 'spec.volumeName=pv1', '"spec.volumeName" is not a known field selector: only "metadata.name", "metadata.namespace"'],
    ['StorageClass', 'provisioner=x', '"provisioner" is not a known field selector: only "metadata.name", "metadata.namespace"'],
    ['VolumeSnapshot', 'metadata.namespace=demo', undefined],
    ['VolumeSnapshotContent', 'metadata.namespace=demo', 'field label not supported: metadata.namespace'],
    ['VolumeSnapshotContent', 'spec.driver=x', 'field label not supported: spec.driver'],
  ];
  for (const [kind, selector, expected] of cases) {
    assert.equal(validateFieldSelectorForKind(kind, parseFieldSelector(selector)), expected, `${kind} ${selector}`);
  }
});

test('node and namespace fields', () => {
  assert.equal(fieldsForObject('Node', { metadata: { name: 'n' }, spec: { unschedulable: true } })['spec.unschedulable'], 'true');
  assert.equal(fieldsForObject('Node', { metadata: { name: 'n' } })['spec.unschedulable'], 'false');
  assert.equal(fieldsForObject('Namespace', { metadata: { name: 'x' }, status: { phase: 'Terminating' } })['status.phase'], 'Terminating');
  assert.equal(fieldsForObject('Secret', { metadata: { name: 's' }, type: 'Opaque' })['type'], 'Opaque');
});
