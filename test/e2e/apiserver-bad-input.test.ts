// Bad input gets kube-apiserver's answer — code, reason, message, field path — and changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiServerProcess } from '../helpers/processes.ts';
import { apiRequest, startApiServerProcess } from '../helpers/processes.ts';

interface StatusBody {
  kind: string;
  status: string;
  reason?: string;
  message: string;
  code: number;
  details?: { causes?: Array<{ field: string; reason: string; message: string }> };
}

describe('API server bad input', () => {
  let srv: ApiServerProcess;
  before(async () => {
    srv = await startApiServerProcess({ storage: 'memory' });
  });
  after(async () => {
    await srv?.cleanup();
  });

  async function currentRV(): Promise<string> {
    const r = await srv.request('GET', '/api/v1/namespaces');
    return JSON.parse(r.body).metadata.resourceVersion;
  }

  /** Sends a request that must be refused; checks the Status and that the store did not move. */
  async function refused(method: string, path: string, body: unknown, want: { code: number; reason?: string; message: RegExp; fields?: string[] }, headers?: Record<string, string>) {
    const before = await currentRV();
    const r = await srv.request(method, path, body, headers);
    assert.equal(r.status, want.code, `${method} ${path}: ${r.body}`);
    const s = JSON.parse(r.body) as StatusBody;
    assert.equal(s.kind, 'Status');
    assert.equal(s.status, 'Failure');
    assert.equal(s.code, want.code);
    if (want.reason) assert.equal(s.reason, want.reason);
    assert.match(s.message, want.message);
    if (want.fields) assert.deepEqual(s.details?.causes?.map((c) => c.field), want.fields);
    assert.equal(await currentRV(), before, 'a rejected request must not write');
    return s;
  }

  const pvc = (spec: unknown, name = 'bad') => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec });

  it('PVC needs accessModes and resources.requests.storage', async () => {
    await refused('POST', '/api/v1/namespaces/default/persistentvolumeclaims', pvc({}), {
      code: 422, reason: 'Invalid',
      message: /^PersistentVolumeClaim "bad" is invalid: \[spec\.accessModes: Required value: at least 1 access mode is required, spec\.resources\[storage\]: Required value\]$/,
      fields: ['spec.accessModes', 'spec.resources[storage]'],
    });
  });

  it('quantities parse exactly as Kubernetes parses them', async () => {
    await refused('POST', '/api/v1/namespaces/default/persistentvolumeclaims', pvc({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10 Gi' } } }), {
      code: 422, message: /quantities must match the regular expression/,
    });
    const good = await srv.request('POST', '/api/v1/namespaces/default/persistentvolumeclaims', pvc({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1.5Gi' } } }, 'good'));
    assert.equal(good.status, 201, good.body);
  });

  it('PV needs capacity, accessModes and exactly one source; a local PV needs nodeAffinity', async () => {
    const pv = (spec: unknown) => ({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv-bad' }, spec });
    const s = await refused('POST', '/api/v1/persistentvolumes', pv({}), { code: 422, message: /^PersistentVolume "pv-bad" is invalid: / });
    assert.match(s.message, /spec\.accessModes: Required value/);
    assert.match(s.message, /spec\.capacity: Required value/);
    assert.match(s.message, /must specify a volume type/);
    await refused('POST', '/api/v1/persistentvolumes', pv({
      capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/tmp/a' }, local: { path: '/tmp/b' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n'] }] }] } },
    }), { code: 422, message: /may not specify more than 1 volume type/ });
    await refused('POST', '/api/v1/persistentvolumes', pv({ capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], local: { path: '/mnt/x' } }), {
      code: 422, message: /spec\.nodeAffinity: Required value: Local volume requires node affinity/,
    });
  });

  it('StorageClass needs a provisioner and its parameters are immutable', async () => {
    await refused('POST', '/apis/storage.k8s.io/v1/storageclasses', { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'noprov' } }, {
      code: 422, message: /^StorageClass\.storage\.k8s\.io "noprov" is invalid: provisioner: Required value$/, fields: ['provisioner'],
    });
    const sc = { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'fixed' }, provisioner: 'csi.strata.io', parameters: { type: 'zonal' } };
    assert.equal((await srv.request('POST', '/apis/storage.k8s.io/v1/storageclasses', sc)).status, 201);
    for (const [field, change] of [['parameters', { parameters: { type: 'local' } }], ['provisioner', { provisioner: 'other.example.com' }], ['reclaimPolicy', { reclaimPolicy: 'Retain' }]] as const) {
      await refused('PATCH', '/apis/storage.k8s.io/v1/storageclasses/fixed', change, {
        code: 422, message: new RegExp(`${field}: Forbidden: updates to ${field} are forbidden\\.`),
      }, { 'Content-Type': 'application/merge-patch+json' });
    }
    // volumeBindingMode uses the generic immutability check upstream. allowedTopologies may change, as upstream's
    // ValidateStorageClassUpdate leaves it out (the scheduler requeues pods on that change).
    await refused('PATCH', '/apis/storage.k8s.io/v1/storageclasses/fixed', { volumeBindingMode: 'WaitForFirstConsumer' }, {
      code: 422, message: /volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable/,
    }, { 'Content-Type': 'application/merge-patch+json' });
    const topologies = [{ matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['zone-b'] }] }];
    const changed = await srv.request('PATCH', '/apis/storage.k8s.io/v1/storageclasses/fixed', { allowedTopologies: topologies }, { 'Content-Type': 'application/merge-patch+json' });
    assert.equal(changed.status, 200, changed.body);
    assert.deepEqual(JSON.parse(changed.body).allowedTopologies, topologies);
  });

  it('a bound PVC spec is immutable except resources.requests', async () => {
    const created = await srv.request('POST', '/api/v1/namespaces/default/persistentvolumeclaims', pvc({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeName: 'pv-x' }, 'bound'));
    assert.equal(created.status, 201, created.body);
    await refused('PATCH', '/api/v1/namespaces/default/persistentvolumeclaims/bound', { spec: { accessModes: ['ReadWriteMany'] } }, {
      code: 422, message: /spec: Forbidden: spec is immutable after creation except resources\.requests/,
    }, { 'Content-Type': 'application/merge-patch+json' });
  });

  it('VolumeSnapshot needs exactly one source, VolumeSnapshotContent a full volumeSnapshotRef', async () => {
    const vs = (source: unknown) => ({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: 'vs-bad' }, spec: { source } });
    await refused('POST', '/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots', vs({ persistentVolumeClaimName: 'a', volumeSnapshotContentName: 'b' }), {
      code: 422, message: /spec\.source: Invalid value: "object": exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set/,
    });
    await refused('POST', '/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots', vs({}), {
      code: 422, message: /spec\.source: Invalid value: "object": exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set/,
    });
    await refused('POST', '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents', {
      apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', metadata: { name: 'vsc-bad' },
      spec: { deletionPolicy: 'Delete', driver: 'csi.strata.io', source: { snapshotHandle: 'h' }, volumeSnapshotRef: { name: 'x' } },
    }, { code: 422, message: /both spec\.volumeSnapshotRef\.name and spec\.volumeSnapshotRef\.namespace must be set/ });
  });

  it('names are DNS-1123 as upstream', async () => {
    await refused('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name' } }, {
      code: 422, message: /metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters/,
      fields: ['metadata.name'],
    });
  });

  it('fieldValidation: Strict rejects unknown fields, Warn warns, Ignore drops', async () => {
    const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' }, spec: { foo: 1 } });
    await refused('POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Strict', cm('strict'), {
      code: 400, reason: 'BadRequest', message: /^strict decoding error: unknown field "spec"$/,
    });
    const warn = await srv.request('POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Warn', cm('warn'));
    assert.equal(warn.status, 201);
    assert.match(String(warn.headers.warning), /299 - "unknown field \\"spec\\""/);
    assert.equal(JSON.parse(warn.body).spec, undefined);
    const ignore = await srv.request('POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Ignore', cm('ignore'));
    assert.equal(ignore.status, 201);
    assert.equal(ignore.headers.warning, undefined);
    const pvcUnknown = pvc({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, foo: 'bar' }, 'strict-pvc');
    await refused('POST', '/api/v1/namespaces/default/persistentvolumeclaims?fieldValidation=Strict', pvcUnknown, {
      code: 400, message: /^strict decoding error: unknown field "spec\.foo"$/,
    });
  });

  it('malformed JSON and YAML get 400 with a clear message', async () => {
    await refused('POST', '/api/v1/namespaces/default/configmaps', '{"apiVersion": "v1", "kind": ', { code: 400, reason: 'BadRequest', message: /json parse error/ });
    await refused('POST', '/api/v1/namespaces/default/configmaps', 'kind: [unclosed', { code: 400, reason: 'BadRequest', message: /YAML/ }, { 'Content-Type': 'application/yaml' });
    await refused('POST', '/api/v1/namespaces/default/configmaps', '[1,2]', { code: 400, message: /object/ });
    await refused('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }, { code: 400, message: /ConfigMap/ });
    await refused('PATCH', '/api/v1/namespaces/default/configmaps/warn', '{"data":', { code: 400, message: /json parse error/ }, { 'Content-Type': 'application/merge-patch+json' });
    await refused('PATCH', '/api/v1/namespaces/default/configmaps/warn', { data: {} }, { code: 415, reason: 'UnsupportedMediaType', message: /unknown format/ }, { 'Content-Type': 'text/plain' });
  });

  it('bodies over 3 MiB get 413', async () => {
    const big = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { a: 'x'.repeat(3 * 1024 * 1024 + 10) } };
    await refused('POST', '/api/v1/namespaces/default/configmaps', big, { code: 413, reason: 'RequestEntityTooLarge', message: /Request entity too large: limit is 3145728/ });
  });

  it('a wrong or missing token gets 401; /version and /healthz stay public', async () => {
    const wrong = await apiRequest(srv.agent, srv.url, 'not-the-token', 'GET', '/api/v1/namespaces');
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.body).reason, 'Unauthorized');
    const none = await apiRequest(srv.agent, srv.url, '', 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'anon' } });
    assert.equal(none.status, 401);
    assert.equal((await srv.request('GET', '/api/v1/namespaces/default/configmaps/anon')).status, 404);
    assert.equal((await apiRequest(srv.agent, srv.url, '', 'GET', '/version')).status, 200);
    assert.equal((await apiRequest(srv.agent, srv.url, '', 'GET', '/healthz')).status, 200);
  });

  it('unknown resources and objects get 404 NotFound', async () => {
    const r = await srv.request('GET', '/api/v1/namespaces/default/widgets');
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).reason, 'NotFound');
    const o = await srv.request('GET', '/api/v1/namespaces/default/persistentvolumeclaims/nope');
    assert.equal(o.status, 404);
    assert.equal(JSON.parse(o.body).message, 'persistentvolumeclaims "nope" not found');
    await refused('POST', '/api/v1/namespaces/nowhere/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, { code: 404, message: /^namespaces "nowhere" not found$/ });
  });

  it('a stale resourceVersion gets 409 Conflict', async () => {
    const cur = JSON.parse((await srv.request('GET', '/api/v1/namespaces/default/configmaps/warn')).body);
    const stale = { ...cur, data: { a: 'first' } };
    assert.equal((await srv.request('PUT', '/api/v1/namespaces/default/configmaps/warn', stale)).status, 200);
    await refused('PUT', '/api/v1/namespaces/default/configmaps/warn', { ...cur, data: { a: 'second' } }, {
      code: 409, reason: 'Conflict',
      message: /^Operation cannot be fulfilled on configmaps "warn": the object has been modified; please apply your changes to the latest version and try again$/,
    });
  });

  it('creating an existing object gets 409 AlreadyExists', async () => {
    await refused('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'warn' } }, {
      code: 409, reason: 'AlreadyExists', message: /^configmaps "warn" already exists$/,
    });
  });

  it('no input produces a 500', async () => {
    const bodies = ['null', '""', '0', '{"metadata": 5}', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":"no"}}',
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","finalizers":[1]}}', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":[1]}'];
    for (const b of bodies) {
      const r = await srv.request('POST', '/api/v1/namespaces/default/configmaps', b);
      assert.ok(r.status >= 400 && r.status < 500, `${b} → ${r.status} ${r.body}`);
    }
    const typed = await srv.request('POST', '/api/v1/namespaces/default/configmaps', bodies[4]);
    assert.equal(JSON.parse(typed.body).message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string');
  });
  it('keys named __proto__ or constructor are data like any other, and no write reaches Object.prototype', async () => {
    const path = '/api/v1/namespaces/default/configmaps';
    // As text: in an object literal, __proto__ would set the prototype rather than make a key.
    const body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"protos"},"data":{"__proto__":"p","constructor":"c","toString":"t"}}';
    assert.equal((await srv.request('POST', path, body)).status, 201);
    const patches: Array<[string, string]> = [
      ['application/merge-patch+json', '{"data":{"m":"1"},"metadata":{"__proto__":{"pollutedMerge":"yes"}}}'],
      ['application/strategic-merge-patch+json', '{"data":{"s":"1"},"metadata":{"__proto__":{"pollutedStrategic":"yes"}}}'],
      ['application/json-patch+json', '[{"op":"add","path":"/data/j","value":"1"}]'],
      ['application/apply-patch+yaml', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"protos"},"data":{"a":"1"}}'],
    ];
    for (const [type, patch] of patches) {
      const force = type === 'application/apply-patch+yaml' ? '&force=true' : '';
      const r = await srv.request('PATCH', `${path}/protos?fieldManager=protos${force}`, patch, { 'Content-Type': type });
      assert.equal(r.status, 200, `${type}: ${r.body}`);
    }
    const polluting = await srv.request('PATCH', `${path}/protos`, '[{"op":"add","path":"/metadata/__proto__/pollutedJson","value":"yes"}]', { 'Content-Type': 'application/json-patch+json' });
    assert.ok(polluting.status >= 400 && polluting.status < 500, polluting.body);
    const got = JSON.parse((await srv.request('GET', `${path}/protos`)).body);
    assert.deepEqual(Object.keys(got.data).sort(), ['__proto__', 'a', 'constructor', 'j', 'm', 's', 'toString']);
    assert.equal(got.metadata.__proto__, Object.prototype, 'the unknown metadata field was dropped');
    assert.equal(Object.getOwnPropertyDescriptor(got.data, '__proto__')?.value, 'p');
    const fields = JSON.stringify(got.metadata.managedFields);
    for (const key of ['__proto__', 'constructor', 'toString']) assert.ok(fields.includes(`"f:${key}"`), `${key} owned: ${fields}`);
    // Nothing leaked into other objects (an inherited enumerable member would show up in every copy the server makes).
    assert.equal((await srv.request('POST', path, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'clean' }, data: { x: '1' } })).status, 201);
    const clean = await srv.request('GET', `${path}/clean`);
    assert.doesNotMatch(clean.body, /polluted/);
    assert.deepEqual(JSON.parse(clean.body).data, { x: '1' });
  });
});
