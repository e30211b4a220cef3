import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeSelectorRequirement, PersistentVolume, Pod } from './types.ts';
import {
  checkVolumeNodeAffinity,
  nodeSelectorRequirementMatches,
  nodeSelectorTermsMatch,
  podMatchesNodeSelectorAndAffinity,
  topologyTermsMatch,
} from './node-affinity.ts';

const labels = { zone: 'a', rank: '5' };
const req = (operator: NodeSelectorRequirement['operator'], values?: string[], key = 'zone'): NodeSelectorRequirement => ({ key, operator, ...(values ? { values } : {}) });

test('requirements: In, NotIn, Exists, DoesNotExist, Gt, Lt and invalid ones', () => {
  const cases: Array<[NodeSelectorRequirement, boolean]> = [
    [req('In', ['a', 'b']), true],
    [req('In', ['b']), false],
    [req('In', []), false],
    [req('NotIn', ['b']), true],
    [req('NotIn', ['b'], 'missing'), true],
    [req('NotIn', ['a']), false],
    [req('Exists'), true],
    [req('Exists', ['a']), false],
    [req('DoesNotExist', undefined, 'missing'), true],
    [req('DoesNotExist'), false],
    [req('Gt', ['4'], 'rank'), true],
    [req('Gt', ['5'], 'rank'), false],
    [req('Lt', ['6'], 'rank'), true],
    [req('Gt', ['x'], 'rank'), false],
    [req('Gt', ['1'], 'zone'), false],
    [req('Gt', ['1', '2'], 'rank'), false],
  ];
  for (const [r, want] of cases) assert.equal(nodeSelectorRequirementMatches(r, labels), want, JSON.stringify(r));
});

test('terms: ORed terms, ANDed expressions, empty terms match nothing, matchFields on metadata.name', () => {
  const node = { metadata: { name: 'node1', labels } };
  assert.equal(nodeSelectorTermsMatch([{ matchExpressions: [req('In', ['b'])] }, { matchExpressions: [req('Exists')] }], node), true);
  assert.equal(nodeSelectorTermsMatch([{ matchExpressions: [req('Exists'), req('In', ['b'])] }], node), false);
  assert.equal(nodeSelectorTermsMatch([{}], node), false);
  assert.equal(nodeSelectorTermsMatch([], node), false);
  assert.equal(nodeSelectorTermsMatch([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node1'] }] }], node), true);
  assert.equal(nodeSelectorTermsMatch([{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node1'] }] }], node), false);
  assert.equal(nodeSelectorTermsMatch([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a', 'b'] }] }], node), false);
});

test('checkVolumeNodeAffinity: no affinity fits; matchFields never match', () => {
  const pv = (terms: PersistentVolume['spec']['nodeAffinity']): PersistentVolume => ({ metadata: { name: 'pv' }, spec: { nodeAffinity: terms } });
  assert.equal(checkVolumeNodeAffinity(pv(undefined), labels), undefined);
  assert.equal(checkVolumeNodeAffinity(pv({ required: { nodeSelectorTerms: [{ matchExpressions: [req('In', ['a'])] }] } }), labels), undefined);
  assert.equal(checkVolumeNodeAffinity(pv({ required: { nodeSelectorTerms: [{ matchExpressions: [req('In', ['b'])] }] } }), labels), 'no matching NodeSelectorTerms');
  assert.equal(
    checkVolumeNodeAffinity(pv({ required: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node1'] }] }] } }), labels),
    'no matching NodeSelectorTerms',
  );
  assert.equal(checkVolumeNodeAffinity(pv({ required: { nodeSelectorTerms: [{ matchExpressions: [req('In', ['a'])] }] } }), undefined), 'no matching NodeSelectorTerms');
});

test('topologyTermsMatch: empty matches all; terms ORed; keys ANDed', () => {
  const term = (key: string, ...values: string[]) => ({ key, values });
  assert.equal(topologyTermsMatch(undefined, labels), true);
  assert.equal(topologyTermsMatch([], labels), true);
  assert.equal(topologyTermsMatch([{ matchLabelExpressions: [term('zone', 'b')] }, { matchLabelExpressions: [term('zone', 'a')] }], labels), true);
  assert.equal(topologyTermsMatch([{ matchLabelExpressions: [term('zone', 'a'), term('rank', '6')] }], labels), false);
  assert.equal(topologyTermsMatch([{ matchLabelExpressions: [] }], labels), false);
});

test('podMatchesNodeSelectorAndAffinity: nodeSelector and required affinity both apply', () => {
  const node = { metadata: { name: 'n', labels } };
  const pod = (spec: Partial<Pod['spec']>): Pod => ({ metadata: { name: 'p' }, spec: { containers: [], ...spec } });
  assert.equal(podMatchesNodeSelectorAndAffinity(pod({}), node), true);
  assert.equal(podMatchesNodeSelectorAndAffinity(pod({ nodeSelector: { zone: 'a' } }), node), true);
  assert.equal(podMatchesNodeSelectorAndAffinity(pod({ nodeSelector: { zone: 'b' } }), node), false);
  const affinity = (values: string[]) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [req('In', values)] }] } } });
  assert.equal(podMatchesNodeSelectorAndAffinity(pod({ nodeSelector: { zone: 'a' }, affinity: affinity(['b']) }), node), false);
  assert.equal(podMatchesNodeSelectorAndAffinity(pod({ affinity: affinity(['a']) }), node), true);
  assert.equal(podMatchesNodeSelectorAndAffinity(pod({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } } }), node), false);
});
