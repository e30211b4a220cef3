// Patch metadata of the built-in kinds, hand-written from the struct tags and markers of k8s.io/api
// (core/v1, storage/v1, coordination/v1, apps/v1, batch/v1, events/v1) and meta/v1:
// - strategic merge patch reads `patchStrategy` / `patchMergeKey` (lists without a strategy are replaced whole);
// - server-side apply reads `+listType` / `+listMapKey` / `+mapType` / `+structType`, falling back to the patch
//   strategy (merge + key → associative list, merge on primitives → set) where no list type is declared.
// Only nodes that matter are spelled out. A field missing from the table is treated as upstream treats an untagged
// struct field: objects merge field by field, lists are atomic.

export interface SchemaNode {
  kind: 'struct' | 'map' | 'list';
  /** struct: the declared fields that need metadata. */
  fields?: Record<string, SchemaNode>;
  /** map: the value type; list: the item type. */
  elem?: SchemaNode;
  /** server-side apply: the whole value is one field (`+listType=atomic`, `+mapType=atomic`, `+structType=atomic`). */
  atomic?: boolean;
  /** server-side apply list type when not atomic. */
  listType?: 'set' | 'map';
  /** server-side apply keys of an associative list, with the defaults of key fields that may be omitted. */
  listKeys?: string[];
  keyDefaults?: Record<string, unknown>;
  /** strategic merge patch: `merge` merges a list (by patchMergeKey for objects); lists without it are replaced. */
  patchStrategy?: 'merge';
  patchMergeKey?: string;
  /** `patchStrategy:"...,retainKeys"`: kubectl sends `$retainKeys` for the items (applied generically). */
  retainKeys?: boolean;
  /** A non-pointer Go struct: present (as `{}`) in the zero object, so it is never "added" or "removed" itself. */
  present?: boolean;
}

const struct = (fields: Record<string, SchemaNode> = {}): SchemaNode => ({ kind: 'struct', fields });
const present = (node: SchemaNode): SchemaNode => ({ ...node, present: true });
const atomicStruct: SchemaNode = { kind: 'struct', fields: {}, atomic: true };
const map = (elem?: SchemaNode): SchemaNode => (elem ? { kind: 'map', elem } : { kind: 'map' });
const atomicMap: SchemaNode = { kind: 'map', atomic: true };
const atomic: SchemaNode = { kind: 'list', atomic: true };
/** `patchStrategy:"merge"` on a list of primitives: SMP union, SSA set. */
const mergedSet: SchemaNode = { kind: 'list', listType: 'set', patchStrategy: 'merge' };
/** `+listType=set` without a patch strategy: SMP replaces it. */
const set: SchemaNode = { kind: 'list', listType: 'set' };
/** `patchStrategy:"merge" patchMergeKey:"<key>"`: SMP merges items by key, SSA keys items by `keys`. */
const keyed = (
  mergeKey: string,
  elem: SchemaNode = struct(),
  opts: { keys?: string[]; keyDefaults?: Record<string, unknown>; retainKeys?: boolean } = {},
): SchemaNode => ({
  kind: 'list',
  listType: 'map',
  listKeys: opts.keys ?? [mergeKey],
  ...(opts.keyDefaults ? { keyDefaults: opts.keyDefaults } : {}),
  patchStrategy: 'merge',
  patchMergeKey: mergeKey,
  ...(opts.retainKeys ? { retainKeys: true } : {}),
  elem,
});
/** `+listType=map` without a patch strategy: SSA keys items, SMP replaces the list. */
const mapList = (keys: string[], elem: SchemaNode = struct()): SchemaNode => ({ kind: 'list', listType: 'map', listKeys: keys, elem });

// ---- meta/v1 ----
const objectMeta = present(
  struct({
    labels: map(),
    annotations: map(),
    finalizers: mergedSet,
    ownerReferences: keyed('uid'),
    managedFields: atomic,
  }),
);
// LabelSelector, NodeSelector, NodeSelectorTerm and ObjectReference are `+structType=atomic`.
const labelSelector = atomicStruct;
const nodeSelector = atomicStruct;
const objectReference = atomicStruct;

// ---- core/v1 ----
const resourceList = map();
const resourceRequirements = present(struct({ limits: resourceList, requests: resourceList, claims: mapList(['name']) }));
const container = struct({
  command: atomic,
  args: atomic,
  ports: keyed('containerPort', struct(), { keys: ['containerPort', 'protocol'], keyDefaults: { protocol: 'TCP' } }),
  envFrom: atomic,
  env: keyed('name'),
  resources: resourceRequirements,
  resizePolicy: atomic,
  volumeMounts: keyed('mountPath'),
  volumeDevices: keyed('devicePath'),
  securityContext: struct({ capabilities: struct({ add: atomic, drop: atomic }) }),
});
const podAffinityTerms = struct({ requiredDuringSchedulingIgnoredDuringExecution: atomic, preferredDuringSchedulingIgnoredDuringExecution: atomic });
const affinity = struct({
  nodeAffinity: struct({ requiredDuringSchedulingIgnoredDuringExecution: nodeSelector, preferredDuringSchedulingIgnoredDuringExecution: atomic }),
  podAffinity: podAffinityTerms,
  podAntiAffinity: podAffinityTerms,
});
const podSpec = present(
  struct({
    volumes: keyed('name', struct(), { retainKeys: true }),
    initContainers: keyed('name', container),
    containers: keyed('name', container),
    ephemeralContainers: keyed('name', container),
    nodeSelector: atomicMap,
    imagePullSecrets: keyed('name'),
    affinity,
    tolerations: atomic,
    hostAliases: keyed('ip', struct({ hostnames: atomic })),
    topologySpreadConstraints: keyed('topologyKey', struct({ labelSelector, matchLabelKeys: atomic }), {
      keys: ['topologyKey', 'whenUnsatisfiable'],
    }),
    readinessGates: atomic,
    schedulingGates: keyed('name'),
    resourceClaims: keyed('name', struct(), { retainKeys: true }),
    overhead: resourceList,
    securityContext: struct({ supplementalGroups: atomic, sysctls: atomic }),
    dnsConfig: struct({ nameservers: atomic, searches: atomic, options: atomic }),
  }),
);
const podStatus = present(
  struct({
    conditions: keyed('type'),
    podIPs: keyed('ip'),
    hostIPs: keyed('ip'),
    initContainerStatuses: atomic,
    containerStatuses: atomic,
    ephemeralContainerStatuses: atomic,
    resourceClaimStatuses: keyed('name', struct(), { retainKeys: true }),
  }),
);
const podTemplateSpec = present(struct({ metadata: objectMeta, spec: podSpec }));
const persistentVolumeClaimSpec = present(
  struct({ accessModes: atomic, selector: labelSelector, resources: present(struct({ limits: resourceList, requests: resourceList })) }),
);
const persistentVolumeClaimStatus = present(
  struct({
    accessModes: atomic,
    capacity: resourceList,
    conditions: keyed('type'),
    allocatedResources: resourceList,
    allocatedResourceStatuses: map(),
  }),
);
const persistentVolumeSpec = present(
  struct({
    capacity: resourceList,
    accessModes: atomic,
    claimRef: objectReference,
    mountOptions: atomic,
    nodeAffinity: struct({ required: nodeSelector }),
    csi: struct({ volumeAttributes: map() }),
  }),
);

const withMeta = (fields: Record<string, SchemaNode>): SchemaNode => struct({ metadata: objectMeta, ...fields });

const pod = withMeta({ spec: podSpec, status: podStatus });
const workload = (spec: Record<string, SchemaNode>): SchemaNode =>
  withMeta({ spec: present(struct({ selector: labelSelector, template: podTemplateSpec, ...spec })), status: present(struct({ conditions: keyed('type') })) });

const rootsByGvk: Record<string, SchemaNode> = {
  'v1/Pod': pod,
  'v1/PodTemplate': withMeta({ template: podTemplateSpec }),
  'v1/Node': withMeta({
    spec: present(struct({ podCIDRs: mergedSet, taints: atomic })),
    status: present(
      struct({
        capacity: resourceList,
        allocatable: resourceList,
        conditions: keyed('type'),
        addresses: keyed('type'),
        images: atomic,
        volumesInUse: atomic,
        volumesAttached: atomic,
      }),
    ),
  }),
  'v1/PersistentVolume': withMeta({ spec: persistentVolumeSpec, status: present(struct()) }),
  'v1/PersistentVolumeClaim': withMeta({ spec: persistentVolumeClaimSpec, status: persistentVolumeClaimStatus }),
  'v1/Namespace': withMeta({ spec: present(struct({ finalizers: atomic })), status: present(struct({ conditions: keyed('type') })) }),
  'v1/Event': withMeta({ involvedObject: objectReference, related: objectReference }),
  'v1/ConfigMap': withMeta({ data: map(), binaryData: map() }),
  'v1/Secret': withMeta({ data: map(), stringData: map() }),
  'v1/ServiceAccount': withMeta({ secrets: keyed('name'), imagePullSecrets: atomic }),
  'v1/Service': withMeta({
    spec: present(
      struct({
        ports: keyed('port', struct(), { keys: ['port', 'protocol'], keyDefaults: { protocol: 'TCP' } }),
        selector: atomicMap,
        clusterIPs: atomic,
        externalIPs: atomic,
        ipFamilies: atomic,
        loadBalancerSourceRanges: atomic,
      }),
    ),
    status: present(struct({ conditions: mapList(['type']) })),
  }),
  'v1/Endpoints': withMeta({ subsets: atomic }),
  'storage.k8s.io/v1/StorageClass': withMeta({ parameters: map(), mountOptions: atomic, allowedTopologies: atomic }),
  'storage.k8s.io/v1/CSINode': withMeta({ spec: present(struct({ drivers: keyed('name', struct({ topologyKeys: atomic })) })) }),
  'storage.k8s.io/v1/CSIDriver': withMeta({ spec: present(struct({ volumeLifecycleModes: set, tokenRequests: atomic })) }),
  'storage.k8s.io/v1/CSIStorageCapacity': withMeta({ nodeTopology: labelSelector }),
  'storage.k8s.io/v1/VolumeAttachment': withMeta({
    spec: present(struct({ source: struct({ inlineVolumeSpec: persistentVolumeSpec }) })),
    status: present(struct({ attachmentMetadata: map() })),
  }),
  'coordination.k8s.io/v1/Lease': withMeta({ spec: present(struct()) }),
  'events.k8s.io/v1/Event': withMeta({ regarding: objectReference, related: objectReference }),
  'apps/v1/Deployment': workload({}),
  'apps/v1/ReplicaSet': workload({}),
  'apps/v1/DaemonSet': workload({}),
  'apps/v1/StatefulSet': workload({ volumeClaimTemplates: atomic }),
  'batch/v1/Job': workload({}),
  // Custom kinds (snapshot CRDs): metadata is standard; their maps are declared so apply tracks them per key.
  'snapshot.storage.k8s.io/v1/VolumeSnapshotClass': withMeta({ parameters: map() }),
};

/** Any kind outside the table: only metadata has known structure. */
const genericRoot = withMeta({});

/** The schema of `${apiVersion}/${kind}`. */
export function schemaForGvk(gvk: string): SchemaNode {
  return rootsByGvk[gvk] ?? genericRoot;
}

/** The schema of a child: a struct field, a map value or a list item. Undefined when nothing is known. */
export function childSchema(node: SchemaNode | undefined, key?: string): SchemaNode | undefined {
  if (!node) return undefined;
  if (node.kind === 'struct') return key !== undefined && node.fields && Object.hasOwn(node.fields, key) ? node.fields[key] : undefined;
  return node.elem;
}

// API groups served by kube-apiserver itself; anything else (snapshot.storage.k8s.io, ...) is a custom resource.
const builtinGroups = new Set([
  '',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'apiregistration.k8s.io',
  'apps',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'events.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'internal.apiserver.k8s.io',
  'networking.k8s.io',
  'node.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'resource.k8s.io',
  'scheduling.k8s.io',
  'storage.k8s.io',
  'storagemigration.k8s.io',
]);

/** Splits `${apiVersion}/${kind}` into group, version and kind. */
export function parseGvk(gvk: string): { group: string; version: string; kind: string; apiVersion: string } {
  const parts = gvk.split('/');
  const kind = parts.pop() ?? '';
  const version = parts.pop() ?? '';
  const group = parts.join('/');
  return { group, version, kind, apiVersion: group ? `${group}/${version}` : version };
}

/** Strategic merge patch needs Go struct tags, so kube-apiserver accepts it only for built-in kinds (415 otherwise). */
export function supportsStrategicMerge(gvk: string): boolean {
  return builtinGroups.has(parseGvk(gvk).group);
}
