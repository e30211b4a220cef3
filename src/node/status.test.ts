// Table tests named after upstream's kubelet_pods_test.go TestPodPhaseWithRestart* and generate_test.go cases.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContainerStatus, Pod } from '../api/types.ts';
import { containersReadyCondition, goDuration, initializedCondition, podConditions, podPhase, readyCondition } from './status.ts';

const pod = (restartPolicy: Pod['spec']['restartPolicy'], containers = ['c1', 'c2'], inits: string[] = []): Pod => ({
  metadata: { name: 'p', namespace: 'ns' },
  spec: { restartPolicy, containers: containers.map((name) => ({ name })), initContainers: inits.map((name) => ({ name })) },
});
const running = (name: string, ready = true): ContainerStatus => ({ name, ready, restartCount: 0, state: { running: { startedAt: 't' } }, lastState: {} });
const stopped = (name: string, exitCode = 0): ContainerStatus => ({ name, ready: false, restartCount: 0, state: { terminated: { exitCode, reason: '', startedAt: 't', finishedAt: 't' } }, lastState: {} });
const waiting = (name: string): ContainerStatus => ({ name, ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} });
const crashing = (name: string, exitCode = 1): ContainerStatus => ({ name, ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode, reason: '', startedAt: 't', finishedAt: 't' } } });
const succeededInit = (name: string): ContainerStatus => ({ ...stopped(name, 0), ready: true });

describe('podPhase', () => {
  const cases: Array<[string, Pod['spec']['restartPolicy'], ContainerStatus[], string, string[]?, ContainerStatus[]?]> = [
    // TestPodPhaseWithRestartAlways
    ['Always: all running', 'Always', [running('c1'), running('c2')], 'Running'],
    ['Always: all stopped', 'Always', [stopped('c1'), stopped('c2')], 'Running'],
    ['Always: mixed state #1', 'Always', [running('c1'), stopped('c2')], 'Running'],
    ['Always: mixed state #2', 'Always', [running('c1')], 'Pending'],
    ['Always: mixed state #3', 'Always', [running('c1'), crashing('c2')], 'Running'],
    ['Always: backoff crashloop container', 'Always', [running('c1'), crashing('c2')], 'Running'],
    // TestPodPhaseWithRestartNever
    ['Never: all running', 'Never', [running('c1'), running('c2')], 'Running'],
    ['Never: all succeeded', 'Never', [stopped('c1'), stopped('c2')], 'Succeeded'],
    ['Never: all failed', 'Never', [stopped('c1', 1), stopped('c2', 1)], 'Failed'],
    ['Never: mixed state #1', 'Never', [running('c1'), stopped('c2')], 'Running'],
    ['Never: mixed state #2', 'Never', [running('c1')], 'Pending'],
    ['Never: mixed state #3', 'Never', [running('c1'), waiting('c2')], 'Pending'],
    // TestPodPhaseWithRestartOnFailure
    ['OnFailure: all succeeded', 'OnFailure', [stopped('c1'), stopped('c2')], 'Succeeded'],
    ['OnFailure: all failed', 'OnFailure', [stopped('c1', 1), stopped('c2', 1)], 'Running'],
    ['OnFailure: backoff crashloop with non-zero exit code', 'OnFailure', [running('c1'), crashing('c2')], 'Running'],
    // TestPodPhaseWithRestartNeverInitContainers
    ['Never: init container running', 'Never', [waiting('c1'), waiting('c2')], 'Pending', ['i1'], [running('i1')]],
    ['Never: init container failed', 'Never', [waiting('c1'), waiting('c2')], 'Failed', ['i1'], [stopped('i1', 1)]],
    ['Never: init container succeeded', 'Never', [running('c1'), running('c2')], 'Running', ['i1'], [succeededInit('i1')]],
    ['Always: init container crashlooping stays Pending', 'Always', [waiting('c1'), waiting('c2')], 'Pending', ['i1'], [crashing('i1')].map((s) => ({ ...s, lastState: {} }))],
  ];
  for (const [name, policy, statuses, want, inits = [], initStatuses = []] of cases) {
    test(name, () => assert.equal(podPhase(pod(policy, ['c1', 'c2'], inits), initStatuses, statuses), want));
  }
});

describe('conditions', () => {
  test('GenerateContainersReadyCondition: unknown and unready containers are listed as Go prints slices', () => {
    const c = containersReadyCondition(pod('Always', ['c1', 'c2', 'c3']), [running('c1', false)], 'Running');
    assert.deepEqual(c, { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unknown status: [c2 c3], containers with unready status: [c1]' });
  });
  test('GenerateContainersReadyCondition: all ready', () => {
    assert.deepEqual(containersReadyCondition(pod('Always'), [running('c1'), running('c2')], 'Running'), { type: 'ContainersReady', status: 'True' });
  });
  test('GeneratePodReadyCondition mirrors ContainersReady; terminal phases say PodCompleted / PodFailed', () => {
    assert.deepEqual(readyCondition(pod('Never'), [stopped('c1'), stopped('c2')], 'Succeeded'), { type: 'Ready', status: 'False', reason: 'PodCompleted' });
    assert.deepEqual(readyCondition(pod('Never'), [stopped('c1', 1), stopped('c2')], 'Failed'), { type: 'Ready', status: 'False', reason: 'PodFailed' });
  });
  test('GeneratePodInitializedCondition: incomplete init containers', () => {
    const c = initializedCondition(pod('Always', ['c1'], ['i1', 'i2']), [succeededInit('i1'), running('i2', false)], [waiting('c1')], 'Pending');
    assert.deepEqual(c, { type: 'Initialized', status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [i2]' });
  });
  test('podConditions keeps lastTransitionTime while a status holds, and conditions owned by others', () => {
    const p = pod('Always', ['c1']);
    const previous = [
      { type: 'Ready', status: 'True' as const, lastTransitionTime: 'then' },
      { type: 'DisruptionTarget', status: 'True' as const, lastTransitionTime: 'x' },
    ];
    const conds = podConditions(p, [], [running('c1')], 'Running', true, previous, 'now');
    assert.deepEqual(conds.map((c) => [c.type, c.status, c.lastTransitionTime]), [
      ['PodReadyToStartContainers', 'True', 'now'], ['Initialized', 'True', 'now'], ['Ready', 'True', 'then'],
      ['ContainersReady', 'True', 'now'], ['PodScheduled', 'True', 'now'], ['DisruptionTarget', 'True', 'x'],
    ]);
  });
});

test('goDuration prints back-off delays as Go does', () => {
  assert.deepEqual([10_000, 20_000, 80_000, 160_000, 300_000, 1200, 250].map(goDuration), ['10s', '20s', '1m20s', '2m40s', '5m0s', '1.2s', '250ms']);
});
