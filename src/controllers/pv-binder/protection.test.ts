import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim, Pod } from '../../api/types.ts';
import { PVCProtectionFinalizer, PVProtectionFinalizer } from '../../api/well-known.ts';
import { syncClaimProtection, syncVolumeProtection, type ProtectionDeps } from './protection.ts';

const claim = (deleting: boolean): PersistentVolumeClaim => ({
  metadata: { name: 'c', namespace: 'ns', finalizers: [PVCProtectionFinalizer], ...(deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
  spec: {},
});
const pod = (nodeName: string | undefined, phase: 'Running' | 'Succeeded' = 'Running'): Pod => ({
  metadata: { name: 'p', namespace: 'ns' }, spec: { nodeName, containers: [], volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'c' } }] }, status: { phase },
});
function deps(cached: Pod[], live: Pod[]) {
  const writes: Array<PersistentVolumeClaim | PersistentVolume> = [];
  const d: ProtectionDeps = {
    podsForClaim: () => cached, listPods: async () => live,
    updateClaim: async (c) => (writes.push(c), c), updateVolume: async (v) => (writes.push(v), v),
  };
  return { d, writes };
}

it('pvc-protection keeps the finalizer while a scheduled pod uses the claim (even a finished one)', async () => {
  const { d, writes } = deps([pod('node1', 'Succeeded')], []);
  await syncClaimProtection(claim(true), d);
  assert.equal(writes.length, 0);
});

it('pvc-protection asks the API server before removing the finalizer', async () => {
  const { d, writes } = deps([], [pod('node1')]);
  await syncClaimProtection(claim(true), d);
  assert.equal(writes.length, 0);
});

it('pvc-protection removes the finalizer when only unscheduled pods reference the claim', async () => {
  const { d, writes } = deps([pod(undefined)], [pod(undefined)]);
  const updated = await syncClaimProtection(claim(true), d);
  assert.equal(updated.metadata.finalizers, undefined);
  assert.equal(writes.length, 1);
});

it('pv-protection removes the finalizer of a deleted volume only when it is not Bound', async () => {
  const pv = (phase: 'Bound' | 'Released'): PersistentVolume => ({ metadata: { name: 'v', finalizers: [PVProtectionFinalizer], deletionTimestamp: '2024-01-01T00:00:00Z' }, spec: {}, status: { phase } });
  const { d, writes } = deps([], []);
  await syncVolumeProtection(pv('Bound'), d);
  assert.equal(writes.length, 0);
  assert.equal((await syncVolumeProtection(pv('Released'), d)).metadata.finalizers, undefined);
});
