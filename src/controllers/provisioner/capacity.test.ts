import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { CSIStorageCapacity, CSINode, Node, StorageClass } from '../../api/types.ts';
import { sameSegment, syncStorageCapacity, termToSegment, topologySegments, type CapacityDeps } from './capacity.ts';

const driver = 'csi.strata.io';
const zoneKey = 'topology.kubernetes.io/zone';
const nodes: Node[] = ['a', 'b'].map((z, i) => ({ metadata: { name: `n${i}`, labels: { [zoneKey]: `zone-${z}` } } }));
const csiNodes: CSINode[] = nodes.map((n) => ({ metadata: { name: n.metadata.name }, spec: { drivers: [{ name: driver, nodeID: n.metadata.name!, topologyKeys: [zoneKey] }] } }));
const classes: StorageClass[] = [
  { metadata: { name: 'wait' }, provisioner: driver, volumeBindingMode: 'WaitForFirstConsumer', parameters: { type: 'zonal' } },
  { metadata: { name: 'now' }, provisioner: driver, volumeBindingMode: 'Immediate' },
  { metadata: { name: 'other' }, provisioner: 'other.csi.io', volumeBindingMode: 'WaitForFirstConsumer' },
];

function deps(storageCapacity: boolean, existing: CSIStorageCapacity[]) {
  const log: string[] = [];
  const d: CapacityDeps = {
    driverName: driver, namespace: 'strata-system', managedBy: 'external-provisioner',
    csi: {
      createVolume: async () => assert.fail(), deleteVolume: async () => assert.fail(),
      getCapacity: async (req) => ({ availableCapacity: req.accessibleTopology!.segments[zoneKey] === 'zone-a' ? 10n << 30n : 5n << 30n }),
    },
    getCSIDriver: () => ({ metadata: { name: driver }, spec: { storageCapacity } }),
    listClasses: () => classes, listSegments: () => topologySegments(driver, nodes, csiNodes), listCapacities: () => existing,
    createCapacity: async (c) => log.push(`create ${c.storageClassName} ${c.nodeTopology!.matchLabels![zoneKey]} ${c.capacity} ${JSON.stringify(c.metadata.labels)}`),
    updateCapacity: async (c) => log.push(`update ${c.metadata.name} ${c.capacity}`),
    deleteCapacity: async (name) => log.push(`delete ${name}`),
  };
  return { d, log };
}

it('publishes one object per segment for WaitForFirstConsumer classes of the driver, updates and deletes the rest', async () => {
  const stale: CSIStorageCapacity = { metadata: { name: 'csisc-1' }, storageClassName: 'wait', nodeTopology: { matchLabels: { [zoneKey]: 'zone-b' } }, capacity: '1Gi' };
  const gone: CSIStorageCapacity = { metadata: { name: 'csisc-2' }, storageClassName: 'deleted-class', nodeTopology: { matchLabels: { [zoneKey]: 'zone-a' } }, capacity: '1Gi' };
  const { d, log } = deps(true, [stale, gone]);
  await syncStorageCapacity(d);
  assert.deepEqual(log, [
    'create wait zone-a 10Gi {"csi.storage.k8s.io/drivername":"csi.strata.io","csi.storage.k8s.io/managed-by":"external-provisioner"}',
    'update csisc-1 5Gi',
    'delete csisc-2',
  ]);
});

it('publishes nothing (and removes what it published) when the CSIDriver does not ask for storage capacity', async () => {
  const { d, log } = deps(false, [{ metadata: { name: 'csisc-1' }, storageClassName: 'wait', capacity: '1Gi' }]);
  await syncStorageCapacity(d);
  assert.deepEqual(log, ['delete csisc-1']);
});

it('a refresh of some work items calls GetCapacity for those alone, and deletes nothing', async () => {
  const stale: CSIStorageCapacity = { metadata: { name: 'csisc-1' }, storageClassName: 'wait', nodeTopology: { matchLabels: { [zoneKey]: 'zone-b' } }, capacity: '1Gi' };
  const gone: CSIStorageCapacity = { metadata: { name: 'csisc-2' }, storageClassName: 'deleted-class', nodeTopology: { matchLabels: { [zoneKey]: 'zone-a' } }, capacity: '1Gi' };
  const { d, log } = deps(true, [stale, gone]);
  const asked: string[] = [];
  const getCapacity = d.csi.getCapacity.bind(d.csi);
  d.csi.getCapacity = (req) => {
    asked.push(req.accessibleTopology!.segments[zoneKey]!);
    return getCapacity(req);
  };
  await syncStorageCapacity(d, (className, segment) => className === 'wait' && sameSegment(segment, { [zoneKey]: 'zone-b' }));
  assert.deepEqual(asked, ['zone-b']);
  assert.deepEqual(log, ['update csisc-1 5Gi']);
});

it('termToSegment takes terms of `key In [value]` only (upstream refreshTopology), and segments compare by content', () => {
  const term = { matchExpressions: [{ key: zoneKey, operator: 'In' as const, values: ['zone-a'] }, { key: 'kubernetes.io/hostname', operator: 'In' as const, values: ['n0'] }] };
  assert.deepEqual(termToSegment(term), { [zoneKey]: 'zone-a', 'kubernetes.io/hostname': 'n0' });
  assert.equal(termToSegment({ matchExpressions: [{ key: zoneKey, operator: 'In', values: ['zone-a', 'zone-b'] }] }), undefined);
  assert.equal(termToSegment({ matchExpressions: [{ key: zoneKey, operator: 'NotIn', values: ['zone-a'] }] }), undefined);
  assert.equal(termToSegment({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n0'] }] }), undefined);
  assert.ok(sameSegment({ a: '1', b: '2' }, { b: '2', a: '1' }));
  assert.ok(!sameSegment({ a: '1' }, { a: '1', b: '2' }));
  assert.ok(!sameSegment({ a: '1', b: '2' }, { a: '1', c: '2' }));
});
