import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, prepareForCreate, validateCreate, validateStatusUpdate, validateUpdate } from './index.ts';
import { kube, messages, subdomainMsg } from './test-helpers.ts';

const PVC = 'v1/PersistentVolumeClaim';
const PV = 'v1/PersistentVolume';
const SC = 'storage.k8s.io/v1/StorageClass';

function pvc(spec: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return kube({ metadata: { name: 'claim', namespace: 'default', resourceVersion: '1' }, spec, ...extra });
}
const goodClaimSpec = () => ({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' });

// After TestValidatePersistentVolumeClaim in pkg/apis/core/validation/validation_test.go.
test('PersistentVolumeClaim create', () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['good', goodClaimSpec(), []],
    ['missing accessModes', { ...goodClaimSpec(), accessModes: [] }, ['spec.accessModes: Required value: at least 1 access mode is required']],
    ['unsupported accessMode', { ...goodClaimSpec(), accessModes: ['ReadWriteSometimes'] }, [
      'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
    ]],
    ['ReadWriteOncePod with others', { ...goodClaimSpec(), accessModes: ['ReadWriteOncePod', 'ReadWriteOnce'] }, [
      'spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes',
    ]],
    ['missing storage request', { ...goodClaimSpec(), resources: { requests: {} } }, ['spec.resources[storage]: Required value']],
    ['zero storage request', { ...goodClaimSpec(), resources: { requests: { storage: '0' } } }, ['spec.resources[storage]: Invalid value: "0": must be greater than zero']],
    ['negative storage request', { ...goodClaimSpec(), resources: { requests: { storage: '-1Gi' } } }, ['spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero']],
    ['unparseable storage request', { ...goodClaimSpec(), resources: { requests: { storage: 'lots' } } }, [
      `spec.resources[storage]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    ]],
    ['invalid storageClassName', { ...goodClaimSpec(), storageClassName: 'Fast_SSD' }, [`spec.storageClassName: Invalid value: "Fast_SSD": ${subdomainMsg}`]],
    ['invalid volumeMode', { ...goodClaimSpec(), volumeMode: 'Raw' }, ['spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"']],
    ['snapshot data source', { ...goodClaimSpec(), dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' } }, []],
    ['non-core data source without apiGroup', { ...goodClaimSpec(), dataSource: { kind: 'VolumeSnapshot', name: 'snap' } }, [
      `spec.dataSource: Invalid value: "VolumeSnapshot": must be 'PersistentVolumeClaim' when referencing the default apiGroup`,
    ]],
    ['data source without name and kind', { ...goodClaimSpec(), dataSource: { apiGroup: 'x.io' } }, [
      'spec.dataSource.name: Required value',
      'spec.dataSource.kind: Required value',
    ]],
    ['dataSource and dataSourceRef differ', {
      ...goodClaimSpec(),
      dataSource: { kind: 'PersistentVolumeClaim', name: 'a' },
      dataSourceRef: { kind: 'PersistentVolumeClaim', name: 'b' },
    }, ['spec: Invalid value: "spec.dataSource": must match dataSourceRef']],
    ['dataSource with cross-namespace dataSourceRef', {
      ...goodClaimSpec(),
      dataSource: { kind: 'PersistentVolumeClaim', name: 'a' },
      dataSourceRef: { kind: 'PersistentVolumeClaim', name: 'a', namespace: 'other' },
    }, ['spec: Invalid value: "spec.dataSource": may not be specified when dataSourceRef.namespace is specified']],
    ['invalid selector', { ...goodClaimSpec(), selector: { matchExpressions: [{ key: 'k', operator: 'In', values: [] }] } }, [
      "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    ]],
  ];
  for (const [name, spec, expected] of cases) assert.deepEqual(messages(validateCreate(PVC, pvc(spec))), expected, name);
});

test('PersistentVolumeClaim update', () => {
  const bound = () => pvc({ ...goodClaimSpec(), volumeName: 'pv-1' }, { status: { phase: 'Bound', capacity: { storage: '1Gi' } } });
  // The binder may set volumeName once.
  assert.deepEqual(messages(validateUpdate(PVC, pvc({ ...goodClaimSpec(), volumeName: 'pv-1' }), pvc(goodClaimSpec()))), []);
  // A bound claim may grow.
  const grown = bound();
  (grown.spec as any).resources.requests.storage = '2Gi';
  assert.deepEqual(messages(validateUpdate(PVC, grown, bound())), []);
  // Shrinking to (or below) the recorded capacity is forbidden.
  const old = bound();
  (old.spec as any).resources.requests.storage = '2Gi';
  assert.deepEqual(messages(validateUpdate(PVC, bound(), old)), ['spec.resources.requests.storage: Forbidden: field can not be less than status.capacity']);
  // Any other spec change is forbidden, with the diff after the message.
  const changed = bound();
  (changed.spec as any).accessModes = ['ReadWriteMany'];
  const [err, ...rest] = messages(validateUpdate(PVC, changed, bound()));
  assert.equal(rest.length, 0);
  assert.ok(err!.startsWith('spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n'), err);
  assert.match(err!, /accessModes/);
  // An unbound claim may not change its request.
  const unbound = pvc({ ...goodClaimSpec(), resources: { requests: { storage: '5Gi' } } });
  assert.match(messages(validateUpdate(PVC, unbound, pvc(goodClaimSpec())))[0]!, /^spec: Forbidden: spec is immutable/);
  // volumeMode is reported at the bare "volumeMode" path, as upstream does.
  const block = pvc({ ...goodClaimSpec(), volumeMode: 'Block' });
  assert.ok(messages(validateUpdate(PVC, block, pvc(goodClaimSpec()))).includes('volumeMode: Invalid value: "Block": field is immutable'));
});

test('PersistentVolumeClaim status update and defaults', () => {
  const claim = pvc(goodClaimSpec(), { status: { phase: 'Bound', capacity: { storage: '-1' } } });
  assert.deepEqual(messages(validateStatusUpdate(PVC, claim, pvc(goodClaimSpec()))), ['status.capacity[storage]: Invalid value: "-1": must be a valid resource quantity']);
  const fresh = pvc({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
  applyDefaults(PVC, fresh);
  assert.equal((fresh.spec as any).volumeMode, 'Filesystem');
  assert.deepEqual(fresh.status, { phase: 'Pending' });
  const withStatus = pvc(goodClaimSpec(), { status: { phase: 'Bound' } });
  prepareForCreate(PVC, withStatus);
  assert.deepEqual(withStatus.status, { phase: 'Pending' });
});

function pv(spec: Record<string, unknown>) {
  return kube({ metadata: { name: 'pv-1', resourceVersion: '1' }, spec });
}
const goodVolumeSpec = () => ({
  accessModes: ['ReadWriteOnce'],
  capacity: { storage: '10Gi' },
  persistentVolumeReclaimPolicy: 'Retain',
  volumeMode: 'Filesystem',
  csi: { driver: 'strata.csi.example.com', volumeHandle: 'vol-1' },
});
const zoneAffinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['z1'] }] }] } };

// After TestValidatePersistentVolumes.
test('PersistentVolume create', () => {
  const { csi: _csi, ...noSource } = goodVolumeSpec();
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['good csi volume', goodVolumeSpec(), []],
    ['missing accessModes and capacity', { ...goodVolumeSpec(), accessModes: undefined, capacity: undefined }, [
      'spec.accessModes: Required value',
      'spec.capacity: Required value',
      'spec.capacity: Unsupported value: core.ResourceList(nil): supported values: "storage"',
    ]],
    ['zero capacity', { ...goodVolumeSpec(), capacity: { storage: '0' } }, ['spec.capacity[storage]: Invalid value: "0": must be greater than zero']],
    ['no volume source', noSource, ['spec: Required value: must specify a volume type']],
    ['two volume sources', { ...goodVolumeSpec(), hostPath: { path: '/data' } }, ['spec.csi: Forbidden: may not specify more than 1 volume type']],
    ['bad reclaim policy', { ...goodVolumeSpec(), persistentVolumeReclaimPolicy: 'Keep' }, [
      'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"',
    ]],
    ['local volume without node affinity', { ...noSource, local: { path: '/mnt/disks/a' } }, ['spec.nodeAffinity: Required value: Local volume requires node affinity']],
    ['local volume with node affinity', { ...noSource, local: { path: '/mnt/disks/a' }, nodeAffinity: zoneAffinity }, []],
    ['local path with backsteps', { ...noSource, local: { path: '/mnt/../etc' }, nodeAffinity: zoneAffinity }, [
      "spec.local.path: Invalid value: \"/mnt/../etc\": must not contain '..'",
    ]],
    ['node affinity without required', { ...goodVolumeSpec(), nodeAffinity: {} }, ['spec.nodeAffinity.required: Required value: must specify required node constraints']],
    ['node affinity without terms', { ...goodVolumeSpec(), nodeAffinity: { required: { nodeSelectorTerms: [] } } }, [
      'spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term',
    ]],
    ['node affinity bad operator', { ...goodVolumeSpec(), nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'k', operator: 'Near' }] }] } } }, [
      'spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator',
    ]],
    ['csi without driver and handle', { ...goodVolumeSpec(), csi: {} }, [
      'spec.csi.driver: Required value',
      `spec.csi.driver: Invalid value: "": ${subdomainMsg}`,
      'spec.csi.volumeHandle: Required value',
    ]],
    ['hostPath bad type', { ...noSource, hostPath: { path: '/d', type: 'Pipe' } }, [
      'spec.hostPath.type: Unsupported value: "Pipe": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
    ]],
    ['recycle of /', { ...noSource, hostPath: { path: '/' }, persistentVolumeReclaimPolicy: 'Recycle' }, [
      "spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'",
    ]],
  ];
  for (const [name, spec, expected] of cases) assert.deepEqual(messages(validateCreate(PV, pv(spec))), expected, name);
});

test('PersistentVolume update', () => {
  const changedSource = pv({ ...goodVolumeSpec(), csi: { driver: 'strata.csi.example.com', volumeHandle: 'vol-2' } });
  const [err] = messages(validateUpdate(PV, changedSource, pv(goodVolumeSpec())));
  assert.ok(err!.startsWith('spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\n'), err);
  // Binding (claimRef) and reclaim policy may change.
  const bound = pv({ ...goodVolumeSpec(), claimRef: { namespace: 'default', name: 'claim', uid: 'u' }, persistentVolumeReclaimPolicy: 'Delete' });
  assert.deepEqual(messages(validateUpdate(PV, bound, pv(goodVolumeSpec()))), []);
  // Node affinity may be set once, then not changed.
  assert.deepEqual(messages(validateUpdate(PV, pv({ ...goodVolumeSpec(), nodeAffinity: zoneAffinity }), pv(goodVolumeSpec()))), []);
  const moved = structuredClone(zoneAffinity);
  moved.required.nodeSelectorTerms[0]!.matchExpressions[0]!.values = ['z2'];
  const errs = messages(validateUpdate(PV, pv({ ...goodVolumeSpec(), nodeAffinity: moved }), pv({ ...goodVolumeSpec(), nodeAffinity: zoneAffinity })));
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /^nodeAffinity: Invalid value: .*: field is immutable$/);
});

test('PersistentVolume defaults and initial status', () => {
  const volume = pv({ capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/d' } });
  applyDefaults(PV, volume);
  assert.equal((volume.spec as any).persistentVolumeReclaimPolicy, 'Retain');
  assert.equal((volume.spec as any).volumeMode, 'Filesystem');
  assert.equal((volume.spec as any).hostPath.type, '');
  assert.equal((volume.status as any).phase, 'Pending');
  prepareForCreate(PV, volume);
  assert.equal((volume.status as any).phase, 'Pending');
  assert.match((volume.status as any).lastPhaseTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

function sc(fields: Record<string, unknown>) {
  return kube({ metadata: { name: 'fast', resourceVersion: '1' }, provisioner: 'strata.csi.example.com', reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer', ...fields });
}

// After TestValidateStorageClass / TestValidateStorageClassUpdate in pkg/apis/storage/validation.
test('StorageClass create', () => {
  const topology = (key: string, values: string[]) => ({ matchLabelExpressions: [{ key, values }] });
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['good', {}, []],
    ['missing provisioner', { provisioner: '' }, ['provisioner: Required value']],
    ['invalid provisioner', { provisioner: 'a/b/c' }, [
      "provisioner: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ]],
    ['bad reclaim policy', { reclaimPolicy: 'Recycle' }, ['reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"']],
    ['missing binding mode', { volumeBindingMode: undefined }, ['volumeBindingMode: Required value']],
    ['bad binding mode', { volumeBindingMode: 'Later' }, ['volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"']],
    ['empty parameter key', { parameters: { '': 'v' } }, ['parameters: Invalid value: "": field can not be empty.']],
    ['good topologies', { allowedTopologies: [topology('topology.kubernetes.io/zone', ['z1', 'z2'])] }, []],
    ['topology without values', { allowedTopologies: [topology('topology.kubernetes.io/zone', [])] }, ['allowedTopologies[0].matchLabelExpressions[0].values: Required value']],
    ['duplicate topology value', { allowedTopologies: [topology('zone', ['z1', 'z1'])] }, ['allowedTopologies[0].matchLabelExpressions[0].values[1]: Duplicate value: "z1"']],
    ['duplicate topology key', { allowedTopologies: [{ matchLabelExpressions: [{ key: 'zone', values: ['a'] }, { key: 'zone', values: ['b'] }] }] }, [
      'allowedTopologies[0].matchLabelExpressions[1].key: Duplicate value: "zone"',
    ]],
    ['duplicate topology term', { allowedTopologies: [topology('zone', ['a']), topology('zone', ['a'])] }, ['allowedTopologies[1].matchLabelExpressions: Duplicate value: ""']],
    ['invalid topology key', { allowedTopologies: [topology('bad key', ['a'])] }, [
      "allowedTopologies[0].matchLabelExpressions[0].key: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]],
  ];
  for (const [name, fields, expected] of cases) assert.deepEqual(messages(validateCreate(SC, sc(fields))), expected, name);
});

test('StorageClass update', () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['labels may change', { metadata: { name: 'fast', resourceVersion: '2', labels: { a: 'b' } } }, []],
    ['allowVolumeExpansion may change', { allowVolumeExpansion: true }, []],
    ['parameters', { parameters: { type: 'ssd' } }, ['parameters: Forbidden: updates to parameters are forbidden.']],
    ['provisioner', { provisioner: 'other.example.com' }, ['provisioner: Forbidden: updates to provisioner are forbidden.']],
    ['reclaimPolicy', { reclaimPolicy: 'Retain' }, ['reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.']],
    ['volumeBindingMode', { volumeBindingMode: 'Immediate' }, ['volumeBindingMode: Invalid value: "Immediate": field is immutable']],
  ];
  for (const [name, fields, expected] of cases) assert.deepEqual(messages(validateUpdate(SC, sc(fields), sc({}))), expected, name);
});

test('StorageClass defaults', () => {
  const c = kube({ metadata: { name: 'x' }, provisioner: 'p' });
  applyDefaults(SC, c);
  assert.equal(c.reclaimPolicy, 'Delete');
  assert.equal(c.volumeBindingMode, 'Immediate');
});
