import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, PersistentVolume, PersistentVolumeClaim } from './types.ts';
import { explainVolumeCandidates, findMatchingVolume } from './volume-matching.ts';

const zoneKey = 'topology.kubernetes.io/zone';
const pv = (name: string, size: string, zone: string, extra: Partial<PersistentVolume['spec']> = {}): PersistentVolume => ({
  metadata: { name },
  spec: {
    capacity: { storage: size }, accessModes: ['ReadWriteOnce'], storageClassName: 'local',
    nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: zoneKey, operator: 'In', values: [zone] }] }] } },
    ...extra,
  },
  status: { phase: 'Available' },
});
const claim: PersistentVolumeClaim = {
  metadata: { name: 'c', namespace: 'ns', uid: 'u' },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } }, storageClassName: 'local' },
};
const node: Node = { metadata: { name: 'n', labels: { [zoneKey]: 'a' } } };

it('scheduler path: smallest volume that fits on the node, excluding already chosen ones', () => {
  const volumes = [pv('big', '20Gi', 'a'), pv('other-zone', '5Gi', 'b'), pv('fit', '10Gi', 'a'), pv('small', '1Gi', 'a')];
  assert.equal(findMatchingVolume(claim, volumes, node, new Set(), false)?.metadata.name, 'fit');
  assert.equal(findMatchingVolume(claim, volumes, node, new Set(['fit']), false)?.metadata.name, 'big');
  assert.equal(findMatchingVolume(claim, volumes, undefined, new Set(), true), undefined, 'PV controller does not bind delayed claims');
});

it('a pre-bound volume on another node means no match at all', () => {
  const prebound = pv('mine', '5Gi', 'b', { claimRef: { name: 'c', namespace: 'ns' } });
  assert.equal(findMatchingVolume(claim, [prebound, pv('fit', '10Gi', 'a')], node, new Set(), false), undefined);
});

it('explainVolumeCandidates lists every reason a volume is rejected', () => {
  const [candidate] = explainVolumeCandidates(claim, [pv('bad', '1Gi', 'b', { storageClassName: 'fast', accessModes: ['ReadOnlyMany'], volumeMode: 'Block' })], node);
  assert.deepEqual(candidate.rejections.map((r) => r.reason), ['TooSmall', 'VolumeModeMismatch', 'NodeAffinityConflict', 'StorageClassMismatch', 'AccessModeMismatch']);
  const [ok] = explainVolumeCandidates(claim, [pv('ok', '5Gi', 'a')], node);
  assert.deepEqual(ok.rejections, []);
});
