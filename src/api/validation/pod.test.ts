import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, defaultTolerationSeconds, prepareForCreate, validateCreate, validateUpdate } from './index.ts';
import { kube, labelMsg, messages } from './test-helpers.ts';

const POD = 'v1/Pod';

function pod(spec: Record<string, unknown>) {
  const p = kube({ metadata: { name: 'web', namespace: 'default', resourceVersion: '1' }, spec });
  applyDefaults(POD, p);
  return p;
}
const container = (extra: Record<string, unknown> = {}) => ({ name: 'app', image: 'nginx:1.27', ...extra });

test('Pod defaults (SetDefaults_Pod, SetDefaults_Container, SetDefaults_Volume)', () => {
  const p = pod({
    containers: [container({ ports: [{ containerPort: 80 }], resources: { limits: { cpu: '1' } } }), { name: 'side', image: 'busybox' }],
    volumes: [{ name: 'scratch' }, { name: 'cfg', configMap: { name: 'c' } }],
  });
  const spec = p.spec as any;
  assert.equal(spec.restartPolicy, 'Always');
  assert.equal(spec.dnsPolicy, 'ClusterFirst');
  assert.equal(spec.schedulerName, 'default-scheduler');
  assert.equal(spec.terminationGracePeriodSeconds, 30);
  assert.equal(spec.enableServiceLinks, true);
  assert.deepEqual(spec.securityContext, {});
  assert.equal(spec.containers[0].imagePullPolicy, 'IfNotPresent');
  assert.equal(spec.containers[1].imagePullPolicy, 'Always'); // no tag means :latest
  assert.equal(spec.containers[0].terminationMessagePath, '/dev/termination-log');
  assert.equal(spec.containers[0].terminationMessagePolicy, 'File');
  assert.equal(spec.containers[0].ports[0].protocol, 'TCP');
  assert.deepEqual(spec.containers[0].resources.requests, { cpu: '1' });
  assert.deepEqual(spec.volumes[0].emptyDir, {});
  assert.equal(spec.volumes[1].configMap.defaultMode, 420);
  prepareForCreate(POD, p);
  assert.deepEqual(p.status, { phase: 'Pending', qosClass: 'Burstable' });
  assert.equal(spec.priority, 0);
});

test('DefaultTolerationSeconds admission', () => {
  const p = pod({ containers: [container()], tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }] });
  defaultTolerationSeconds(p);
  assert.deepEqual((p.spec as any).tolerations, [
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 },
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ]);
});

test('Pod create', () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['good', { containers: [container({ volumeMounts: [{ name: 'data', mountPath: '/data' }] })], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'claim' } }] }, []],
    ['no containers', { containers: [] }, ['spec.containers: Required value']],
    ['container name', { containers: [container({ name: 'App' })] }, [`spec.containers[0].name: Invalid value: "App": ${labelMsg}`]],
    ['duplicate container', { containers: [container(), container()] }, ['spec.containers[1].name: Duplicate value: "app"']],
    ['missing image', { containers: [container({ image: '' })] }, ['spec.containers[0].image: Required value']],
    ['mount of a missing volume', { containers: [container({ volumeMounts: [{ name: 'data', mountPath: '/data' }] })] }, [
      'spec.containers[0].volumeMounts[0].name: Not found: "data"',
    ]],
    ['duplicate mount path', {
      containers: [container({ volumeMounts: [{ name: 'a', mountPath: '/d' }, { name: 'b', mountPath: '/d' }] })],
      volumes: [{ name: 'a', emptyDir: {} }, { name: 'b', emptyDir: {} }],
    }, ['spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/d": must be unique']],
    ['duplicate volume', { containers: [container()], volumes: [{ name: 'a', emptyDir: {} }, { name: 'a', emptyDir: {} }] }, ['spec.volumes[1].name: Duplicate value: "a"']],
    ['claimName required', { containers: [container()], volumes: [{ name: 'a', persistentVolumeClaim: { claimName: '' } }] }, [
      'spec.volumes[0].persistentVolumeClaim.claimName: Required value',
    ]],
    ['two volume sources', { containers: [container()], volumes: [{ name: 'a', emptyDir: {}, persistentVolumeClaim: { claimName: 'c' } }] }, [
      'spec.volumes[0].persistentVolumeClaim: Forbidden: may not specify more than 1 volume type',
    ]],
    ['request above limit', { containers: [container({ resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } })] }, [
      'spec.containers[0].resources.requests: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi',
    ]],
    ['negative request', { containers: [container({ resources: { requests: { cpu: '-1' } } })] }, [
      'spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0',
    ]],
    ['bad port', { containers: [container({ ports: [{ containerPort: 70000 }] })] }, [
      'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    ]],
    ['bad restart policy', { containers: [container()], restartPolicy: 'Sometimes' }, [
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]],
    ['toleration without key needs Exists', { containers: [container()], tolerations: [{ operator: 'Equal', value: 'x' }] }, [
      'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
    ]],
    ['tolerationSeconds needs NoExecute', { containers: [container()], tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 5 }] }, [
      "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
    ]],
    ['affinity weight', { containers: [container()], affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: {} }] } } }, [
      'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100',
    ]],
    ['ephemeral volume claim spec', { containers: [container()], volumes: [{ name: 'e', ephemeral: { volumeClaimTemplate: { spec: { resources: { requests: { storage: '1Gi' } } } } } }] }, [
      'spec.volumes[0].ephemeral.volumeClaimTemplate.spec.accessModes: Required value: at least 1 access mode is required',
    ]],
  ];
  for (const [name, spec, expected] of cases) assert.deepEqual(messages(validateCreate(POD, pod(spec))), expected, name);
});

test('Pod update', () => {
  const base = () => pod({ containers: [container()], tolerations: [{ key: 'a', operator: 'Exists' }], schedulingGates: [{ name: 'g' }] });
  const updated = base();
  (updated.spec as any).containers[0].image = 'nginx:1.28';
  (updated.spec as any).activeDeadlineSeconds = 100;
  (updated.spec as any).tolerations.push({ key: 'b', operator: 'Exists' });
  (updated.spec as any).schedulingGates = [];
  assert.deepEqual(messages(validateUpdate(POD, updated, base())), []);

  const moved = base();
  (moved.spec as any).nodeName = 'node-1';
  const errs = messages(validateUpdate(POD, moved, base()));
  assert.equal(errs.length, 1);
  assert.ok(
    errs[0]!.startsWith(
      'spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n',
    ),
    errs[0],
  );
  assert.match(errs[0]!, /nodeName/);

  const removed = base();
  (removed.spec as any).tolerations = [];
  assert.deepEqual(messages(validateUpdate(POD, removed, base())), ['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds']);
  const gated = base();
  (gated.spec as any).schedulingGates = [{ name: 'g' }, { name: 'h' }];
  assert.deepEqual(messages(validateUpdate(POD, gated, base())), ["spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'h'"]);
  const more = pod({ containers: [container(), container({ name: 'b' })], tolerations: [{ key: 'a', operator: 'Exists' }], schedulingGates: [{ name: 'g' }] });
  assert.deepEqual(messages(validateUpdate(POD, more, base())), ['spec.containers: Forbidden: pod updates may not add or remove containers']);
});
