import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Taint, Toleration } from './types.ts';
import { doNotScheduleTaint, findUntoleratedTaint, tolerationToleratesTaint } from './taints.ts';

const taint: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };

test('ToleratesTaint', () => {
  const cases: Array<[Toleration, boolean]> = [
    [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, true],
    [{ key: 'dedicated', operator: 'Equal', value: 'gpu' }, true],
    [{ key: 'dedicated', value: 'cpu' }, false],
    [{ key: 'dedicated', operator: 'Exists' }, true],
    [{ operator: 'Exists' }, true],
    [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, false],
    [{ key: 'other', operator: 'Exists' }, false],
  ];
  for (const [t, want] of cases) assert.equal(tolerationToleratesTaint(t, taint), want, JSON.stringify(t));
  assert.equal(tolerationToleratesTaint({ key: 'k' }, { key: 'k', effect: 'NoSchedule' }), true);
});

test('findUntoleratedTaint: the first filtered taint no toleration tolerates', () => {
  const taints: Taint[] = [{ key: 'soft', effect: 'PreferNoSchedule' }, taint, { key: 'evict', effect: 'NoExecute' }];
  assert.deepEqual(findUntoleratedTaint(taints, [], doNotScheduleTaint), taint);
  assert.deepEqual(findUntoleratedTaint(taints, [{ key: 'dedicated', operator: 'Exists' }], doNotScheduleTaint), taints[2]);
  assert.equal(findUntoleratedTaint(taints, [{ operator: 'Exists' }], doNotScheduleTaint), undefined);
});
