import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/types.ts';
import { ApplyConflictError, PatchError, recordUpdate, serverSideApply } from './index.ts';

const t0 = '2024-05-01T10:00:00.123Z';
const t1 = '2024-05-01T11:00:00Z';
const cmGvk = 'v1/ConfigMap';
const podGvk = 'v1/Pod';

const configMap = (labels: Record<string, string>, data: Record<string, string> = { k: 'v' }, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'default', labels, ...extra },
  data,
});
/** What the API server stores: system metadata added. */
const stored = (obj: KubeObject): KubeObject => ({
  ...obj,
  metadata: { ...obj.metadata, uid: 'u1', resourceVersion: '1', creationTimestamp: '2024-05-01T09:00:00Z' },
});

test('apply creates: the applier owns what it set, name and namespace are not tracked', () => {
  const out = serverSideApply(undefined, configMap({ app: 'web' }), { manager: 'kubectl', force: false, gvk: cmGvk, now: t0 });
  assert.deepEqual(out.metadata.managedFields, [
    {
      manager: 'kubectl',
      operation: 'Apply',
      apiVersion: 'v1',
      time: '2024-05-01T10:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:data': { 'f:k': {} }, 'f:metadata': { 'f:labels': { 'f:app': {} } } },
    },
  ]);
  assert.deepEqual(out.data, { k: 'v' });
  assert.equal(out.metadata.uid, undefined, 'system metadata is the server\'s to set');
});

test('applying the same object twice changes nothing, managedFields time included', () => {
  const first = stored(serverSideApply(undefined, configMap({ app: 'web' }), { manager: 'kubectl', force: false, gvk: cmGvk, now: t0 }));
  const second = serverSideApply(first, configMap({ app: 'web' }), { manager: 'kubectl', force: false, gvk: cmGvk, now: t1 });
  assert.deepEqual(second, first);
});

test('apply that changes a field refreshes the applier time', () => {
  const first = stored(serverSideApply(undefined, configMap({ app: 'web' }), { manager: 'kubectl', force: false, gvk: cmGvk, now: t0 }));
  const second = serverSideApply(first, configMap({ app: 'web' }, { k: 'w' }), { manager: 'kubectl', force: false, gvk: cmGvk, now: t1 });
  assert.equal(second.metadata.managedFields?.[0]?.time, t1);
  assert.deepEqual(second.data, { k: 'w' });
  assert.equal(second.metadata.uid, 'u1');
});

test('fields the applier no longer sets are removed unless another manager owns them', () => {
  let live = stored(serverSideApply(undefined, configMap({ a: '1', b: '2', c: '3' }), { manager: 'mgr', force: false, gvk: cmGvk, now: t0 }));
  // another manager sets label c to the same value: co-owned
  const edited = structuredClone(live);
  recordUpdate(live, edited, { manager: 'editor', gvk: cmGvk, now: t0 });
  live = serverSideApply(live, configMap({ a: '1', c: '3' }, { k: 'v' }), { manager: 'other', force: false, gvk: cmGvk, now: t0 });
  live = serverSideApply(live, configMap({ a: '1' }, {}), { manager: 'mgr', force: false, gvk: cmGvk, now: t1 });
  assert.deepEqual(live.metadata.labels, { a: '1', c: '3' }, 'b pruned; c kept (owned by "other")');
  assert.deepEqual(live.data, { k: 'v' }, 'data.k still owned by "other"');
});

test('conflict with an Update manager: message, causes, and force transfers ownership', () => {
  const live = stored(serverSideApply(undefined, configMap({ app: 'web' }), { manager: 'kubectl', force: false, gvk: cmGvk, now: t0 }));
  const edited = structuredClone(live);
  edited.metadata.labels = { app: 'edited' };
  recordUpdate(live, edited, { manager: 'kubectl-edit', gvk: cmGvk, now: t1 });
  assert.deepEqual(
    edited.metadata.managedFields?.map((m) => [m.manager, m.operation, m.fieldsV1]),
    [
      ['kubectl', 'Apply', { 'f:data': { 'f:k': {} } }],
      ['kubectl-edit', 'Update', { 'f:metadata': { 'f:labels': { 'f:app': {} } } }],
    ],
    'the editor took the label from the applier',
  );
  assert.throws(
    () => serverSideApply(edited, configMap({ app: 'web' }), { manager: 'kubectl', force: false, gvk: cmGvk, now: t1 }),
    (err: unknown) => {
      assert.ok(err instanceof ApplyConflictError);
      assert.equal(err.code, 409);
      assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .metadata.labels.app');
      assert.deepEqual(err.conflicts, [{ manager: 'kubectl-edit', field: '.metadata.labels.app', message: 'conflict with "kubectl-edit" using v1' }]);
      return true;
    },
  );
  const forced = serverSideApply(edited, configMap({ app: 'web' }), { manager: 'kubectl', force: true, gvk: cmGvk, now: t1 });
  assert.deepEqual(forced.metadata.labels, { app: 'web' });
  assert.deepEqual(forced.metadata.managedFields?.map((m) => m.manager), ['kubectl'], 'the editor lost its only field');
});

test('same value is not a conflict: ownership is shared', () => {
  const live = stored(serverSideApply(undefined, configMap({ app: 'web' }), { manager: 'a', force: false, gvk: cmGvk, now: t0 }));
  const out = serverSideApply(live, configMap({ app: 'web' }, {}), { manager: 'b', force: false, gvk: cmGvk, now: t0 });
  assert.deepEqual(out.metadata.managedFields?.map((m) => m.manager), ['a', 'b']);
});

test('conflicts with several managers: grouped by manager, sorted', () => {
  let live = stored(serverSideApply(undefined, configMap({ x: '1', y: '1' }, { k: 'v' }), { manager: 'first', force: false, gvk: cmGvk, now: t0 }));
  const edited = structuredClone(live);
  edited.metadata.labels = { x: '1', y: '1', z: '1' };
  recordUpdate(live, edited, { manager: 'labeler', gvk: cmGvk, now: t0 });
  live = edited;
  assert.throws(
    () => serverSideApply(live, configMap({ x: '2', y: '2', z: '2' }, { k: 'w' }), { manager: 'second', force: false, gvk: cmGvk, now: t1 }),
    (err: unknown) => {
      assert.ok(err instanceof ApplyConflictError);
      assert.equal(
        err.message,
        'Apply failed with 4 conflicts: conflicts with "first":\n- .data.k\n- .metadata.labels.x\n- .metadata.labels.y\nconflicts with "labeler" using v1:\n- .metadata.labels.z',
      );
      assert.equal(err.conflicts.length, 4);
      return true;
    },
  );
});

const pod = (containers: unknown[], extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', ...extra },
  spec: { containers },
});

test('associative lists: k:{...} items with ".", port keys with the protocol default, set items v:', () => {
  const out = serverSideApply(
    undefined,
    pod([{ name: 'app', image: 'nginx', ports: [{ containerPort: 80 }] }], { finalizers: ['example.com/f'] }),
    { manager: 'kubectl', force: false, gvk: podGvk, now: t0 },
  );
  assert.deepEqual(out.metadata.managedFields?.[0]?.fieldsV1, {
    'f:metadata': { 'f:finalizers': { 'v:"example.com/f"': {} } },
    'f:spec': {
      'f:containers': {
        'k:{"name":"app"}': {
          '.': {},
          'f:image': {},
          'f:name': {},
          'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
        },
      },
    },
  });
});

test('list items: merged by key, dropped when the applier stops listing them', () => {
  const gvk = podGvk;
  let live = stored(serverSideApply(undefined, pod([{ name: 'a', image: 'a' }, { name: 'b', image: 'b' }]), { manager: 'm', force: false, gvk, now: t0 }));
  const withSidecar = structuredClone(live);
  (withSidecar.spec as { containers: unknown[] }).containers.push({ name: 'injected', image: 'i' });
  recordUpdate(live, withSidecar, { manager: 'injector', gvk, now: t0 });
  live = serverSideApply(withSidecar, pod([{ name: 'a', image: 'a2' }]), { manager: 'm', force: false, gvk, now: t1 });
  assert.deepEqual((live.spec as { containers: unknown[] }).containers, [
    { name: 'a', image: 'a2' },
    { name: 'injected', image: 'i' },
  ]);
});

test('kubectl --server-side after client-side apply: conflicts on still-last-applied fields are allowed, annotation synced', () => {
  const lastApplied = JSON.stringify(configMap({ app: 'web' }));
  const created = configMap({ app: 'web' }, { k: 'v' }, { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied } });
  const live = stored(structuredClone(created));
  recordUpdate(undefined, live, { manager: 'kubectl-client-side-apply', gvk: cmGvk, now: t0 });
  assert.deepEqual(live.metadata.managedFields?.[0]?.fieldsV1, {
    'f:data': { '.': {}, 'f:k': {} },
    'f:metadata': {
      'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} },
      'f:labels': { '.': {}, 'f:app': {} },
    },
  });

  const applied = configMap({ app: 'api' }, { k: 'v' });
  assert.throws(
    () => serverSideApply(live, applied, { manager: 'other', force: false, gvk: cmGvk, now: t1 }),
    (err: unknown) =>
      err instanceof ApplyConflictError &&
      err.message === 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .metadata.labels.app',
  );
  const out = serverSideApply(live, applied, { manager: 'kubectl', force: false, gvk: cmGvk, now: t1 });
  assert.deepEqual(out.metadata.labels, { app: 'api' });
  assert.equal(out.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], '{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"labels":{"app":"api"},"name":"c","namespace":"default"}}\n');
});

test('apply body errors: other kind (400), managedFields set (400)', () => {
  const wrongKind = { ...configMap({}), kind: 'Secret' };
  assert.throws(
    () => serverSideApply(undefined, wrongKind, { manager: 'm', force: false, gvk: cmGvk, now: t0 }),
    (err: unknown) => err instanceof PatchError && err.code === 400 && err.message === 'invalid object type: /v1, Kind=Secret',
  );
  const withManaged = configMap({}, {}, { managedFields: [] });
  assert.throws(
    () => serverSideApply(undefined, withManaged, { manager: 'm', force: false, gvk: cmGvk, now: t0 }),
    (err: unknown) => err instanceof PatchError && err.code === 400 && err.message === 'metadata.managedFields must be nil',
  );
});

test('recordUpdate on create: maps and list items get ".", top-level structs do not', () => {
  const created = pod([{ name: 'a', image: 'x' }], { labels: { app: 'web' } });
  recordUpdate(undefined, created, { manager: 'kubectl-create', gvk: podGvk, now: t0 });
  assert.deepEqual(created.metadata.managedFields, [
    {
      manager: 'kubectl-create',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2024-05-01T10:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
        'f:spec': { 'f:containers': { '.': {}, 'k:{"name":"a"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
      },
    },
  ]);
});

test('recordUpdate that changes nothing keeps managedFields (and their times) as they were', () => {
  const live = configMap({ app: 'web' });
  recordUpdate(undefined, live, { manager: 'a', gvk: cmGvk, now: t0 });
  const same = structuredClone(live);
  recordUpdate(live, same, { manager: 'b', gvk: cmGvk, now: t1 });
  assert.deepEqual(same, live);
});

test('recordUpdate with managedFields [{}] resets them; a manager updating again keeps one entry', () => {
  const live = configMap({ app: 'web' });
  recordUpdate(undefined, live, { manager: 'a', gvk: cmGvk, now: t0 });
  const next = structuredClone(live);
  next.data = { k: 'w' };
  recordUpdate(live, next, { manager: 'a', gvk: cmGvk, now: t1 });
  assert.equal(next.metadata.managedFields?.length, 1);
  assert.equal(next.metadata.managedFields?.[0]?.time, t1);
  const reset = structuredClone(next);
  reset.metadata.managedFields = [{}];
  reset.data = { k: 'z' };
  recordUpdate(next, reset, { manager: 'b', gvk: cmGvk, now: t1 });
  assert.deepEqual(reset.metadata.managedFields?.map((m) => [m.manager, m.fieldsV1]), [['b', { 'f:data': { 'f:k': {} } }]]);
});

test('status subresource: tracked with subresource "status"; main resource ignores status', () => {
  const live: KubeObject = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'c' }, spec: { volumeName: '' } };
  const updated = structuredClone(live);
  updated.status = { phase: 'Bound' };
  recordUpdate(live, updated, { manager: 'pv-binder', gvk: 'v1/PersistentVolumeClaim', now: t0, subresource: 'status' });
  assert.deepEqual(updated.metadata.managedFields, [
    {
      manager: 'pv-binder',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2024-05-01T10:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { 'f:phase': {} } },
      subresource: 'status',
    },
  ]);
  const applied = serverSideApply(undefined, { ...live, status: { phase: 'Lost' } }, { manager: 'm', force: false, gvk: 'v1/PersistentVolumeClaim', now: t0 });
  assert.deepEqual(applied.metadata.managedFields?.[0]?.fieldsV1, { 'f:spec': { 'f:volumeName': {} } });
});

test('managedFields order: Apply entries first, then by time', () => {
  let live = stored(serverSideApply(undefined, configMap({ a: '1' }), { manager: 'z-applier', force: false, gvk: cmGvk, now: t1 }));
  const edited = structuredClone(live);
  edited.metadata.labels = { a: '1', b: '2' };
  recordUpdate(live, edited, { manager: 'a-editor', gvk: cmGvk, now: t0 });
  live = edited;
  assert.deepEqual(live.metadata.managedFields?.map((m) => `${m.operation}:${m.manager}`), ['Apply:z-applier', 'Update:a-editor']);
});

test('a map key named like an Object.prototype member is kept and owned like any other', () => {
  const live = stored(configMap({}, { constructor: 'x', a: '1' }));
  delete live.metadata.labels;
  recordUpdate(undefined, live, { manager: 'kubectl-create', gvk: cmGvk, now: t0 });
  const applied = configMap({}, { a: '2' });
  delete applied.metadata.labels;
  const out = serverSideApply(live, applied, { manager: 'kubectl', force: true, gvk: cmGvk, now: t1 });
  assert.deepEqual(out.data, { constructor: 'x', a: '2' });
  assert.deepEqual(out.metadata.managedFields?.map((m) => [m.manager, m.fieldsV1]), [
    ['kubectl', { 'f:data': { 'f:a': {} } }],
    ['kubectl-create', { 'f:data': { '.': {}, 'f:constructor': {} } }],
  ]);
});
