import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume } from '../api/types.ts';
import { AssumeCache } from './assume-cache.ts';
import { makePV } from './testing.ts';

const withRV = (pv: PersistentVolume, rv: string, claim?: string): PersistentVolume => ({
  ...pv,
  metadata: { ...pv.metadata, resourceVersion: rv },
  spec: { ...pv.spec, ...(claim ? { claimRef: { name: claim, namespace: 'default' } } : {}) },
});

test('assumed objects shadow the informer until it delivers a newer version', () => {
  const cache = new AssumeCache<PersistentVolume>('v1.PersistentVolume', (pv) => pv.spec.storageClassName ?? '');
  const pv = makePV('pv1', '1Gi', { rv: '5' });
  cache.add(pv);
  cache.assume(withRV(pv, '5', 'claim-a'));
  assert.equal(cache.get('pv1')!.spec.claimRef?.name, 'claim-a');
  assert.equal(cache.getAPIObj('pv1')!.spec.claimRef, undefined);
  // A resync with the same version keeps the assumption.
  cache.add(withRV(pv, '5'));
  assert.equal(cache.get('pv1')!.spec.claimRef?.name, 'claim-a');
  assert.deepEqual(cache.list('wait').map((p) => p.spec.claimRef?.name), ['claim-a']);
  // A newer version replaces it.
  cache.add(withRV(pv, '6', 'claim-b'));
  assert.equal(cache.get('pv1')!.spec.claimRef?.name, 'claim-b');
  assert.equal(cache.getAPIObj('pv1')!.spec.claimRef?.name, 'claim-b');
});

test('restore drops the assumption; errors use upstream text', () => {
  const cache = new AssumeCache<PersistentVolume>('v1.PersistentVolume');
  const pv = makePV('pv1', '1Gi', { rv: '5' });
  cache.add(pv);
  cache.assume(withRV(pv, '5', 'claim-a'));
  cache.restore('pv1');
  assert.equal(cache.get('pv1')!.spec.claimRef, undefined);
  assert.throws(() => cache.assume(withRV(pv, '4')), { message: 'v1.PersistentVolume "pv1" is out of sync (stored: 5, assume: 4)' });
  assert.throws(() => cache.assume(makePV('nope', '1Gi')), { message: 'could not find v1.PersistentVolume "nope"' });
  assert.throws(() => cache.add(withRV(pv, 'abc')), /error parsing ResourceVersion "abc" for v1.PersistentVolume "pv1"/);
  cache.delete(pv);
  assert.equal(cache.get('pv1'), undefined);
  cache.restore('pv1');
});
