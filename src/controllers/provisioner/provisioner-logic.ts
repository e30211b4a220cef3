// The provisioner's sync logic, as kubernetes-csi/external-provisioner (pkg/controller/controller.go, topology.go) on top
// of sig-storage-lib-external-provisioner (controller/controller.go): provision claims annotated for our driver through
// CSI CreateVolume, create their PV, and delete released Delete-policy volumes through CSI DeleteVolume.
import { cloneJSON } from '../../api/json.ts';
import type {
  CSINode,
  Node,
  PersistentVolume,
  PersistentVolumeAccessMode,
  PersistentVolumeClaim,
  StorageClass,
  TopologySelectorTerm,
  VolumeSnapshot,
  VolumeSnapshotContent,
} from '../../api/types.ts';
import { bytesToQuantityString } from '../../api/quantity.ts';
import { claimRequestBytes, claimStorageClassName } from '../../api/volume-matching.ts';
import {
  AnnAllowVolumeModeChange,
  AnnBetaStorageProvisioner,
  AnnDeletionProvisionerSecretRefName,
  AnnDeletionProvisionerSecretRefNamespace,
  AnnDynamicallyProvisioned,
  AnnSelectedNode,
  AnnStorageProvisioner,
  CSIParameterPrefix,
  PVCCloneFinalizer,
  PVDeletionProtectionFinalizer,
  ProvisionerIdentityKey,
  SnapshotAPIGroup,
  SnapshotSourceProtectionFinalizer,
} from '../../api/well-known.ts';
import { claimReference, type EventRecorder } from '../pv-binder/binder-logic.ts';
import { GrpcCode, ProvisioningError, VolumeDeletionError, describeCsiError, grpcCode, type ProvisioningState } from './errors.ts';

// ---- the CSI controller calls the provisioner needs (csi.proto, camelCase) ----
export type CsiAccessMode =
  | 'SINGLE_NODE_WRITER' | 'SINGLE_NODE_READER_ONLY' | 'MULTI_NODE_READER_ONLY' | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER' | 'SINGLE_NODE_SINGLE_WRITER' | 'SINGLE_NODE_MULTI_WRITER';
export interface CsiTopology { segments: Record<string, string> }
export interface CsiVolumeCapability {
  mount?: { fsType: string; mountFlags: string[] };
  block?: Record<string, never>;
  accessMode: { mode: CsiAccessMode };
}
export interface CsiContentSource { snapshot?: { snapshotId: string }; volume?: { volumeId: string } }
export interface CreateVolumeRequest {
  name: string;
  capacityRange: { requiredBytes: bigint };
  volumeCapabilities: CsiVolumeCapability[];
  parameters: Record<string, string>;
  volumeContentSource?: CsiContentSource;
  accessibilityRequirements?: { requisite: CsiTopology[]; preferred: CsiTopology[] };
}
export interface CsiVolume {
  capacityBytes: bigint;
  volumeId: string;
  volumeContext?: Record<string, string>;
  contentSource?: CsiContentSource;
  accessibleTopology?: CsiTopology[];
}
export interface GetCapacityRequest {
  volumeCapabilities: CsiVolumeCapability[];
  parameters: Record<string, string>;
  accessibleTopology?: CsiTopology;
}
/** The CSI controller service as the provisioner uses it; errors carry the gRPC status `code`. */
export interface CsiControllerClient {
  createVolume(req: CreateVolumeRequest): Promise<{ volume: CsiVolume }>;
  deleteVolume(req: { volumeId: string }): Promise<void>;
  getCapacity(req: GetCapacityRequest): Promise<{ availableCapacity: bigint; maximumVolumeSize?: bigint }>;
}

export interface DriverCapabilities {
  /** Plugin VOLUME_ACCESSIBILITY_CONSTRAINTS. */
  topology: boolean;
  /** Controller CREATE_DELETE_SNAPSHOT. */
  snapshot: boolean;
  /** Controller CLONE_VOLUME. */
  clone: boolean;
  /** Controller SINGLE_NODE_MULTI_WRITER. */
  singleNodeMultiWriter: boolean;
}

export interface ProvisionerListers {
  getClass(name: string): StorageClass | undefined;
  getVolume(name: string): PersistentVolume | undefined;
  getClaim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  listClaims(namespace: string): PersistentVolumeClaim[];
  getNode(name: string): Node | undefined;
  /** aggregateNodeTopologies over the nodes (the controller keeps it until the nodes' labels change). */
  nodeTopologies(topologyKeys: string[]): NodeTopologies;
  getCSINode(name: string): CSINode | undefined;
  listCSINodes(): CSINode[];
}

/** API calls; get* return undefined when the object does not exist. */
export interface ProvisionerApi {
  createVolume(pv: PersistentVolume): Promise<PersistentVolume>;
  updateVolume(pv: PersistentVolume): Promise<PersistentVolume>;
  deleteVolume(name: string): Promise<void>;
  getVolume(name: string): Promise<PersistentVolume | undefined>;
  updateClaim(claim: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  getSnapshot(namespace: string, name: string): Promise<VolumeSnapshot | undefined>;
  updateSnapshot(snapshot: VolumeSnapshot): Promise<VolumeSnapshot>;
  getSnapshotContent(name: string): Promise<VolumeSnapshotContent | undefined>;
}

export interface ProvisionerOptions {
  driverName: string;
  /** Written to every PV's volumeAttributes under storage.kubernetes.io/csiProvisionerIdentity. */
  identity: string;
  capabilities: DriverCapabilities;
  /** --strict-topology (default false). */
  strictTopology?: boolean;
  /** --immediate-topology (default true). */
  immediateTopology?: boolean;
  /** --default-fstype. */
  defaultFsType?: string;
  /** --extra-create-metadata. */
  extraCreateMetadata?: boolean;
}

export type VolumeNodeAffinity = NonNullable<PersistentVolume['spec']['nodeAffinity']>;

/**
 * What the capacity controller refreshes after a provisioning or a deletion (upstream's provisionWrapper): the work
 * items of the segments that the volume's node affinity names, or those of its class.
 */
export interface CapacityRefresh {
  /** refreshTopology: every work item whose segment equals a term of this node affinity. */
  topology(nodeAffinity: VolumeNodeAffinity): void;
  /** refreshSC: every work item of the class. */
  storageClass(name: string): void;
}

export interface ProvisionerDeps {
  options: ProvisionerOptions;
  listers: ProvisionerListers;
  api: ProvisionerApi;
  csi: CsiControllerClient;
  recorder: EventRecorder;
  capacity?: CapacityRefresh;
}

const quote = (value: string | undefined) => JSON.stringify(value ?? '');
const notFound = (resource: string, name: string) => `${resource} ${quote(name)} not found`;
const hasFinalizer = (obj: { metadata: { finalizers?: string[] } }, finalizer: string) => obj.metadata.finalizers?.includes(finalizer) ?? false;

// ------------------------------------------------------------------ topology (topology.go)

export type TopologyTerm = Array<[key: string, value: string]>;

const sortTerm = (term: TopologyTerm) => term.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
const compareTerms = (a: TopologyTerm, b: TopologyTerm): number => {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    if (a[i][0] !== b[i][0]) return a[i][0] < b[i][0] ? -1 : 1;
    if (a[i][1] !== b[i][1]) return a[i][1] < b[i][1] ? -1 : 1;
  }
  return 0;
};
/** Every segment of term is in other (both sorted by key). */
const isSubset = (term: TopologyTerm, other: TopologyTerm) => term.every(([k, v]) => other.some(([k2, v2]) => k2 === k && v2 === v));

/** Distinct non-empty topologies in upstream's order (sorted), as terms and as the CSI request carries them. */
export interface NodeTopologies {
  terms: TopologyTerm[];
  csi: CsiTopology[];
}

function sortedTopologies(terms: TopologyTerm[]): NodeTopologies {
  const sorted = terms
    .filter((t) => t.length > 0)
    .sort(compareTerms)
    .filter((t, i, all) => i === 0 || compareTerms(all[i - 1], t) !== 0);
  return { terms: sorted, csi: sorted.map((t) => ({ segments: Object.fromEntries(t) })) };
}

/** AllowedTopologies distributed into ORed terms of single key/value pairs. */
export function flattenAllowedTopologies(allowed: TopologySelectorTerm[]): TopologyTerm[] {
  const result: TopologyTerm[] = [];
  for (const selectorTerm of allowed) {
    let terms: TopologyTerm[] = [];
    for (const expression of selectorTerm.matchLabelExpressions ?? []) {
      const next: TopologyTerm[] = [];
      for (const value of expression.values) {
        if (terms.length === 0) next.push([[expression.key, value]]);
        else for (const term of terms) next.push([...term, [expression.key, value]]);
      }
      terms = next;
    }
    result.push(...terms);
  }
  return result.map(sortTerm);
}

/** FNV-1 32-bit, as Go's hash/fnv New32. */
function fnv1(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) hash = (Math.imul(hash, 0x01000193) ^ byte) >>> 0;
  return hash >>> 0;
}

/** getPVCNameHashAndIndexOffset: StatefulSet claims (<claim>-<set>-<n>) spread round-robin across topologies. */
export function pvcNameHashAndIndexOffset(pvcName: string): { hash: number; index: number } {
  let hashString = pvcName;
  let index = 0;
  const lastDash = pvcName.lastIndexOf('-');
  if (lastDash !== -1 && /^[0-9]+$/.test(pvcName.slice(lastDash + 1)) && Number(pvcName.slice(lastDash + 1)) <= 0xffffffff) {
    index = Number(pvcName.slice(lastDash + 1));
    hashString = pvcName.slice(0, lastDash);
    const prefixDash = hashString.lastIndexOf('-');
    if (prefixDash !== -1) hashString = hashString.slice(prefixDash + 1);
  }
  return { hash: fnv1(hashString), index };
}

const topologyKeysOf = (csiNode: CSINode | undefined, driver: string) =>
  csiNode?.spec.drivers.find((d) => d.name === driver)?.topologyKeys ?? [];

function termFromLabels(labels: Record<string, string> | undefined, keys: string[]): TopologyTerm | undefined {
  const term: TopologyTerm = [];
  for (const key of keys) {
    if (labels === undefined || !Object.hasOwn(labels, key)) return undefined;
    term.push([key, labels[key]]);
  }
  return sortTerm(term);
}

/** aggregateTopologies: the topology values of every node that has all the keys. */
export function aggregateNodeTopologies(nodes: Node[], topologyKeys: string[]): NodeTopologies {
  const terms: TopologyTerm[] = [];
  for (const node of nodes) {
    const term = termFromLabels(node.metadata.labels, topologyKeys);
    if (term) terms.push(term);
  }
  return sortedTopologies(terms);
}

/**
 * aggregateNodeTopologies per set of topology keys, kept until invalidate(). Without strict topology every
 * CreateVolume carries the topology of every node, so this is worked out once per change of the nodes' labels
 * rather than once per claim (at 500 nodes that was as much CPU as encoding the request).
 */
export class NodeTopologyCache {
  readonly #listNodes: () => Node[];
  readonly #byKeys = new Map<string, NodeTopologies>();

  constructor(listNodes: () => Node[]) {
    this.#listNodes = listNodes;
  }

  get(topologyKeys: string[]): NodeTopologies {
    const key = topologyKeys.join('\n');
    let topologies = this.#byKeys.get(key);
    if (!topologies) this.#byKeys.set(key, (topologies = aggregateNodeTopologies(this.#listNodes(), topologyKeys)));
    return topologies;
  }

  invalidate(): void {
    this.#byKeys.clear();
  }
}

/**
 * GenerateAccessibilityRequirements: requisite from allowedTopologies (flattened) or the topology values of every node
 * that has the driver's topology keys; preferred rotated so the selected node's topology comes first (delayed
 * binding) or by the claim name's hash (immediate binding). Throws a ProvisioningError whose state says whether the
 * scheduler should pick another node.
 */
export function generateAccessibilityRequirements(
  listers: ProvisionerListers,
  driverName: string,
  pvcName: string,
  allowedTopologies: TopologySelectorTerm[] | undefined,
  selectedNodeName: string,
  strictTopology: boolean,
  immediateTopology: boolean,
): CreateVolumeRequest['accessibilityRequirements'] {
  let selectedTopology: TopologyTerm = [];
  let topologyKeys: string[] = [];
  let requisite: TopologyTerm[] = [];
  if (selectedNodeName) {
    const csiNode = listers.getCSINode(selectedNodeName);
    if (!csiNode) {
      throw new ProvisioningError('Reschedule', `failed to get selected CSINode ${selectedNodeName}: ${notFound('csinodes.storage.k8s.io', selectedNodeName)}`);
    }
    topologyKeys = topologyKeysOf(csiNode, driverName);
    if (topologyKeys.length === 0) throw new ProvisioningError('NoChange', `error generating accessibility requirements: no topology key found for node ${selectedNodeName}`);
    const node = listers.getNode(selectedNodeName);
    const term = termFromLabels(node?.metadata.labels, topologyKeys);
    if (!term) {
      throw new ProvisioningError('NoChange', `error generating accessibility requirements: topology labels from selected node map[${Object.entries(node?.metadata.labels ?? {}).map(([k, v]) => `${k}:${v}`).join(' ')}] does not match topology keys from CSINode [${topologyKeys.join(' ')}]`);
    }
    selectedTopology = term;
    if (strictTopology) {
      if (allowedTopologies?.length) {
        const allowed = flattenAllowedTopologies(allowedTopologies);
        if (!allowed.some((t) => isSubset(t, selectedTopology))) {
          throw new ProvisioningError('NoChange', `error generating accessibility requirements: selected node '${quote(selectedNodeName)}' topology is not in allowed topologies`);
        }
      }
      requisite = [selectedTopology];
    }
  }
  let topologies: NodeTopologies | undefined;
  if (requisite.length === 0) {
    if (allowedTopologies?.length) {
      requisite = flattenAllowedTopologies(allowedTopologies);
    } else {
      if (!selectedNodeName && !immediateTopology) return undefined;
      if (!selectedNodeName) {
        topologyKeys = listers.listCSINodes().map((n) => topologyKeysOf(n, driverName)).find((keys) => keys.length > 0) ?? [];
        if (topologyKeys.length === 0) return undefined;
      }
      // Every key is set, so no node topology is empty: none at all means no node has the keys.
      topologies = listers.nodeTopologies(topologyKeys);
      if (topologies.terms.length === 0) {
        throw new ProvisioningError('NoChange', `error generating accessibility requirements: topologyKeys [${topologyKeys.join(' ')}] were not found on any nodes`);
      }
    }
  }
  const { terms, csi } = topologies ?? sortedTopologies(requisite);
  if (terms.length === 0) return undefined;
  let first: number;
  if (!selectedNodeName) {
    const { hash, index } = pvcNameHashAndIndexOffset(pvcName);
    first = ((hash + index) >>> 0) % terms.length;
  } else if (strictTopology) {
    first = 0;
  } else {
    first = terms.findIndex((t) => isSubset(t, selectedTopology));
    if (first < 0) {
      throw new ProvisioningError('NoChange', `error generating accessibility requirements: topology of selected node ${quote(selectedNodeName)} is not in requisite`);
    }
  }
  // Copies: the cached topologies are shared by every request.
  return { requisite: [...csi], preferred: [...csi.slice(first), ...csi.slice(0, first)] };
}

/** GenerateVolumeNodeAffinity: one ORed term per accessible topology, one In expression per segment. */
export function volumeNodeAffinity(accessible: CsiTopology[] | undefined): PersistentVolume['spec']['nodeAffinity'] {
  const terms = (accessible ?? [])
    .filter((t) => Object.keys(t.segments).length > 0)
    .map((t) => ({ matchExpressions: Object.keys(t.segments).sort().map((key) => ({ key, operator: 'In' as const, values: [t.segments[key]] })) }));
  return terms.length ? { required: { nodeSelectorTerms: terms } } : undefined;
}

// ------------------------------------------------------------------ request building

const reservedParameters = new Set(
  ['fstype', 'secret-name', 'secret-namespace', 'provisioner-secret-name', 'provisioner-secret-namespace',
    'controller-publish-secret-name', 'controller-publish-secret-namespace', 'node-stage-secret-name',
    'node-stage-secret-namespace', 'node-publish-secret-name', 'node-publish-secret-namespace',
    'controller-expand-secret-name', 'controller-expand-secret-namespace', 'node-expand-secret-name',
    'node-expand-secret-namespace'].map((k) => CSIParameterPrefix + k),
);

/** removePrefixedParameters: csi.storage.k8s.io/ keys are the provisioner's, never the driver's. */
export function removePrefixedParameters(parameters: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(parameters ?? {})) {
    if (!key.startsWith(CSIParameterPrefix)) result[key] = value;
    else if (!reservedParameters.has(key)) throw new Error(`found unknown parameter key "${key}" with reserved namespace ${CSIParameterPrefix}`);
  }
  return result;
}

/** accessmodes.ToCSIAccessMode for one Kubernetes access mode. */
function csiAccessMode(mode: PersistentVolumeAccessMode, singleNodeMultiWriter: boolean): CsiAccessMode {
  switch (mode) {
    case 'ReadWriteOnce': return singleNodeMultiWriter ? 'SINGLE_NODE_MULTI_WRITER' : 'SINGLE_NODE_WRITER';
    case 'ReadOnlyMany': return 'MULTI_NODE_READER_ONLY';
    case 'ReadWriteMany': return 'MULTI_NODE_MULTI_WRITER';
    case 'ReadWriteOncePod':
      if (singleNodeMultiWriter) return 'SINGLE_NODE_SINGLE_WRITER';
      throw new Error('ReadWriteOncePod access mode is not supported by the driver (SINGLE_NODE_MULTI_WRITER capability is not reported)');
  }
}

export function volumeCapabilities(claim: PersistentVolumeClaim, sc: StorageClass, fsType: string, singleNodeMultiWriter: boolean): CsiVolumeCapability[] {
  return (claim.spec.accessModes ?? []).map((mode) => {
    const accessMode = { mode: csiAccessMode(mode, singleNodeMultiWriter) };
    return claim.spec.volumeMode === 'Block'
      ? { block: {}, accessMode }
      : { mount: { fsType, mountFlags: sc.mountOptions ?? [] }, accessMode };
  });
}

interface DataSourceRef { kind: string; name: string; apiGroup: string; namespace: string }

/** The claim's data source, from dataSource or else dataSourceRef. */
function claimDataSource(claim: PersistentVolumeClaim): DataSourceRef | undefined {
  const ns = claim.metadata.namespace ?? '';
  if (claim.spec.dataSource) {
    const ds = claim.spec.dataSource;
    return { kind: ds.kind, name: ds.name, apiGroup: ds.apiGroup ?? '', namespace: ns };
  }
  const ref = claim.spec.dataSourceRef;
  if (!ref) return undefined;
  if (ref.namespace) {
    // Strata, like a default external-provisioner, runs without the alpha CrossNamespaceVolumeDataSource feature.
    throw new ProvisioningError('Finished', 'dataSourceRef namespace specified but the CrossNamespaceVolumeDataSource feature is disabled');
  }
  return { kind: ref.kind, name: ref.name, apiGroup: ref.apiGroup ?? '', namespace: ns };
}

// ------------------------------------------------------------------ the provisioner

export type ClaimSyncResult = 'skipped' | 'provisioned' | 'stopped';

export class CsiProvisioner {
  readonly #deps: ProvisionerDeps;

  constructor(deps: ProvisionerDeps) {
    this.#deps = deps;
  }

  get #driver() {
    return this.#deps.options.driverName;
  }

  /** The lib's shouldProvision: not bound, annotated for our driver, and for WaitForFirstConsumer a selected node. */
  shouldProvision(claim: PersistentVolumeClaim): boolean {
    if (claim.spec.volumeName) return false;
    const annotations = claim.metadata.annotations ?? {};
    const provisioner = Object.hasOwn(annotations, AnnStorageProvisioner) ? annotations[AnnStorageProvisioner] : annotations[AnnBetaStorageProvisioner];
    if (provisioner !== this.#driver) return false;
    const sc = this.#deps.listers.getClass(claimStorageClassName(claim));
    if (sc?.volumeBindingMode === 'WaitForFirstConsumer') return !!annotations[AnnSelectedNode];
    return true;
  }

  /**
   * Provision the claim if it should be. Resolves when there is nothing (more) to do; throws a ProvisioningError when
   * the claim must be retried.
   */
  async syncClaim(claim: PersistentVolumeClaim): Promise<ClaimSyncResult> {
    if (!this.shouldProvision(claim)) return 'skipped';
    const { listers, recorder, api } = this.#deps;
    const pvName = `pvc-${claim.metadata.uid}`;
    if (listers.getVolume(pvName)) return 'stopped';
    const className = claimStorageClassName(claim);
    const sc = listers.getClass(className);
    if (!sc) throw new ProvisioningError('Finished', `storageClass ${quote(className)} not found`);
    if (sc.provisioner !== this.#driver) return 'stopped';
    const selectedNodeName = claim.metadata.annotations?.[AnnSelectedNode] ?? '';
    if (selectedNodeName && !listers.getNode(selectedNodeName)) {
      // The node is gone: ask the scheduler for another one.
      recorder.event(claim, 'Warning', 'ProvisioningFailed', notFound('nodes', selectedNodeName));
      await this.#reschedule(claim);
      return 'stopped';
    }
    recorder.event(claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim ${quote(`${claim.metadata.namespace}/${claim.metadata.name}`)}`);
    let pv: PersistentVolume | undefined;
    try {
      pv = await this.#provision(claim, sc, pvName, selectedNodeName);
    } catch (err) {
      if (!(err instanceof ProvisioningError)) throw err;
      // A failure may come from capacity that changed: the class's objects are refreshed (a NoChange failure did nothing).
      if (err.state !== 'NoChange') this.#deps.capacity?.storageClass(className);
      recorder.event(claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass ${quote(className)}: ${err.message}`);
      if (err.state === 'Reschedule' && selectedNodeName) {
        await this.#reschedule(claim);
        return 'stopped';
      }
      throw err;
    }
    if (!pv) return 'stopped';
    // Where the volume went has less capacity now: refresh those segments (the periodic poll covers any others).
    if (pv.spec.nodeAffinity) this.#deps.capacity?.topology(pv.spec.nodeAffinity);
    else this.#deps.capacity?.storageClass(className);
    pv.spec.claimRef = claimReference(claim);
    pv.metadata.finalizers = [...(pv.metadata.finalizers ?? []), PVDeletionProtectionFinalizer];
    pv.metadata.annotations = { ...pv.metadata.annotations, [AnnDynamicallyProvisioned]: sc.provisioner };
    pv.spec.storageClassName = className;
    try {
      await api.createVolume(pv);
    } catch (err) {
      // A retried sync after a lost response finds its PV already stored.
      if ((err as { code?: number }).code !== 409) throw new ProvisioningError('InBackground', `error creating PersistentVolume ${pv.metadata.name}: ${(err as Error).message}`, { cause: err });
    }
    recorder.event(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pv.metadata.name}`);
    return 'provisioned';
  }

  /** csiProvisioner.Provision: undefined when the claim is left to someone else (an external populator). */
  async #provision(claim: PersistentVolumeClaim, sc: StorageClass, pvName: string, selectedNodeName: string): Promise<PersistentVolume | undefined> {
    const { options, csi } = this.#deps;
    const caps = options.capabilities;
    const dataSource = claimDataSource(claim);
    if (dataSource) {
      if (!dataSource.name) throw new ProvisioningError('Finished', `the PVC source not found for PVC ${claim.metadata.name}`);
      if (dataSource.kind === 'VolumeSnapshot') {
        if (dataSource.apiGroup !== SnapshotAPIGroup) {
          throw new ProvisioningError('Finished', `the PVC source does not belong to the right APIGroup. Expected ${SnapshotAPIGroup}, Got ${dataSource.apiGroup}`);
        }
        if (!caps.snapshot) throw new ProvisioningError('Finished', 'CSI driver does not support snapshot restore: controller CREATE_DELETE_SNAPSHOT capability is not reported');
      } else if (dataSource.kind === 'PersistentVolumeClaim') {
        if (!caps.clone) throw new ProvisioningError('Finished', 'CSI driver does not support clone operations: controller CLONE_VOLUME capability is not reported');
      } else {
        this.#deps.recorder.event(claim, 'Normal', 'Provisioning', 'Assuming an external populator will provision the volume');
        return undefined;
      }
    }
    if (claim.spec.selector) throw new ProvisioningError('Finished', 'claim Selector is not supported');
    let fsType = '';
    let fsTypes = 0;
    for (const [key, value] of Object.entries(sc.parameters ?? {})) {
      if (key.toLowerCase() === 'fstype' || key === `${CSIParameterPrefix}fstype`) {
        fsType = value;
        fsTypes++;
      }
    }
    if (fsTypes > 1) throw new ProvisioningError('Finished', `fstype specified in parameters with both "fstype" and "${CSIParameterPrefix}fstype" keys`);
    fsType ||= options.defaultFsType ?? '';
    let capabilities: CsiVolumeCapability[];
    let parameters: Record<string, string>;
    try {
      capabilities = volumeCapabilities(claim, sc, fsType, caps.singleNodeMultiWriter);
      parameters = removePrefixedParameters(sc.parameters);
    } catch (err) {
      throw new ProvisioningError('Finished', (err as Error).message.startsWith('found unknown') ? `failed to strip CSI Parameters of prefixed keys: ${(err as Error).message}` : (err as Error).message);
    }
    const requestedBytes = claimRequestBytes(claim);
    const req: CreateVolumeRequest = { name: pvName, capacityRange: { requiredBytes: requestedBytes }, volumeCapabilities: capabilities, parameters };
    if (dataSource) {
      try {
        req.volumeContentSource = dataSource.kind === 'VolumeSnapshot'
          ? await this.#snapshotSource(claim, sc, dataSource)
          : await this.#pvcSource(claim, sc, dataSource);
      } catch (err) {
        throw new ProvisioningError('NoChange', `error getting handle for DataSource Type ${dataSource.kind} by Name ${dataSource.name}: ${(err as Error).message}`);
      }
      if (dataSource.kind === 'PersistentVolumeClaim') await this.#setCloneFinalizer(dataSource);
      else await this.#setSnapshotFinalizer(dataSource);
    }
    if (caps.topology) {
      req.accessibilityRequirements = generateAccessibilityRequirements(
        this.#deps.listers, this.#driver, claim.metadata.name ?? '', sc.allowedTopologies, selectedNodeName,
        options.strictTopology ?? false, options.immediateTopology ?? true,
      );
      if (!req.accessibilityRequirements) delete req.accessibilityRequirements;
    }
    if (options.extraCreateMetadata) {
      Object.assign(req.parameters, {
        [`${CSIParameterPrefix}pvc/name`]: claim.metadata.name ?? '',
        [`${CSIParameterPrefix}pvc/namespace`]: claim.metadata.namespace ?? '',
        [`${CSIParameterPrefix}pv/name`]: pvName,
      });
    }

    let volume: CsiVolume;
    try {
      volume = (await csi.createVolume(req)).volume;
    } catch (err) {
      throw new ProvisioningError(createVolumeErrorState(err, caps.topology && !!selectedNodeName), describeCsiError(err), { cause: err });
    }
    let capacity = BigInt(volume.capacityBytes ?? 0);
    // CSI allows 0 for "unknown" (NFS and the like); the API server does not.
    if (capacity === 0n) capacity = requestedBytes;
    if (capacity < requestedBytes) {
      await this.#cleanupVolume(volume.volumeId, `created volume capacity ${capacity} less than requested capacity ${requestedBytes}`, pvName);
    }
    if (dataSource && !volume.contentSource) await this.#cleanupVolume(volume.volumeId, 'volume content source missing', pvName);

    const pv: PersistentVolume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: {
        name: pvName,
        annotations: { [AnnDeletionProvisionerSecretRefName]: '', [AnnDeletionProvisionerSecretRefNamespace]: '' },
      },
      spec: {
        accessModes: claim.spec.accessModes,
        capacity: { storage: bytesToQuantityString(capacity) },
        csi: {
          driver: this.#driver,
          volumeHandle: volume.volumeId,
          volumeAttributes: { [ProvisionerIdentityKey]: options.identity, ...volume.volumeContext },
        },
      },
    };
    if (sc.mountOptions) pv.spec.mountOptions = sc.mountOptions;
    if (sc.reclaimPolicy) pv.spec.persistentVolumeReclaimPolicy = sc.reclaimPolicy;
    if (caps.topology) {
      const affinity = volumeNodeAffinity(volume.accessibleTopology);
      if (affinity) pv.spec.nodeAffinity = affinity;
    }
    if (claim.spec.volumeMode) pv.spec.volumeMode = claim.spec.volumeMode;
    if (claim.spec.volumeMode !== 'Block' && fsType) pv.spec.csi!.fsType = fsType;
    if (dataSource?.kind === 'VolumeSnapshot') await this.#removeSnapshotFinalizer(dataSource);
    return pv;
  }

  async #cleanupVolume(volumeId: string, reason: string, pvName: string): Promise<never> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.#deps.csi.deleteVolume({ volumeId });
        lastError = undefined;
        break;
      } catch (err) {
        lastError = err;
      }
    }
    const orphaned = lastError ? `. Cleanup of volume ${pvName} failed, volume is orphaned: ${describeCsiError(lastError)}` : '';
    throw new ProvisioningError('InBackground', reason + orphaned);
  }

  /** getSnapshotSource, with upstream's checks in upstream's order. */
  async #snapshotSource(claim: PersistentVolumeClaim, sc: StorageClass, source: DataSourceRef): Promise<CsiContentSource> {
    const { api } = this.#deps;
    const snapshot = await api.getSnapshot(source.namespace, source.name);
    if (!snapshot) throw new Error(`error getting snapshot ${source.name} from api server: ${notFound('volumesnapshots.snapshot.storage.k8s.io', source.name)}`);
    if (snapshot.metadata.deletionTimestamp && !hasFinalizer(snapshot, SnapshotSourceProtectionFinalizer)) {
      throw new Error(`snapshot ${source.name} is being deleted`);
    }
    const notBound = new Error(`snapshot ${source.name} not bound`);
    const contentName = snapshot.status?.boundVolumeSnapshotContentName;
    if (!contentName) throw notBound;
    const content = await api.getSnapshotContent(contentName);
    if (!content) throw notBound;
    const ref = content.spec.volumeSnapshotRef;
    if (ref.uid !== snapshot.metadata.uid || ref.namespace !== snapshot.metadata.namespace || ref.name !== snapshot.metadata.name) throw notBound;
    if (content.spec.driver !== sc.provisioner) throw notBound;
    if (snapshot.status?.readyToUse !== true) throw new Error(`snapshot ${source.name} is not Ready`);
    const handle = content.status?.snapshotHandle;
    if (!handle) throw new Error(`snapshot handle ${source.name} is not available`);
    if (snapshot.status.restoreSize !== undefined) {
      const requested = claimRequestBytes(claim);
      const restoreSize = claimRequestBytes({ metadata: {}, spec: { resources: { requests: { storage: snapshot.status.restoreSize } } } });
      if (requested < restoreSize) {
        throw new Error(`requested volume size ${requested} is less than the size ${restoreSize} for the source snapshot ${snapshot.metadata.name}`);
      }
    }
    const sourceMode = content.spec.sourceVolumeMode;
    if (sourceMode && claim.spec.volumeMode && sourceMode !== claim.spec.volumeMode) {
      // --prevent-volume-mode-conversion is on by default.
      const allow = content.metadata.annotations?.[AnnAllowVolumeModeChange];
      const prefix = `requested volume ${claim.metadata.namespace}/${claim.metadata.name} modifies the mode of the source volume but does not have permission to do so. `;
      if (allow === undefined) throw new Error(`${prefix}${AnnAllowVolumeModeChange} annotation is not present on snapshotcontent ${content.metadata.name}`);
      if (!['1', 't', 'T', 'true', 'TRUE', 'True'].includes(allow)) {
        throw new Error(`${prefix}${AnnAllowVolumeModeChange} is set to false on snapshotcontent ${content.metadata.name}`);
      }
    }
    return { snapshot: { snapshotId: handle } };
  }

  /** getPVCSource: a bound claim of the same driver, no larger than the new one, of the same volume mode. */
  async #pvcSource(claim: PersistentVolumeClaim, sc: StorageClass, source: DataSourceRef): Promise<CsiContentSource> {
    const sourceClaim = this.#deps.listers.getClaim(source.namespace, source.name);
    if (!sourceClaim) {
      throw new Error(`error getting PVC ${source.name} (namespace ${quote(claim.metadata.namespace)}) from api server: ${notFound('persistentvolumeclaim', source.name)}`);
    }
    if (sourceClaim.status?.phase !== 'Bound') throw new Error(`the PVC DataSource ${source.name} must have a status of Bound.  Got ${JSON.stringify(sourceClaim.status ?? {})}`);
    if (sourceClaim.metadata.deletionTimestamp) throw new Error(`the PVC DataSource ${source.name} is currently being deleted`);
    if (sourceClaim.spec.storageClassName === undefined) throw new Error(`the source PVC (${sourceClaim.metadata.name}) storageclass cannot be empty`);
    if (claim.spec.storageClassName === undefined) throw new Error(`the requested PVC (${claim.metadata.name}) storageclass cannot be empty`);
    const requested = claimRequestBytes(claim);
    const sourceSize = claimRequestBytes(sourceClaim);
    if (requested < sourceSize) {
      throw new Error(`error, new PVC request must be greater than or equal in size to the specified PVC data source, requested ${requested} but source is ${sourceSize}`);
    }
    if (!sourceClaim.spec.volumeName) throw new Error(`volume name is empty in source PVC ${sourceClaim.metadata.name}`);
    const sourceVolume = await this.#deps.api.getVolume(sourceClaim.spec.volumeName);
    const invalid = new Error('claim in dataSource not bound or invalid');
    if (!sourceVolume?.spec.csi || sourceVolume.spec.csi.driver !== sc.provisioner) throw invalid;
    const ref = sourceVolume.spec.claimRef;
    if (!ref || ref.uid !== sourceClaim.metadata.uid || ref.namespace !== sourceClaim.metadata.namespace || ref.name !== sourceClaim.metadata.name) throw invalid;
    if (sourceVolume.status?.phase !== 'Bound') throw invalid;
    const sourceMode = sourceVolume.spec.volumeMode ?? 'Filesystem';
    const wanted = claim.spec.volumeMode ?? 'Filesystem';
    if (sourceMode !== wanted) {
      throw new Error(`the source PVC and destination PVCs must have the same volume mode for cloning.  Source is ${sourceMode}, but new PVC requested ${wanted}`);
    }
    return { volume: { volumeId: sourceVolume.spec.csi.volumeHandle } };
  }

  async #setCloneFinalizer(source: DataSourceRef): Promise<void> {
    const sourceClaim = this.#deps.listers.getClaim(source.namespace, source.name);
    if (!sourceClaim || hasFinalizer(sourceClaim, PVCCloneFinalizer)) return;
    const updated = cloneJSON(sourceClaim);
    updated.metadata.finalizers = [...(updated.metadata.finalizers ?? []), PVCCloneFinalizer];
    await this.#wrapNoChange(this.#deps.api.updateClaim(updated));
  }

  async #setSnapshotFinalizer(source: DataSourceRef): Promise<void> {
    const snapshot = await this.#deps.api.getSnapshot(source.namespace, source.name);
    if (!snapshot || hasFinalizer(snapshot, SnapshotSourceProtectionFinalizer)) return;
    const updated = cloneJSON(snapshot);
    updated.metadata.finalizers = [...(updated.metadata.finalizers ?? []), SnapshotSourceProtectionFinalizer];
    await this.#wrapNoChange(this.#deps.api.updateSnapshot(updated));
  }

  async #removeSnapshotFinalizer(source: DataSourceRef): Promise<void> {
    const snapshot = await this.#deps.api.getSnapshot(source.namespace, source.name);
    if (!snapshot || !hasFinalizer(snapshot, SnapshotSourceProtectionFinalizer)) return;
    const updated = cloneJSON(snapshot);
    updated.metadata.finalizers = updated.metadata.finalizers!.filter((f) => f !== SnapshotSourceProtectionFinalizer);
    // Upstream does not fail the provisioning over this; the next restore from the snapshot cleans it up.
    await this.#deps.api.updateSnapshot(updated).catch(() => undefined);
  }

  async #wrapNoChange<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } catch (err) {
      throw new ProvisioningError('NoChange', (err as Error).message, { cause: err });
    }
  }

  /** rescheduleProvisioning: drop volume.kubernetes.io/selected-node so the scheduler picks a node again. */
  async #reschedule(claim: PersistentVolumeClaim): Promise<void> {
    if (!claim.metadata.annotations?.[AnnSelectedNode]) return;
    const updated = cloneJSON(claim);
    delete updated.metadata.annotations![AnnSelectedNode];
    try {
      await this.#deps.api.updateClaim(updated);
    } catch (err) {
      throw new ProvisioningError('Finished', `delete annotation 'annSelectedNode' for PersistentVolumeClaim ${quote(`${claim.metadata.namespace}/${claim.metadata.name}`)}: ${(err as Error).message}`, { cause: err });
    }
  }

  // ------------------------------------------------------------------ volumes

  /** The lib's syncVolume: keep our finalizer on bound Delete volumes and delete released ones. */
  async syncVolume(volume: PersistentVolume): Promise<void> {
    if (!this.#isProvisionerForVolume(volume)) return;
    volume = await this.#handleProtectionFinalizer(volume);
    if (!this.#shouldDelete(volume)) return;
    const { csi, api, recorder } = this.#deps;
    if (!volume.spec.csi) {
      recorder.event(volume, 'Warning', 'VolumeFailedDelete', 'invalid CSI PV');
      throw new VolumeDeletionError('invalid CSI PV');
    }
    try {
      await csi.deleteVolume({ volumeId: volume.spec.csi.volumeHandle });
    } catch (err) {
      const message = describeCsiError(err);
      recorder.event(volume, 'Warning', 'VolumeFailedDelete', message);
      throw new VolumeDeletionError(message, { cause: err });
    }
    if (volume.spec.nodeAffinity) this.#deps.capacity?.topology(volume.spec.nodeAffinity);
    await api.deleteVolume(volume.metadata.name ?? '');
    // Deleting set a deletionTimestamp; our finalizer is the last thing holding the object for us.
    const current = await api.getVolume(volume.metadata.name ?? '');
    if (current && hasFinalizer(current, PVDeletionProtectionFinalizer)) {
      const updated = cloneJSON(current);
      updated.metadata.finalizers = updated.metadata.finalizers!.filter((f) => f !== PVDeletionProtectionFinalizer);
      try {
        await api.updateVolume(updated);
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    }
  }

  #isProvisionerForVolume(volume: PersistentVolume): boolean {
    const provisionedBy = volume.metadata.annotations?.[AnnDynamicallyProvisioned];
    if (provisionedBy !== undefined) return provisionedBy === this.#driver;
    return volume.spec.csi?.driver === this.#driver;
  }

  async #handleProtectionFinalizer(volume: PersistentVolume): Promise<PersistentVolume> {
    const policy = volume.spec.persistentVolumeReclaimPolicy;
    let finalizers = volume.metadata.finalizers ?? [];
    if (policy === 'Delete' && !volume.metadata.deletionTimestamp && volume.status?.phase === 'Bound' && !finalizers.includes(PVDeletionProtectionFinalizer)) {
      finalizers = [...finalizers, PVDeletionProtectionFinalizer];
    } else if ((policy === 'Retain' || policy === 'Recycle') && finalizers.includes(PVDeletionProtectionFinalizer)) {
      finalizers = finalizers.filter((f) => f !== PVDeletionProtectionFinalizer);
    } else {
      return volume;
    }
    const updated = cloneJSON(volume);
    updated.metadata.finalizers = finalizers.length ? finalizers : undefined;
    if (!updated.metadata.finalizers) delete updated.metadata.finalizers;
    try {
      return await this.#deps.api.updateVolume(updated);
    } catch (err) {
      throw new VolumeDeletionError(`failed to modify finalizers to [${finalizers.join(' ')}] on volume ${volume.metadata.name} err: ${(err as Error).message}`, { cause: err });
    }
  }

  #shouldDelete(volume: PersistentVolume): boolean {
    // The finalizer is gone while the object is being deleted: the backend volume was deleted already.
    if (!hasFinalizer(volume, PVDeletionProtectionFinalizer) && volume.metadata.deletionTimestamp) return false;
    return volume.status?.phase === 'Released' && volume.spec.persistentVolumeReclaimPolicy === 'Delete';
  }

  // ------------------------------------------------------------------ clone sources

  /** CloningProtectionController: a source claim being deleted keeps cloning-protection while a clone is pending. */
  async syncCloneSource(claim: PersistentVolumeClaim): Promise<void> {
    if (!claim.metadata.deletionTimestamp || !hasFinalizer(claim, PVCCloneFinalizer)) return;
    const cloning = this.#deps.listers.listClaims(claim.metadata.namespace ?? '').some((other) => {
      const ds = other.spec.dataSource ?? other.spec.dataSourceRef;
      return ds?.kind === 'PersistentVolumeClaim' && ds.name === claim.metadata.name && other.status?.phase === 'Pending';
    });
    if (cloning) return;
    const updated = cloneJSON(claim);
    updated.metadata.finalizers = updated.metadata.finalizers!.filter((f) => f !== PVCCloneFinalizer);
    await this.#deps.api.updateClaim(updated);
  }
}

/** checkError: which errors leave a CreateVolume possibly still running, and when to hand the pod back to the scheduler. */
export function createVolumeErrorState(err: unknown, mayReschedule: boolean): ProvisioningState {
  const code = grpcCode(err);
  if (code === undefined) return 'InBackground';
  switch (code) {
    case GrpcCode.ResourceExhausted:
      return mayReschedule ? 'Reschedule' : 'Finished';
    case GrpcCode.Canceled:
    case GrpcCode.DeadlineExceeded:
    case GrpcCode.Unavailable:
    case GrpcCode.Aborted:
      return 'InBackground';
    default:
      return 'Finished';
  }
}
