// Beyond upstream: why VolumeBinding rejected a node, claim by claim, for the scheduling diagnosis that
// `strata explain` shows. Computed only for pods that failed, so it may afford to look at every candidate PV.
import type { Node, PersistentVolumeClaim, TopologySelectorTerm } from '../../../api/types.ts';
import { checkVolumeNodeAffinity, topologyTermsMatch } from '../../../api/node-affinity.ts';
import { claimRequestBytes, claimStorageClassName, explainVolumeCandidates, type VolumeCandidate } from '../../../api/volume-matching.ts';
import { AnnSelectedNode, NotSupportedProvisioner } from '../../../api/well-known.ts';
import type { ClusterObjects } from '../../cluster-objects.ts';
import { capacitySufficient, nodeHasAccess, pvcKey, type PodVolumeClaims, type VolumeBinder } from './binder.ts';

/** Candidate PVs listed per claim at most; the rest are counted. */
const maxCandidates = 20;

export type ProvisioningProblem = 'NoStorageClassName' | 'StorageClassNotFound' | 'NoProvisioner' | 'TopologyMismatch' | 'NotEnoughCapacity';

export interface ProvisioningExplanation {
  provisioner?: string;
  problem?: ProvisioningProblem;
  /** The class's allowedTopologies, and the node's values of the keys they name. */
  allowedTopologies?: TopologySelectorTerm[];
  nodeLabels?: Record<string, string>;
  capacity?: {
    requested: string;
    pools: Array<{ name: string; namespace?: string; capacity?: string; maximumVolumeSize?: string; sufficient: boolean; nodeHasAccess: boolean }>;
  };
}

export interface ClaimExplanation {
  claim: string;
  storageClass: string;
  binding: 'Bound' | 'WaitForFirstConsumer';
  /** Bound claims: the volume and what is wrong with it on this node. */
  volume?: string;
  volumeProblem?: 'NotFound' | 'NodeAffinityConflict';
  volumeNodeAffinity?: unknown;
  /** Claims already being provisioned for a node. */
  selectedNode?: string;
  /** Unbound claims: the PVs considered and why each cannot be used. */
  candidates?: VolumeCandidate[];
  omittedCandidates?: number;
  provisioning?: ProvisioningExplanation;
}

export interface VolumeBindingExplanation {
  claims: ClaimExplanation[];
}

function explainProvisioning(binder: VolumeBinder, objects: ClusterObjects, claim: PersistentVolumeClaim, node: Node): ProvisioningExplanation {
  const className = claimStorageClassName(claim);
  if (className === '') return { problem: 'NoStorageClassName' };
  const sc = objects.getStorageClass(className);
  if (!sc) return { problem: 'StorageClassNotFound' };
  const result: ProvisioningExplanation = { provisioner: sc.provisioner };
  if (!sc.provisioner || sc.provisioner === NotSupportedProvisioner) return { ...result, problem: 'NoProvisioner' };
  const nodeLabelsFor = (terms: TopologySelectorTerm[]) => {
    const labels = node.metadata.labels ?? {};
    const keys = new Set(terms.flatMap((t) => (t.matchLabelExpressions ?? []).map((e) => e.key)));
    return Object.fromEntries([...keys].filter((k) => Object.hasOwn(labels, k)).map((k) => [k, labels[k]!]));
  };
  if (sc.allowedTopologies?.length) {
    result.allowedTopologies = sc.allowedTopologies;
    result.nodeLabels = nodeLabelsFor(sc.allowedTopologies);
    if (!topologyTermsMatch(sc.allowedTopologies, node.metadata.labels)) return { ...result, problem: 'TopologyMismatch' };
  }
  if (!binder.hasEnoughCapacity(sc.provisioner, claim, sc, node).sufficient) {
    const size = claim.spec.resources?.requests?.storage ?? '0';
    const pools = objects
      .listCSIStorageCapacities()
      .filter((c) => c.storageClassName === className)
      .map((c) => ({
        name: c.metadata.name ?? '',
        namespace: c.metadata.namespace,
        capacity: c.capacity,
        maximumVolumeSize: c.maximumVolumeSize,
        sufficient: capacitySufficient(c, claimRequestBytes(claim)),
        nodeHasAccess: nodeHasAccess(node, c),
      }));
    return { ...result, problem: 'NotEnoughCapacity', capacity: { requested: size, pools } };
  }
  return result;
}

/** Every claim of the pod as seen from this node. */
export function explainVolumeBinding(
  binder: VolumeBinder,
  objects: ClusterObjects,
  claims: PodVolumeClaims,
  node: Node,
): VolumeBindingExplanation {
  const result: ClaimExplanation[] = [];
  for (const pvc of claims.boundClaims) {
    const entry: ClaimExplanation = { claim: pvcKey(pvc), storageClass: claimStorageClassName(pvc), binding: 'Bound', volume: pvc.spec.volumeName };
    const pv = objects.pvCache.get(pvc.spec.volumeName ?? '');
    if (!pv) entry.volumeProblem = 'NotFound';
    else if (checkVolumeNodeAffinity(pv, node.metadata.labels) !== undefined) {
      entry.volumeProblem = 'NodeAffinityConflict';
      entry.volumeNodeAffinity = pv.spec.nodeAffinity;
    }
    result.push(entry);
  }
  for (const pvc of claims.unboundClaimsDelayBinding) {
    const className = claimStorageClassName(pvc);
    const entry: ClaimExplanation = { claim: pvcKey(pvc), storageClass: className, binding: 'WaitForFirstConsumer' };
    const selectedNode = pvc.metadata.annotations?.[AnnSelectedNode];
    if (selectedNode !== undefined) {
      entry.selectedNode = selectedNode;
    } else {
      const candidates = explainVolumeCandidates(pvc, objects.listPVs(className), node)
        // Volumes bound to other claims are noise; those pre-bound to this claim are the point.
        .filter((c) => c.preBound || !c.rejections.some((r) => r.reason === 'BoundToOtherClaim'));
      entry.candidates = candidates.slice(0, maxCandidates);
      if (candidates.length > maxCandidates) entry.omittedCandidates = candidates.length - maxCandidates;
    }
    if (selectedNode === undefined || selectedNode === node.metadata.name) entry.provisioning = explainProvisioning(binder, objects, pvc, node);
    result.push(entry);
  }
  return { claims: result };
}
