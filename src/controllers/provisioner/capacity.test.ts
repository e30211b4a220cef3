import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { CSIStorageCapacity, CSINode, Node, StorageClass } from '../../api/types.ts';
import { syncStorageCapacity, type CapacityDeps } from './capacity.ts';

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
    listClasses: () => classes, listNodes: () => nodes, listCSINodes: () => csiNodes, listCapacities: () => existing,
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
