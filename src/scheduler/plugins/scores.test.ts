// Score plugins and host selection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeScore } from '../framework/interfaces.ts';
import { CycleState } from '../framework/interfaces.ts';
import { NodeInfo } from '../framework/node-info.ts';
import { makeNode, makePod } from '../testing.ts';
import { numFeasibleNodesToFind, selectHost } from '../schedule-pod.ts';
import { NodeResourcesFitPlugin } from './node-resources/fit.ts';
import { balancedResourceScore } from './node-resources/balanced-allocation.ts';
import { TaintTolerationPlugin } from './taint-toleration/taint-toleration.ts';
import { NodeAffinityPlugin } from './node-affinity/node-affinity.ts';
import { defaultNormalizeScore, brokenLinearFunction } from './helper.ts';

test('LeastAllocated: free share after placing, non-zero defaults for missing requests', () => {
  const plugin = new NodeResourcesFitPlugin();
  const node = new NodeInfo(makeNode('n', {}, undefined, { cpu: '4', memory: '10000Mi', pods: '10' }));
  const pod = makePod('p', [], { containers: [{ name: 'c', resources: { requests: { cpu: '1', memory: '5000Mi' } } }] });
  const state = new CycleState();
  plugin.preScore(state, pod);
  // cpu (4000-1000)*100/4000 = 75, memory 50 → 62
  assert.equal(plugin.score(state, pod, node), 62);
  const bestEffort = makePod('b');
  plugin.preScore(state, bestEffort);
  // 100m and 200Mi: cpu 97, memory 98 → 97
  assert.equal(plugin.score(state, bestEffort, node), 97);
});

test('BalancedAllocation: 1 - std of the fractions', () => {
  assert.equal(balancedResourceScore([{ requested: 3000, allocatable: 4000 }, { requested: 5000, allocatable: 10000 }]), 87);
  assert.equal(balancedResourceScore([{ requested: 1, allocatable: 2 }, { requested: 5, allocatable: 10 }]), 100);
});

test('TaintToleration score: untolerated PreferNoSchedule taints, reversed', () => {
  const plugin = new TaintTolerationPlugin();
  const pod = makePod('p', [], { tolerations: [{ key: 'a', operator: 'Exists', effect: 'PreferNoSchedule' }] });
  const state = new CycleState();
  plugin.preScore(state, pod);
  const nodes = [
    makeNode('clean'),
    makeNode('tolerated', {}, [{ key: 'a', effect: 'PreferNoSchedule' }]),
    makeNode('two', {}, [{ key: 'b', effect: 'PreferNoSchedule' }, { key: 'c', effect: 'PreferNoSchedule' }]),
    makeNode('one', {}, [{ key: 'b', effect: 'PreferNoSchedule' }]),
  ];
  const scores: NodeScore[] = nodes.map((n) => ({ name: n.metadata.name!, score: plugin.score(state, pod, new NodeInfo(n)) }));
  plugin.normalizeScore(state, pod, scores);
  assert.deepEqual(scores.map((s) => s.score), [100, 100, 0, 50]);
});

test('NodeAffinity score: preferred weights normalized', () => {
  const plugin = new NodeAffinityPlugin();
  const pod = makePod('p', [], {
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 2, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] } },
          { weight: 8, preference: { matchExpressions: [{ key: 'disk', operator: 'Exists' }] } },
        ],
      },
    },
  });
  const state = new CycleState();
  assert.equal(plugin.preScore(state, pod), undefined);
  const scores = [makeNode('x', { zone: 'a' }), makeNode('y', { zone: 'a', disk: 'ssd' }), makeNode('z')].map((n) => ({
    name: n.metadata.name!, score: plugin.score(state, pod, new NodeInfo(n)),
  }));
  plugin.normalizeScore(state, pod, scores);
  assert.deepEqual(scores.map((s) => s.score), [20, 100, 0]);
  assert.equal(plugin.preScore(state, makePod('q'))?.code, 'Skip');
});

test('selectHost: highest total; ties by reservoir sampling', () => {
  const list = [{ name: 'a', totalScore: 5 }, { name: 'b', totalScore: 9 }, { name: 'c', totalScore: 9 }, { name: 'd', totalScore: 1 }].map((s) => ({ ...s, scores: [] }));
  assert.equal(selectHost(list, () => 0), 'c');
  assert.equal(selectHost(list, () => 1), 'b');
});

test('numFeasibleNodesToFind: all below 100 nodes; adaptive above', () => {
  assert.equal(numFeasibleNodesToFind(50), 50);
  assert.equal(numFeasibleNodesToFind(500), 230);
  assert.equal(numFeasibleNodesToFind(1000), 420);
  assert.equal(numFeasibleNodesToFind(6000), 300);
  assert.equal(numFeasibleNodesToFind(150), 100);
});

test('DefaultNormalizeScore and BrokenLinearFunction', () => {
  const s = [{ name: 'a', score: 2 }, { name: 'b', score: 4 }, { name: 'c', score: 0 }];
  defaultNormalizeScore(100, false, s);
  assert.deepEqual(s.map((x) => x.score), [50, 100, 0]);
  const f = brokenLinearFunction([{ utilization: 0, score: 0 }, { utilization: 50, score: 30 }, { utilization: 100, score: 50 }]);
  assert.deepEqual([0, 25, 50, 75, 100, 120].map(f), [0, 15, 30, 40, 50, 50]);
});
