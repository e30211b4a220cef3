// Server-side Table printing, as kube-apiserver answers `kubectl get` (Accept: application/json;as=Table;v=v1;g=meta.k8s.io).
// Built-in kinds follow kubernetes pkg/printers/internalversion/printers.go (the server always prints the wide cells;
// kubectl hides columns of priority 1 unless -o wide). Snapshot kinds follow the external-snapshotter CRDs'
// additionalPrinterColumns as the apiextensions table convertor renders them. Other kinds get the default convertor.
import type { KubeObject } from '../api/types.ts';
import { formatQuantity, tryParseQuantity } from '../api/quantity.ts';
import { metaTime } from '../api/time.ts';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

// metav1.ObjectMeta SwaggerDoc entries. Columns whose upstream description is another field's SwaggerDoc carry ""
// (kubectl never shows descriptions).
const nameDoc =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
const creationTimestampDoc =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

function column(name: string, type: string, description = '', priority = 0, format = ''): TableColumnDefinition {
  return { name, type, format, description, priority };
}
const nameColumn = (priority = 0) => column('Name', 'string', nameDoc, priority, 'name');
const ageColumn = () => column('Age', 'string', creationTimestampDoc);

// ---- cell helpers ----

/** duration.HumanDuration, for a duration in milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(ms / 3_600_000);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    const years = Math.trunc(hours / 24 / 365);
    return days === 0 ? `${years}y` : `${years}y${days}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** A metav1.Time as milliseconds since the epoch; undefined for the zero (unset) time. */
function timeOf(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) || ms === Date.parse('0001-01-01T00:00:00Z') ? undefined : ms;
}
/** translateTimestampSince. */
function since(timestamp: unknown, now: Date): string {
  const t = timeOf(timestamp);
  return t === undefined ? '<unknown>' : humanDuration(now.getTime() - t);
}

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const bool = (v: unknown, dflt: boolean): boolean => (typeof v === 'boolean' ? v : dflt);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const orPlaceholder = (v: unknown, placeholder: string) => (typeof v === 'string' && v !== '' ? v : placeholder);

/** A resource.Quantity field as its String(); a missing one is the zero quantity, "0". */
function quantityCell(v: unknown): string {
  const q = tryParseQuantity(v);
  return q ? formatQuantity(q) : '0';
}

/** helper.GetAccessModesAsString: a fixed order, duplicates removed. */
function accessModesString(modes: unknown): string {
  const present = new Set(arr(modes));
  const abbreviations: Array<[string, string]> = [
    ['ReadWriteOnce', 'RWO'], ['ReadOnlyMany', 'ROX'], ['ReadWriteMany', 'RWX'], ['ReadWriteOncePod', 'RWOP'],
  ];
  return abbreviations.filter(([mode]) => present.has(mode)).map(([, short]) => short).join(',');
}

const betaStorageClassAnnotation = 'volume.beta.kubernetes.io/storage-class';
/** GetPersistentVolume(Claim)Class: the beta annotation wins over spec.storageClassName. */
function storageClassOf(obj: KubeObject, spec: Obj): string {
  const annotations = obj.metadata.annotations ?? {};
  if (Object.hasOwn(annotations, betaStorageClassAnnotation)) return annotations[betaStorageClassAnnotation]!;
  return str(spec['storageClassName']);
}

// ---- built-in kinds ----

interface Printer {
  columns: TableColumnDefinition[];
  row(obj: KubeObject, now: Date): unknown[];
}

const nodeUnreachablePodReason = 'NodeLost';

function printPod(obj: KubeObject, now: Date): unknown[] {
  const spec = rec(obj['spec']);
  const status = rec(obj['status']);
  const phase = str(status['phase']);
  const initContainers = arr(spec['initContainers']).map(rec);
  const restartable = new Set(initContainers.filter((c) => c['restartPolicy'] === 'Always').map((c) => str(c['name'])));
  const totalContainers = arr(spec['containers']).length + restartable.size;
  let readyContainers = 0;
  let restarts = 0;
  let restartableRestarts = 0;
  let lastRestart = 0;
  let lastRestartableRestart = 0;
  let reason = str(status['reason']) || phase;
  const conditions = arr(status['conditions']).map(rec);
  if (conditions.some((c) => c['type'] === 'PodScheduled' && c['reason'] === 'SchedulingGated')) reason = 'SchedulingGated';
  const finishedAt = (c: Obj) => timeOf(rec(rec(c['lastState'])['terminated'])['finishedAt']) ?? 0;

  let initializing = false;
  const initStatuses = arr(status['initContainerStatuses']).map(rec);
  for (const [i, c] of initStatuses.entries()) {
    const state = rec(c['state']);
    const terminated = state['terminated'] === undefined ? undefined : rec(state['terminated']);
    const waiting = state['waiting'] === undefined ? undefined : rec(state['waiting']);
    const isRestartable = restartable.has(str(c['name']));
    restarts += num(c['restartCount']);
    lastRestart = Math.max(lastRestart, finishedAt(c));
    if (isRestartable) {
      restartableRestarts += num(c['restartCount']);
      lastRestartableRestart = Math.max(lastRestartableRestart, finishedAt(c));
    }
    if (terminated && num(terminated['exitCode']) === 0) continue;
    if (isRestartable && c['started'] === true) {
      if (c['ready'] === true) readyContainers++;
      continue;
    }
    if (terminated) {
      const terminatedReason = str(terminated['reason']);
      if (terminatedReason) reason = `Init:${terminatedReason}`;
      else if (num(terminated['signal']) !== 0) reason = `Init:Signal:${num(terminated['signal'])}`;
      else reason = `Init:ExitCode:${num(terminated['exitCode'])}`;
    } else if (waiting && str(waiting['reason']) && waiting['reason'] !== 'PodInitializing') {
      reason = `Init:${str(waiting['reason'])}`;
    } else {
      reason = `Init:${i}/${initContainers.length}`;
    }
    initializing = true;
    break;
  }

  const initialized = conditions.some((c) => c['type'] === 'Initialized' && c['status'] === 'True');
  if (!initializing || initialized) {
    restarts = restartableRestarts;
    lastRestart = lastRestartableRestart;
    let hasRunning = false;
    const statuses = arr(status['containerStatuses']).map(rec);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      const state = rec(c['state']);
      const terminated = state['terminated'] === undefined ? undefined : rec(state['terminated']);
      restarts += num(c['restartCount']);
      lastRestart = Math.max(lastRestart, finishedAt(c));
      if (str(rec(state['waiting'])['reason'])) reason = str(rec(state['waiting'])['reason']);
      else if (terminated && str(terminated['reason'])) reason = str(terminated['reason']);
      else if (terminated) {
        reason = num(terminated['signal']) !== 0 ? `Signal:${num(terminated['signal'])}` : `ExitCode:${num(terminated['exitCode'])}`;
      } else if (c['ready'] === true && state['running'] !== undefined) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A completed container next to a running one: the pod is still running.
    if (reason === 'Completed' && hasRunning) {
      reason = conditions.some((c) => c['type'] === 'Ready' && c['status'] === 'True') ? 'Running' : 'NotReady';
    }
  }

  if (obj.metadata.deletionTimestamp && status['reason'] === nodeUnreachablePodReason) reason = 'Unknown';
  else if (obj.metadata.deletionTimestamp && phase !== 'Failed' && phase !== 'Succeeded') reason = 'Terminating';

  const restartsCell = restarts !== 0 && lastRestart !== 0 ? `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)` : `${restarts}`;
  const podIPs = arr(status['podIPs']).map(rec);
  const podIP = podIPs.length > 0 ? str(podIPs[0]!['ip']) : str(status['podIP']);
  const readinessGates = arr(spec['readinessGates']).map(rec);
  let readinessGatesCell = '<none>';
  if (readinessGates.length > 0) {
    const trueConditions = readinessGates.filter((g) => conditions.find((c) => c['type'] === g['conditionType'])?.['status'] === 'True').length;
    readinessGatesCell = `${trueConditions}/${readinessGates.length}`;
  }
  return [
    obj.metadata.name ?? '',
    `${readyContainers}/${totalContainers}`,
    reason,
    restartsCell,
    since(obj.metadata.creationTimestamp, now),
    orPlaceholder(podIP, '<none>'),
    orPlaceholder(spec['nodeName'], '<none>'),
    orPlaceholder(status['nominatedNodeName'], '<none>'),
    readinessGatesCell,
  ];
}

const labelNodeRolePrefix = 'node-role.kubernetes.io/';
const nodeLabelRole = 'kubernetes.io/role';

function printNode(obj: KubeObject, now: Date): unknown[] {
  const spec = rec(obj['spec']);
  const status = rec(obj['status']);
  const ready = arr(status['conditions']).map(rec).findLast((c) => c['type'] === 'Ready');
  const states = [ready === undefined ? 'Unknown' : ready['status'] === 'True' ? 'Ready' : 'NotReady'];
  if (spec['unschedulable'] === true) states.push('SchedulingDisabled');
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (k.startsWith(labelNodeRolePrefix) && k.length > labelNodeRolePrefix.length) roles.add(k.slice(labelNodeRolePrefix.length));
    else if (k === nodeLabelRole && v !== '') roles.add(v);
  }
  const addresses = arr(status['addresses']).map(rec);
  const address = (type: string) => str(addresses.find((a) => a['type'] === type)?.['address']) || '<none>';
  const nodeInfo = rec(status['nodeInfo']);
  return [
    obj.metadata.name ?? '',
    states.join(','),
    roles.size > 0 ? [...roles].sort().join(',') : '<none>',
    since(obj.metadata.creationTimestamp, now),
    str(nodeInfo['kubeletVersion']),
    address('InternalIP'),
    address('ExternalIP'),
    orPlaceholder(nodeInfo['osImage'], '<unknown>'),
    orPlaceholder(nodeInfo['kernelVersion'], '<unknown>'),
    orPlaceholder(nodeInfo['containerRuntimeVersion'], '<unknown>'),
  ];
}

function printPersistentVolume(obj: KubeObject, now: Date): unknown[] {
  const spec = rec(obj['spec']);
  const claimRef = spec['claimRef'] === undefined ? undefined : rec(spec['claimRef']);
  return [
    obj.metadata.name ?? '',
    quantityCell(rec(spec['capacity'])['storage']),
    accessModesString(spec['accessModes']),
    str(spec['persistentVolumeReclaimPolicy']),
    obj.metadata.deletionTimestamp ? 'Terminating' : str(rec(obj['status'])['phase']),
    claimRef ? `${str(claimRef['namespace'])}/${str(claimRef['name'])}` : '',
    storageClassOf(obj, spec),
    orPlaceholder(spec['volumeAttributesClassName'], '<unset>'),
    str(rec(obj['status'])['reason']),
    since(obj.metadata.creationTimestamp, now),
    orPlaceholder(spec['volumeMode'], '<unset>'),
  ];
}

function printPersistentVolumeClaim(obj: KubeObject, now: Date): unknown[] {
  const spec = rec(obj['spec']);
  const status = rec(obj['status']);
  const bound = str(spec['volumeName']) !== '';
  return [
    obj.metadata.name ?? '',
    obj.metadata.deletionTimestamp ? 'Terminating' : str(status['phase']),
    str(spec['volumeName']),
    bound ? quantityCell(rec(status['capacity'])['storage']) : '',
    bound ? accessModesString(status['accessModes']) : '',
    storageClassOf(obj, spec),
    orPlaceholder(spec['volumeAttributesClassName'], '<unset>'),
    since(obj.metadata.creationTimestamp, now),
    orPlaceholder(spec['volumeMode'], '<unset>'),
  ];
}

const defaultStorageClassAnnotations = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];

function printStorageClass(obj: KubeObject, now: Date): unknown[] {
  const annotations = obj.metadata.annotations ?? {};
  const isDefault = defaultStorageClassAnnotations.some((a) => annotations[a] === 'true');
  return [
    (obj.metadata.name ?? '') + (isDefault ? ' (default)' : ''),
    str(obj['provisioner']),
    orPlaceholder(obj['reclaimPolicy'], 'Delete'),
    orPlaceholder(obj['volumeBindingMode'], 'Immediate'),
    bool(obj['allowVolumeExpansion'], false),
    since(obj.metadata.creationTimestamp, now),
  ];
}

/** formatEventSource: component (or reportingController), then ", host" (or reportingInstance) when set. */
function eventSource(obj: KubeObject): string {
  const source = rec(obj['source']);
  const component = str(source['component']) || str(obj['reportingComponent']);
  const instance = str(source['host']) || str(obj['reportingInstance']);
  return instance ? `${component}, ${instance}` : component;
}

function printEvent(obj: KubeObject, now: Date): unknown[] {
  const involved = rec(obj['involvedObject']);
  const firstSeen = timeOf(obj['firstTimestamp']) === undefined ? since(obj['eventTime'], now) : since(obj['firstTimestamp'], now);
  let lastSeen = timeOf(obj['lastTimestamp']) === undefined ? firstSeen : since(obj['lastTimestamp'], now);
  let count = num(obj['count']);
  const series = obj['series'];
  if (series !== undefined && series !== null) {
    lastSeen = since(rec(series)['lastObservedTime'], now);
    count = num(rec(series)['count']);
  } else if (count === 0) {
    count = 1; // singleton events of the events.k8s.io API carry no count
  }
  const kind = str(involved['kind']).toLowerCase();
  return [
    lastSeen,
    str(obj['type']),
    str(obj['reason']),
    str(involved['name']) ? `${kind}/${str(involved['name'])}` : kind,
    str(involved['fieldPath']),
    eventSource(obj),
    str(obj['message']).trim(),
    firstSeen,
    count,
    obj.metadata.name ?? '',
  ];
}

const nameAndAge = (obj: KubeObject, now: Date, ...cells: unknown[]) => [obj.metadata.name ?? '', ...cells, since(obj.metadata.creationTimestamp, now)];
const countOf = (v: unknown) => (Array.isArray(v) ? v.length : Object.keys(rec(v)).length);

const builtInPrinters: Record<string, Printer> = {
  Pod: {
    columns: [
      nameColumn(),
      column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
      column('Status', 'string', 'The aggregate status of the containers in this pod.'),
      column('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      ageColumn(),
      column('IP', 'string', '', 1),
      column('Node', 'string', '', 1),
      column('Nominated Node', 'string', '', 1),
      column('Readiness Gates', 'string', '', 1),
    ],
    row: printPod,
  },
  Node: {
    columns: [
      nameColumn(),
      column('Status', 'string', 'The status of the node'),
      column('Roles', 'string', 'The roles of the node'),
      ageColumn(),
      column('Version', 'string'),
      column('Internal-IP', 'string', '', 1),
      column('External-IP', 'string', '', 1),
      column('OS-Image', 'string', '', 1),
      column('Kernel-Version', 'string', '', 1),
      column('Container-Runtime', 'string', '', 1),
    ],
    row: printNode,
  },
  PersistentVolume: {
    columns: [
      nameColumn(),
      column('Capacity', 'string'),
      column('Access Modes', 'string'),
      column('Reclaim Policy', 'string'),
      column('Status', 'string'),
      column('Claim', 'string'),
      column('StorageClass', 'string', 'StorageClass of the pv'),
      column('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pv'),
      column('Reason', 'string'),
      ageColumn(),
      column('VolumeMode', 'string', '', 1),
    ],
    row: printPersistentVolume,
  },
  PersistentVolumeClaim: {
    columns: [
      nameColumn(),
      column('Status', 'string'),
      column('Volume', 'string'),
      column('Capacity', 'string'),
      column('Access Modes', 'string'),
      column('StorageClass', 'string', 'StorageClass of the pvc'),
      column('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pvc'),
      ageColumn(),
      column('VolumeMode', 'string', '', 1),
    ],
    row: printPersistentVolumeClaim,
  },
  StorageClass: {
    columns: [
      nameColumn(),
      column('Provisioner', 'string'),
      column('ReclaimPolicy', 'string'),
      column('VolumeBindingMode', 'string'),
      column('AllowVolumeExpansion', 'string'),
      ageColumn(),
    ],
    row: printStorageClass,
  },
  Event: {
    columns: [
      column('Last Seen', 'string'),
      column('Type', 'string'),
      column('Reason', 'string'),
      column('Object', 'string'),
      column('Subobject', 'string', '', 1),
      column('Source', 'string', '', 1),
      column('Message', 'string'),
      column('First Seen', 'string', '', 1),
      column('Count', 'string', '', 1),
      nameColumn(1),
    ],
    row: printEvent,
  },
  Namespace: {
    columns: [nameColumn(), column('Status', 'string', 'The status of the namespace'), ageColumn()],
    row: (obj, now) => nameAndAge(obj, now, str(rec(obj['status'])['phase'])),
  },
  CSINode: {
    columns: [nameColumn(), column('Drivers', 'integer', 'Drivers indicates the number of CSI drivers registered on the node'), ageColumn()],
    row: (obj, now) => nameAndAge(obj, now, arr(rec(obj['spec'])['drivers']).length),
  },
  CSIDriver: {
    columns: [
      nameColumn(),
      column('AttachRequired', 'boolean'),
      column('PodInfoOnMount', 'boolean'),
      column('StorageCapacity', 'boolean'),
      column('TokenRequests', 'string'),
      column('RequiresRepublish', 'boolean'),
      column('Modes', 'string'),
      ageColumn(),
    ],
    row: (obj, now) => {
      const spec = rec(obj['spec']);
      const tokenRequests = Array.isArray(spec['tokenRequests']) ? spec['tokenRequests'].map((t) => str(rec(t)['audience'])).join(',') : '<unset>';
      const modes = arr(spec['volumeLifecycleModes']).map(str).join(',');
      return nameAndAge(
        obj, now,
        bool(spec['attachRequired'], true), bool(spec['podInfoOnMount'], false), bool(spec['storageCapacity'], false),
        tokenRequests, bool(spec['requiresRepublish'], false), modes || '<none>',
      );
    },
  },
  CSIStorageCapacity: {
    columns: [nameColumn(), column('StorageClassName', 'string'), column('Capacity', 'string')],
    row: (obj) => {
      const capacity = tryParseQuantity(obj['capacity']);
      return [obj.metadata.name ?? '', str(obj['storageClassName']), capacity ? formatQuantity(capacity) : '<unset>'];
    },
  },
  VolumeAttachment: {
    columns: [
      nameColumn(),
      column('Attacher', 'string', '', 0, 'name'),
      column('PV', 'string'),
      column('Node', 'string'),
      column('Attached', 'boolean'),
      ageColumn(),
    ],
    row: (obj, now) => {
      const spec = rec(obj['spec']);
      return nameAndAge(
        obj, now,
        str(spec['attacher']), str(rec(spec['source'])['persistentVolumeName']), str(spec['nodeName']),
        bool(rec(obj['status'])['attached'], false),
      );
    },
  },
  Lease: {
    columns: [nameColumn(), column('Holder', 'string'), ageColumn()],
    row: (obj, now) => nameAndAge(obj, now, str(rec(obj['spec'])['holderIdentity'])),
  },
  Secret: {
    columns: [nameColumn(), column('Type', 'string'), column('Data', 'string'), ageColumn()],
    row: (obj, now) => nameAndAge(obj, now, str(obj['type']), countOf(obj['data'])),
  },
  ConfigMap: {
    columns: [nameColumn(), column('Data', 'string'), ageColumn()],
    row: (obj, now) => nameAndAge(obj, now, countOf(obj['data']) + countOf(obj['binaryData'])),
  },
  ServiceAccount: {
    columns: [nameColumn(), column('Secrets', 'string'), ageColumn()],
    row: (obj, now) => nameAndAge(obj, now, arr(obj['secrets']).length),
  },
};

// ---- custom resources: additionalPrinterColumns through the apiextensions table convertor ----

interface PrinterColumnSpec {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
}

/** A simple JSONPath (.a.b.c) into the object; undefined when any step is missing. */
function lookupPath(obj: unknown, jsonPath: string): unknown {
  let value: unknown = obj;
  for (const step of jsonPath.split('.').slice(1)) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, step)) return undefined;
    value = (value as Obj)[step];
  }
  return value;
}

/** cellForJSONValue, plus the jsonpath printing used for string columns. */
function customCell(type: PrinterColumnSpec['type'], value: unknown, now: Date): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'string':
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    case 'integer':
      return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    case 'date':
      if (typeof value !== 'string') return null;
      if (value === '' || value === 'null') return '<unknown>'; // the zero metav1.Time
      if (!rfc3339.test(value)) return '<invalid>';
      return since(value, now);
  }
}

function customResourcePrinter(specs: PrinterColumnSpec[]): Printer {
  return {
    columns: [
      nameColumn(),
      ...specs.map((c) => column(c.name, c.type, c.description ?? `Custom resource definition column (in JSONPath format): ${c.jsonPath}`)),
    ],
    row: (obj, now) => [obj.metadata.name ?? '', ...specs.map((c) => customCell(c.type, lookupPath(obj, c.jsonPath), now))],
  };
}

const crdAgeColumn: PrinterColumnSpec = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

const customResourcePrinters: Record<string, Printer> = {
  VolumeSnapshot: customResourcePrinter([
    { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse', description: 'Indicates if the snapshot is ready to be used to restore a volume.' },
    {
      name: 'SourcePVC', type: 'string', jsonPath: '.spec.source.persistentVolumeClaimName',
      description: 'If a new snapshot needs to be created, this contains the name of the source PVC from which this snapshot was (or will be) created.',
    },
    {
      name: 'SourceSnapshotContent', type: 'string', jsonPath: '.spec.source.volumeSnapshotContentName',
      description: 'If a snapshot already exists, this contains the name of the existing VolumeSnapshotContent object representing the existing snapshot.',
    },
    { name: 'RestoreSize', type: 'string', jsonPath: '.status.restoreSize', description: 'Represents the minimum size of volume required to rehydrate from this snapshot.' },
    { name: 'SnapshotClass', type: 'string', jsonPath: '.spec.volumeSnapshotClassName', description: 'The name of the VolumeSnapshotClass requested by the VolumeSnapshot.' },
    {
      name: 'SnapshotContent', type: 'string', jsonPath: '.status.boundVolumeSnapshotContentName',
      description:
        'Name of the VolumeSnapshotContent object to which the VolumeSnapshot object intends to bind to. Please note that verification of binding actually requires checking both VolumeSnapshot and VolumeSnapshotContent to ensure both are pointing at each other. Binding MUST be verified prior to usage of this object.',
    },
    { name: 'CreationTime', type: 'date', jsonPath: '.status.creationTime', description: 'Timestamp when the point-in-time snapshot was taken by the underlying storage system.' },
    crdAgeColumn,
  ]),
  VolumeSnapshotContent: customResourcePrinter([
    { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse', description: 'Indicates if the snapshot is ready to be used to restore a volume.' },
    { name: 'RestoreSize', type: 'integer', jsonPath: '.status.restoreSize', description: 'Represents the complete size of the snapshot in bytes' },
    {
      name: 'DeletionPolicy', type: 'string', jsonPath: '.spec.deletionPolicy',
      description: 'Determines whether this VolumeSnapshotContent and its physical snapshot on the underlying storage system should be deleted when its bound VolumeSnapshot is deleted.',
    },
    { name: 'Driver', type: 'string', jsonPath: '.spec.driver', description: 'Name of the CSI driver used to create the physical snapshot on the underlying storage system.' },
    { name: 'VolumeSnapshotClass', type: 'string', jsonPath: '.spec.volumeSnapshotClassName', description: 'Name of the VolumeSnapshotClass to which this snapshot belongs.' },
    { name: 'VolumeSnapshot', type: 'string', jsonPath: '.spec.volumeSnapshotRef.name', description: 'Name of the VolumeSnapshot object to which this VolumeSnapshotContent object is bound.' },
    {
      name: 'VolumeSnapshotNamespace', type: 'string', jsonPath: '.spec.volumeSnapshotRef.namespace',
      description: 'Namespace of the VolumeSnapshot object to which this VolumeSnapshotContent object is bound.',
    },
    crdAgeColumn,
  ]),
  VolumeSnapshotClass: customResourcePrinter([
    { name: 'Driver', type: 'string', jsonPath: '.driver' },
    {
      name: 'DeletionPolicy', type: 'string', jsonPath: '.deletionPolicy',
      description: 'Determines whether a VolumeSnapshotContent created through the VolumeSnapshotClass should be deleted when its bound VolumeSnapshot is deleted.',
    },
    crdAgeColumn,
  ]),
};

// ---- everything else: rest.NewDefaultTableConvertor ----

const defaultPrinter: Printer = {
  columns: [nameColumn(), column('Created At', 'date', creationTimestampDoc)],
  row: (obj) => {
    const t = timeOf(obj.metadata.creationTimestamp);
    // Go's time.RFC3339 in UTC, whole seconds; the zero time when unset.
    const createdAt = t === undefined ? '0001-01-01T00:00:00Z' : metaTime(t);
    return [obj.metadata.name ?? '', createdAt];
  },
};

function printerFor(kind: string): Printer {
  if (Object.hasOwn(builtInPrinters, kind)) return builtInPrinters[kind]!;
  if (Object.hasOwn(customResourcePrinters, kind)) return customResourcePrinters[kind]!;
  return defaultPrinter;
}

/** The Table's columnDefinitions for objects of `kind` (a Kind name such as 'PersistentVolumeClaim'). */
export function tableColumns(kind: string): TableColumnDefinition[] {
  return printerFor(kind).columns.map((c) => ({ ...c }));
}

/** One row's cells, wide columns included; the API server adds the row's `object` (PartialObjectMetadata). */
export function tableRow(kind: string, obj: KubeObject, now: Date): unknown[] {
  return printerFor(kind).row(obj, now);
}
