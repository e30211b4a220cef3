import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitErrorMessage } from './fit-error.ts';
import { Status } from './interfaces.ts';

const diagnosis = (statuses: Record<string, Status>, preFilterMsg = '', postFilterMsg = '') => ({
  nodeToStatus: new Map(Object.entries(statuses)),
  unschedulablePlugins: new Set<string>(),
  preFilterMsg,
  postFilterMsg,
});

test('FitError: histogram sorted as strings, with the preemption tail (reference example)', () => {
  const d = diagnosis(
    {
      cp: new Status('UnschedulableAndUnresolvable', 'node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }'),
      w: new Status('UnschedulableAndUnresolvable', "node(s) didn't find available persistent volumes to bind"),
    },
    '',
    'preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling',
  );
  assert.equal(
    fitErrorMessage(2, d),
    "0/2 nodes are available: 1 node(s) didn't find available persistent volumes to bind, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
  );
});

test('FitError: several reasons of one node each count; counts sort as strings ("10" before "2")', () => {
  const statuses: Record<string, Status> = {};
  for (let i = 0; i < 10; i++) statuses[`a${i}`] = new Status('Unschedulable', 'Insufficient cpu', 'Insufficient memory');
  statuses.b = new Status('Unschedulable', 'Too many pods');
  statuses.c = new Status('Unschedulable', 'Too many pods');
  assert.equal(fitErrorMessage(12, diagnosis(statuses)), '0/12 nodes are available: 10 Insufficient cpu, 10 Insufficient memory, 2 Too many pods.');
});

test('FitError: a PreFilter rejection prints only its message', () => {
  const s = new Status('UnschedulableAndUnresolvable', 'pod has unbound immediate PersistentVolumeClaims');
  const d = diagnosis({ a: s, b: s }, s.message(), 'preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling');
  assert.equal(
    fitErrorMessage(2, d),
    '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.',
  );
});
