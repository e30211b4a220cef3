// The cluster file: the simulated region, its zones and nodes, and the storage pools the CSI driver hands out.
// Shared by the driver, the node agent and `strata up`. parseClusterFile returns a complete spec (defaults filled),
// or throws ClusterFileError naming every bad field the kube way (`spec.nodes[1].zone: Unsupported value: …`).
//
// Defaults: node capacity cpu "4", memory "8Gi", pods "110"; localPool "0" (the node has no local disk);
// zonalPool "0" (the zone has no zonal pool); maxVolumesPerNode 128; labels and taints empty.
import { parse as parseYaml } from 'yaml';
import {
  child,
  duplicate,
  fieldErrorMessage,
  goQuote,
  index,
  invalid,
  key,
  notSupported,
  required,
  type FieldError,
} from './field-errors.ts';
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName } from './names.ts';
import { parseQuantity, quantityValue } from './quantity.ts';
import type { Taint } from './types.ts';

export const ClusterApiVersion = 'strata.io/v1alpha1';
export const ClusterKind = 'Cluster';

export interface ClusterZone {
  name: string;
  zonalPool: string;
  zonalPoolBytes: bigint;
}

export interface NodeCapacity {
  cpu: string;
  memory: string;
  pods: string;
}

export interface ClusterNode {
  name: string;
  zone: string;
  capacity: NodeCapacity;
  localPool: string;
  localPoolBytes: bigint;
  maxVolumesPerNode: number;
  labels: Record<string, string>;
  taints: Taint[];
}

export interface ClusterSpec {
  name: string;
  region: string;
  zones: ClusterZone[];
  nodes: ClusterNode[];
}

export class ClusterFileError extends Error {
  readonly errors: string[];
  constructor(source: string, errors: string[]) {
    // utilerrors.NewAggregate prints one error bare and several as "[a, b]".
    super(`${source}: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}`);
    this.name = 'ClusterFileError';
    this.errors = errors;
  }
}

const DefaultCapacity: NodeCapacity = { cpu: '4', memory: '8Gi', pods: '110' };
const DefaultMaxVolumesPerNode = 128;
const TaintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

const allowedFields: Record<string, readonly string[]> = {
  root: ['apiVersion', 'kind', 'metadata', 'spec'],
  metadata: ['name'],
  spec: ['region', 'zones', 'nodes'],
  zone: ['name', 'zonalPool'],
  node: ['name', 'zone', 'capacity', 'localPool', 'maxVolumesPerNode', 'labels', 'taints'],
  capacity: ['cpu', 'memory', 'pods'],
  taint: ['key', 'value', 'effect'],
};

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Collects field errors while walking the document; every accessor reports what it rejects.
class Walker {
  readonly errors: string[] = [];

  add(e: FieldError): void {
    this.errors.push(fieldErrorMessage(e));
  }

  object(v: unknown, path: string, shape: keyof typeof allowedFields): Obj {
    if (v === undefined || v === null) return {};
    if (!isObj(v)) {
      this.add(invalid(path, v, 'must be an object'));
      return {};
    }
    for (const k of Object.keys(v)) {
      if (!allowedFields[shape].includes(k)) this.errors.push(`unknown field ${goQuote(child(path, k))}`);
    }
    return v;
  }

  list(v: unknown, path: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.add(invalid(path, v, 'must be a list'));
      return [];
    }
    return v;
  }

  string(v: unknown, path: string): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number') return String(v);
    if (typeof v !== 'string') {
      this.add(invalid(path, v, 'must be a string'));
      return undefined;
    }
    return v;
  }

  quantity(v: unknown, path: string, fallback: string): { text: string; bytes: bigint } {
    const text = this.string(v, path) ?? fallback;
    try {
      const bytes = quantityValue(parseQuantity(text));
      if (bytes < 0n) this.add(invalid(path, text, 'must be greater than or equal to 0'));
      return { text, bytes };
    } catch (err) {
      this.add(invalid(path, text, (err as Error).message));
      return { text, bytes: 0n };
    }
  }

  dnsLabel(v: unknown, path: string): string {
    const name = this.string(v, path);
    if (name === undefined || name === '') {
      this.add(required(path));
      return '';
    }
    for (const msg of isDNS1123Label(name)) this.add(invalid(path, name, msg));
    return name;
  }
}

export function parseClusterFile(text: string, source = 'cluster file'): ClusterSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ClusterFileError(source, [(err as Error).message]);
  }
  const w = new Walker();
  const root = w.object(doc, '', 'root');
  const apiVersion = w.string(root.apiVersion, 'apiVersion');
  if (apiVersion !== ClusterApiVersion) w.add(notSupported('apiVersion', apiVersion ?? '', [ClusterApiVersion]));
  const kind = w.string(root.kind, 'kind');
  if (kind !== ClusterKind) w.add(notSupported('kind', kind ?? '', [ClusterKind]));
  const metadata = w.object(root.metadata, 'metadata', 'metadata');
  const name = w.dnsLabel(metadata.name, 'metadata.name');

  const spec = w.object(root.spec, 'spec', 'spec');
  const region = w.dnsLabel(spec.region, 'spec.region');

  const zones: ClusterZone[] = [];
  const zonesPath = 'spec.zones';
  const zoneItems = w.list(spec.zones, zonesPath);
  if (zoneItems.length === 0) w.add(required(zonesPath, 'at least one zone is required'));
  zoneItems.forEach((item, i) => {
    const path = index(zonesPath, i);
    const z = w.object(item, path, 'zone');
    const zoneName = w.dnsLabel(z.name, child(path, 'name'));
    if (zoneName !== '' && zones.some((other) => other.name === zoneName)) w.add(duplicate(child(path, 'name'), zoneName));
    const pool = w.quantity(z.zonalPool, child(path, 'zonalPool'), '0');
    zones.push({ name: zoneName, zonalPool: pool.text, zonalPoolBytes: pool.bytes });
  });
  const zoneNames = zones.map((z) => z.name);

  const nodes: ClusterNode[] = [];
  const nodesPath = 'spec.nodes';
  const nodeItems = w.list(spec.nodes, nodesPath);
  if (nodeItems.length === 0) w.add(required(nodesPath, 'at least one node is required'));
  nodeItems.forEach((item, i) => nodes.push(parseNode(w, item, index(nodesPath, i), nodes, zoneNames)));

  if (w.errors.length > 0) throw new ClusterFileError(source, w.errors);
  return { name, region, zones, nodes };
}

function parseNode(w: Walker, item: unknown, path: string, earlier: ClusterNode[], zoneNames: string[]): ClusterNode {
  const n = w.object(item, path, 'node');
  const namePath = child(path, 'name');
  const name = w.string(n.name, namePath) ?? '';
  if (name === '') w.add(required(namePath));
  else for (const msg of isDNS1123Subdomain(name)) w.add(invalid(namePath, name, msg));
  if (name !== '' && earlier.some((other) => other.name === name)) w.add(duplicate(namePath, name));

  const zonePath = child(path, 'zone');
  const zone = w.string(n.zone, zonePath) ?? '';
  if (zone === '') w.add(required(zonePath));
  else if (!zoneNames.includes(zone)) {
    const detail = `not one of the zones in spec.zones (${zoneNames.join(', ')})`;
    w.add({ type: 'FieldValueNotSupported', field: zonePath, badValue: zone, detail });
  }

  const capacityPath = child(path, 'capacity');
  const cap = w.object(n.capacity, capacityPath, 'capacity');
  const capacity: NodeCapacity = {
    cpu: w.quantity(cap.cpu, child(capacityPath, 'cpu'), DefaultCapacity.cpu).text,
    memory: w.quantity(cap.memory, child(capacityPath, 'memory'), DefaultCapacity.memory).text,
    pods: w.quantity(cap.pods, child(capacityPath, 'pods'), DefaultCapacity.pods).text,
  };
  const localPool = w.quantity(n.localPool, child(path, 'localPool'), '0');

  const maxPath = child(path, 'maxVolumesPerNode');
  let maxVolumesPerNode = DefaultMaxVolumesPerNode;
  if (n.maxVolumesPerNode !== undefined) {
    if (typeof n.maxVolumesPerNode === 'number' && Number.isInteger(n.maxVolumesPerNode) && n.maxVolumesPerNode > 0) {
      maxVolumesPerNode = n.maxVolumesPerNode;
    } else w.add(invalid(maxPath, n.maxVolumesPerNode, 'must be a positive integer'));
  }

  const labelsPath = child(path, 'labels');
  const labels: Record<string, string> = {};
  if (n.labels !== undefined && !isObj(n.labels)) w.add(invalid(labelsPath, n.labels, 'must be a map of strings'));
  for (const [k, v] of Object.entries(isObj(n.labels) ? n.labels : {})) {
    for (const msg of isQualifiedName(k)) w.add(invalid(labelsPath, k, msg));
    labels[k] = w.string(v, key(labelsPath, k)) ?? '';
  }

  const taintsPath = child(path, 'taints');
  const taints: Taint[] = w.list(n.taints, taintsPath).map((t, j) => {
    const tPath = index(taintsPath, j);
    const taint = w.object(t, tPath, 'taint');
    const tKey = w.string(taint.key, child(tPath, 'key')) ?? '';
    if (tKey === '') w.add(required(child(tPath, 'key')));
    else for (const msg of isQualifiedName(tKey)) w.add(invalid(child(tPath, 'key'), tKey, msg));
    const effect = w.string(taint.effect, child(tPath, 'effect')) ?? '';
    if (effect === '') w.add(required(child(tPath, 'effect')));
    else if (!(TaintEffects as readonly string[]).includes(effect)) w.add(notSupported(child(tPath, 'effect'), effect, TaintEffects));
    const value = w.string(taint.value, child(tPath, 'value'));
    return { key: tKey, effect: effect as Taint['effect'], ...(value !== undefined ? { value } : {}) };
  });

  return { name, zone, capacity, localPool: localPool.text, localPoolBytes: localPool.bytes, maxVolumesPerNode, labels, taints };
}

const DefaultClusterFile = `
apiVersion: ${ClusterApiVersion}
kind: ${ClusterKind}
metadata: {name: strata}
spec:
  region: strata-region
  zones:
    - {name: zone-a, zonalPool: 200Gi}
    - {name: zone-b, zonalPool: 200Gi}
    - {name: zone-c, zonalPool: 100Gi}
  nodes:
    - name: control-plane
      zone: zone-a
      taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
    - {name: worker-a1, zone: zone-a, localPool: 100Gi}
    - {name: worker-a2, zone: zone-a, localPool: 100Gi}
    - {name: worker-b1, zone: zone-b, localPool: 100Gi}
    - {name: worker-c1, zone: zone-c, localPool: 50Gi}
`;

// The built-in cluster: a tainted control-plane node and workers in three zones, each worker with a local disk,
// each zone with a zonal pool.
export function defaultClusterSpec(): ClusterSpec {
  return parseClusterFile(DefaultClusterFile, 'built-in cluster');
}
