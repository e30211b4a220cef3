// CSIStorageCapacity publishing, as external-provisioner's capacity controller (--enable-capacity): one object per
// (topology segment x StorageClass of the driver with WaitForFirstConsumer), its capacity from CSI GetCapacity.
import { cloneJSON } from '../../api/json.ts';
import type { CSIDriver, CSIStorageCapacity, CSINode, Node, NodeSelectorTerm, StorageClass } from '../../api/types.ts';
import { bytesToQuantityString } from '../../api/quantity.ts';
import { LabelCapacityDriverName, LabelCapacityManagedBy } from '../../api/well-known.ts';
import type { CsiControllerClient } from './provisioner-logic.ts';

export interface CapacityDeps {
  driverName: string;
  /** Namespace the objects live in (the provisioner's own). */
  namespace: string;
  /** Value of csi.storage.k8s.io/managed-by; upstream's default is "external-provisioner". */
  managedBy: string;
  csi: CsiControllerClient;
  getCSIDriver(): CSIDriver | undefined;
  listClasses(): StorageClass[];
  /** topologySegments() of the nodes and CSINodes now. */
  listSegments(): Array<Record<string, string>>;
  /** The objects currently published with our labels. */
  listCapacities(): CSIStorageCapacity[];
  createCapacity(capacity: CSIStorageCapacity): Promise<unknown>;
  updateCapacity(capacity: CSIStorageCapacity): Promise<unknown>;
  deleteCapacity(name: string): Promise<unknown>;
}

/** Distinct topology segments of the nodes where the driver runs, keyed by the driver's CSINode topology keys. */
export function topologySegments(driverName: string, nodes: Node[], csiNodes: CSINode[]): Array<Record<string, string>> {
  const byKey = new Map<string, Record<string, string>>();
  const nodeLabels = new Map(nodes.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
  for (const csiNode of csiNodes) {
    const keys = csiNode.spec.drivers.find((d) => d.name === driverName)?.topologyKeys ?? [];
    const labels = nodeLabels.get(csiNode.metadata.name) ?? {};
    if (keys.length === 0 || !keys.every((k) => Object.hasOwn(labels, k))) continue;
    const segment = Object.fromEntries([...keys].sort().map((k) => [k, labels[k]]));
    byKey.set(JSON.stringify(segment), segment);
  }
  return [...byKey.values()];
}

const segmentKey = (className: string, segment: Record<string, string> | undefined) => `${className}\n${JSON.stringify(segment ?? {})}`;

/** Which (class, segment) work items a refresh covers. */
export type CapacityItems = (className: string, segment: Record<string, string>) => boolean;

/**
 * upstream's termToSegment: a node selector term of a provisioned PV's node affinity as a topology segment (every
 * expression `key In [value]`, no matchFields); undefined for a term that is not one.
 */
export function termToSegment(term: NodeSelectorTerm): Record<string, string> | undefined {
  if (term.matchFields?.length) return undefined;
  const segment: Record<string, string> = {};
  for (const { key, operator, values } of term.matchExpressions ?? []) {
    if (operator !== 'In' || values?.length !== 1) return undefined;
    segment[key] = values[0]!;
  }
  return segment;
}

/** Segments are equal when they have the same keys with the same values (upstream's Segment.Compare == 0). */
export function sameSegment(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}

/**
 * One reconcile pass: create, update and delete CSIStorageCapacity objects until they match GetCapacity. With `only`,
 * a refresh of those work items: GetCapacity for them alone, creating or updating their objects, deleting nothing.
 */
export async function syncStorageCapacity(deps: CapacityDeps, only?: CapacityItems): Promise<void> {
  const publish = deps.getCSIDriver()?.spec.storageCapacity === true;
  const classes = publish
    ? deps.listClasses().filter((sc) => sc.provisioner === deps.driverName && sc.volumeBindingMode === 'WaitForFirstConsumer')
    : [];
  const segments = classes.length ? deps.listSegments() : [];
  const inScope = (c: CSIStorageCapacity) => !only || only(c.storageClassName, c.nodeTopology?.matchLabels ?? {});
  const existing = new Map(deps.listCapacities().filter(inScope).map((c) => [segmentKey(c.storageClassName, c.nodeTopology?.matchLabels), c]));
  for (const sc of classes) {
    for (const segment of segments) {
      if (only && !only(sc.metadata.name ?? '', segment)) continue;
      const key = segmentKey(sc.metadata.name ?? '', segment);
      const response = await deps.csi.getCapacity({
        parameters: sc.parameters ?? {},
        // Capacity is assumed independent of capabilities; the spec requires some, upstream passes these.
        volumeCapabilities: [{ mount: { fsType: '', mountFlags: [] }, accessMode: { mode: 'SINGLE_NODE_WRITER' } }],
        accessibleTopology: { segments: segment },
      });
      const capacity = bytesToQuantityString(response.availableCapacity);
      const maximumVolumeSize = response.maximumVolumeSize ? bytesToQuantityString(response.maximumVolumeSize) : undefined;
      const current = existing.get(key);
      existing.delete(key);
      if (!current) {
        await deps.createCapacity({
          apiVersion: 'storage.k8s.io/v1',
          kind: 'CSIStorageCapacity',
          metadata: {
            generateName: 'csisc-',
            namespace: deps.namespace,
            labels: { [LabelCapacityDriverName]: deps.driverName, [LabelCapacityManagedBy]: deps.managedBy },
          },
          storageClassName: sc.metadata.name ?? '',
          nodeTopology: { matchLabels: segment },
          capacity,
          ...(maximumVolumeSize ? { maximumVolumeSize } : {}),
        });
      } else if (current.capacity !== capacity || current.maximumVolumeSize !== maximumVolumeSize) {
        const updated = cloneJSON(current);
        updated.capacity = capacity;
        if (maximumVolumeSize) updated.maximumVolumeSize = maximumVolumeSize;
        else delete updated.maximumVolumeSize;
        await deps.updateCapacity(updated);
      }
    }
  }
  // Whatever is left describes a class or segment that no longer exists.
  if (only) return;
  for (const obsolete of existing.values()) await deps.deleteCapacity(obsolete.metadata.name ?? '');
}
