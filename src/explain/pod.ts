// Why a pod is where it is, or why it is nowhere: every node with the plugin that refused it, and for volume reasons
// the exact PV, PVC, StorageClass term or capacity, with what would fix it. Reads the scheduler's diagnosis
// annotation (strata.io/scheduling-diagnosis) and the live objects; pure.
import { checkVolumeNodeAffinity } from '../api/node-affinity.ts';
import { parseQuantity, quantityValue } from '../api/quantity.ts';
import { doNotScheduleTaint, tolerationsTolerateTaint } from '../api/taints.ts';
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../api/types.ts';
import { LabelTopologyZone } from '../api/well-known.ts';
import type { ClaimExplanation, VolumeBindingExplanation } from '../scheduler/plugins/volume-binding/explain.ts';
import type { SchedulingDiagnosis } from '../scheduler/scheduler.ts';
import { AnnSchedulingDiagnosis } from '../scheduler/scheduler.ts';
import * as plugins from '../scheduler/plugins/names.ts';
import { groupBy, namesAre, nodeSelectorText, taintText, topologyTermsText, unique, type Explanation, type NodeVerdict } from './format.ts';

export interface PodInput {
  pod: Pod;
  nodes: Node[];
  /** The pod's claims that exist. */
  claims: PersistentVolumeClaim[];
  volumes: PersistentVolume[];
  storageClasses: StorageClass[];
}

export function parseDiagnosis(pod: Pod): SchedulingDiagnosis | undefined {
  const text = pod.metadata.annotations?.[AnnSchedulingDiagnosis];
  if (!text) return undefined;
  try {
    return JSON.parse(text) as SchedulingDiagnosis;
  } catch {
    return undefined;
  }
}

const zoneOf = (n: Node | undefined): string | undefined => n?.metadata.labels?.[LabelTopologyZone];

function taintDetails(pod: Pod, node: Node): string[] {
  return (node.spec?.taints ?? [])
    .filter((t) => doNotScheduleTaint(t) && !tolerationsTolerateTaint(pod.spec.tolerations, t))
    .map((t) => `taint ${taintText(t)} is not tolerated by the pod`);
}

function selectorDetails(pod: Pod, node: Node): string[] {
  const labels = node.metadata.labels ?? {};
  const details = Object.entries(pod.spec.nodeSelector ?? {})
    .filter(([k, v]) => labels[k] !== v)
    .map(([k, v]) => `nodeSelector ${k}=${v}: the node ${k in labels ? `has ${k}=${labels[k]}` : `has no label ${k}`}`);
  const required = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required && details.length === 0) details.push(`required node affinity ${nodeSelectorText(required)} does not match the node's labels`);
  return details;
}

function relevantLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length === 0 ? 'none of those labels' : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}

function claimDetails(c: ClaimExplanation, nodeName: string, input: PodInput): string[] {
  const out: string[] = [];
  if (c.binding === 'Bound') {
    if (c.volumeProblem === 'NotFound') out.push(`PVC ${c.claim} is bound to PV ${c.volume}, which does not exist`);
    if (c.volumeProblem === 'NodeAffinityConflict') {
      const pv = input.volumes.find((v) => v.metadata.name === c.volume);
      const node = input.nodes.find((n) => n.metadata.name === nodeName);
      const keys = (pv?.spec.nodeAffinity?.required?.nodeSelectorTerms ?? []).flatMap((t) => (t.matchExpressions ?? []).map((e) => e.key));
      const has = Object.fromEntries(unique(keys).filter((k) => node?.metadata.labels?.[k] !== undefined).map((k) => [k, node!.metadata.labels![k]]));
      out.push(`PVC ${c.claim} is bound to PV ${c.volume}, whose node affinity ${nodeSelectorText(pv?.spec.nodeAffinity?.required)} does not match this node (${relevantLabels(has)})`);
    }
    return out;
  }
  if (c.selectedNode !== undefined && c.selectedNode !== nodeName) {
    out.push(`PVC ${c.claim} is being provisioned for node ${c.selectedNode} (volume.kubernetes.io/selected-node)`);
    return out;
  }
  for (const cand of c.candidates ?? []) {
    const pv = input.volumes.find((v) => v.metadata.name === cand.volume);
    // The matcher's affinity message is Go's terse one; name the terms instead.
    const messages = cand.rejections.map((r) =>
      r.reason === 'NodeAffinityConflict' && pv ? `its node affinity ${nodeSelectorText(pv.spec.nodeAffinity?.required)} does not match this node` : r.message);
    if (messages.length > 0) out.push(`PV ${cand.volume} cannot serve PVC ${c.claim}: ${messages.join('; ')}`);
  }
  if (c.omittedCandidates) out.push(`… and ${c.omittedCandidates} more PVs`);
  const p = c.provisioning;
  switch (p?.problem) {
    case 'NoStorageClassName':
      out.push(`PVC ${c.claim} names no StorageClass, so nothing provisions a volume for it`);
      break;
    case 'StorageClassNotFound':
      out.push(`StorageClass ${c.storageClass} of PVC ${c.claim} does not exist`);
      break;
    case 'NoProvisioner':
      out.push(`StorageClass ${c.storageClass} has no provisioner (${p.provisioner || '""'}): only an existing PV can serve PVC ${c.claim}, and none on this node does`);
      break;
    case 'TopologyMismatch':
      out.push(`StorageClass ${c.storageClass} allows ${topologyTermsText(p.allowedTopologies ?? [])}; this node has ${relevantLabels(p.nodeLabels)}`);
      break;
    case 'NotEnoughCapacity': {
      const pools = (p.capacity?.pools ?? []).filter((pool) => pool.nodeHasAccess);
      const where = pools.length === 0
        ? 'no CSIStorageCapacity of the class is reachable from this node'
        : pools.map((pool) => `CSIStorageCapacity ${pool.namespace}/${pool.name} has ${pool.maximumVolumeSize ? `maximumVolumeSize ${pool.maximumVolumeSize}` : `capacity ${pool.capacity ?? '0'}`}`).join(', ');
      out.push(`PVC ${c.claim} requests ${p.capacity?.requested}; ${where}`);
      break;
    }
  }
  return out;
}

function nodeDetails(pod: Pod, node: Node | undefined, entry: SchedulingDiagnosis['nodes'][string], input: PodInput): string[] {
  if (!node) return ['the node no longer exists'];
  switch (entry.plugin) {
    case plugins.TaintToleration:
      return taintDetails(pod, node);
    case plugins.NodeAffinity:
      return selectorDetails(pod, node);
    case plugins.NodeUnschedulable:
      return ['the node is cordoned (spec.unschedulable)'];
    case plugins.NodeName:
      return [`the pod asks for node ${pod.spec.nodeName}`];
    case plugins.VolumeBinding:
      return ((entry.detail as VolumeBindingExplanation | undefined)?.claims ?? []).flatMap((c) => claimDetails(c, node.metadata.name!, input));
    default:
      return [];
  }
}

const bytes = (q: string | undefined): bigint => {
  try {
    return q ? quantityValue(parseQuantity(q)) : 0n;
  } catch {
    return 0n;
  }
};

/** Pod-level conclusions drawn from the volume details of the nodes that passed every other filter. */
function volumeConclusions(verdicts: NodeVerdict[], diagnosis: SchedulingDiagnosis, input: PodInput): { reasons: string[]; fixes: string[] } {
  const reasons: string[] = [];
  const fixes: string[] = [];
  // Nodes rejected by VolumeBinding passed every filter before it: they are the schedulable ones.
  const schedulable = verdicts.filter((v) => v.fits || v.plugin === plugins.VolumeBinding).map((v) => v.node);
  const claims = Object.entries(diagnosis.nodes)
    .filter(([, e]) => e.plugin === plugins.VolumeBinding)
    .flatMap(([node, e]) => ((e.detail as VolumeBindingExplanation | undefined)?.claims ?? []).map((c) => ({ node, c })));
  const problemOf = (c: ClaimExplanation): string => c.volumeProblem ?? c.provisioning?.problem ?? '';
  for (const seen of groupBy(claims.filter((x) => problemOf(x.c) !== ''), (x) => `${x.c.claim} ${problemOf(x.c)}`).values()) {
    seen.sort((a, b) => a.node.localeCompare(b.node));
    const c = seen[0].c;
    const claim = c.claim;
    const p = c.provisioning;
    if (c.volumeProblem === 'NodeAffinityConflict') {
      const pv = input.volumes.find((v) => v.metadata.name === c.volume);
      const reachable = pv ? input.nodes.filter((n) => checkVolumeNodeAffinity(pv, n.metadata.labels) === undefined).map((n) => n.metadata.name!) : [];
      reasons.push(`PVC ${claim} is bound to PV ${c.volume}, reachable only from nodes where ${nodeSelectorText(pv?.spec.nodeAffinity?.required)}${reachable.length ? ` (${reachable.join(', ')})` : ''}; the pod cannot run on any of them`);
      fixes.push(reachable.length
        ? `let the pod run on ${reachable.join(' or ')} (check its nodeSelector, affinity and tolerations), or give it a PVC whose volume is reachable where it must run`
        : `no node can reach PV ${c.volume}: add a node matching ${nodeSelectorText(pv?.spec.nodeAffinity?.required)}, or give the pod another PVC`);
    } else if (c.volumeProblem === 'NotFound') {
      reasons.push(`PVC ${claim} is bound to PV ${c.volume}, which does not exist`);
      fixes.push(`recreate PV ${c.volume}, or delete and recreate PVC ${claim}`);
    } else if (p?.problem === 'TopologyMismatch') {
      const terms = p.allowedTopologies ?? [];
      const exprs = terms.flatMap((t) => t.matchLabelExpressions ?? []);
      const key = exprs.length === 1 ? exprs[0].key : undefined;
      const byValue = groupBy(seen, (x) => (key ? input.nodes.find((n) => n.metadata.name === x.node)?.metadata.labels?.[key] ?? '(none)' : ''));
      const where = key
        ? `no schedulable node is in ${exprs[0].values.join(', ')} (${[...byValue].map(([v, xs]) => `${namesAre(xs.map((x) => x.node))} in ${v}`).join('; ')})`
        : `no schedulable node matches (${seen.map((x) => x.node).join(', ')} do not)`;
      reasons.push(`StorageClass ${c.storageClass} allows ${topologyTermsText(terms)}; ${where}`);
      const options = key ? [...byValue.keys()].filter((v) => v !== '(none)') : [];
      fixes.push(`recreate StorageClass ${c.storageClass} with allowedTopologies naming ${options.length ? `${key} ${options.join(' or ')}` : 'the topology of a schedulable node'} (it is read when the volume is provisioned, so the PVC can stay), or add a node in ${key ? exprs[0].values.join(', ') : 'the allowed topology'}`);
    } else if (p?.problem === 'NotEnoughCapacity') {
      const reachable = (p.capacity?.pools ?? []).filter((pool) => pool.nodeHasAccess);
      const largest = reachable.reduce((m, pool) => {
        const b = bytes(pool.maximumVolumeSize ?? pool.capacity);
        return b > m.bytes ? { bytes: b, text: pool.maximumVolumeSize ?? pool.capacity ?? '0' } : m;
      }, { bytes: -1n, text: '' });
      reasons.push(`PVC ${claim} requests ${p.capacity?.requested} of StorageClass ${c.storageClass}; ${largest.bytes < 0n ? 'no storage capacity is reachable from a schedulable node' : `the most any schedulable node can get is ${largest.text}`}`);
      fixes.push(largest.bytes > 0n ? `request at most ${largest.text}, or free space in the class's pools` : `free space in StorageClass ${c.storageClass}'s pools, or use a class with capacity near the schedulable nodes`);
    } else if (p?.problem === 'NoProvisioner') {
      const pvc = input.claims.find((x) => `${x.metadata.namespace}/${x.metadata.name}` === claim);
      reasons.push(`no PV can serve PVC ${claim} on a schedulable node (${schedulable.join(', ')}), and StorageClass ${c.storageClass} has no provisioner (${p.provisioner || '""'})`);
      fixes.push(`create a PV with storageClassName ${c.storageClass}, capacity ≥ ${pvc?.spec.resources?.requests?.storage ?? 'the request'}, access modes [${(pvc?.spec.accessModes ?? []).join(', ')}] and node affinity to one of ${schedulable.join(', ') || 'the nodes'}`);
    } else if (p?.problem === 'StorageClassNotFound') {
      reasons.push(`StorageClass ${c.storageClass} of PVC ${claim} does not exist`);
      fixes.push(`create StorageClass ${c.storageClass}`);
    } else if (p?.problem === 'NoStorageClassName') {
      reasons.push(`PVC ${claim} names no StorageClass and no PV matches it`);
      fixes.push(`create a matching PV, or recreate PVC ${claim} with a storageClassName`);
    }
  }
  return { reasons: unique(reasons), fixes: unique(fixes) };
}

/** Conclusions when every node was refused by a non-volume plugin. */
function placementConclusions(pod: Pod, verdicts: NodeVerdict[]): { reasons: string[]; fixes: string[] } {
  const reasons: string[] = [];
  const fixes: string[] = [];
  const byPlugin = groupBy(verdicts.filter((v) => !v.fits && v.plugin !== plugins.VolumeBinding), (v) => v.plugin ?? '');
  const selector = Object.entries(pod.spec.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`);
  const rejectedBySelector = byPlugin.get(plugins.NodeAffinity) ?? [];
  if (rejectedBySelector.length > 0) {
    reasons.push(`${namesAre(rejectedBySelector.map((v) => v.node))} ruled out by the pod's ${selector.length ? `nodeSelector ${selector.join(', ')}` : 'required node affinity'}`);
    if (verdicts.every((v) => !v.fits)) fixes.push(`label a node to match (kubectl label node NAME ${selector[0] ?? 'KEY=VALUE'}) or change the pod's node selection`);
  }
  const tainted = byPlugin.get(plugins.TaintToleration) ?? [];
  if (tainted.length > 0) {
    reasons.push(`${namesAre(tainted.map((v) => v.node))} ruled out by taints the pod does not tolerate (${unique(tainted.flatMap((v) => v.details.map((d) => d.replace(/^taint (\S+) .*$/, '$1')))).join(', ')})`);
    if (verdicts.every((v) => !v.fits || v.plugin === plugins.TaintToleration) && tainted.length === verdicts.length) {
      fixes.push('add tolerations for those taints to the pod, or remove the taints from a node');
    }
  }
  for (const [plugin, vs] of byPlugin) {
    if (plugin === plugins.NodeAffinity || plugin === plugins.TaintToleration) continue;
    reasons.push(`${namesAre(vs.map((v) => v.node))} ruled out by ${plugin}: ${unique(vs.flatMap((v) => v.reasons)).join(', ')}`);
  }
  return { reasons, fixes };
}

function podState(pod: Pod): string {
  return pod.status?.phase ?? 'Pending';
}

export function explainPod(input: PodInput): Explanation {
  const { pod } = input;
  const base = { kind: 'Pod' as const, namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '' };
  if (pod.spec.nodeName) {
    const node = input.nodes.find((n) => n.metadata.name === pod.spec.nodeName);
    const zone = zoneOf(node);
    return {
      ...base,
      state: podState(pod),
      summary: `scheduled to node ${pod.spec.nodeName}${zone ? ` in ${zone}` : ''}; phase ${podState(pod)}${pod.status?.reason ? ` (${pod.status.reason})` : ''}`,
      reasons: [],
      fixes: [],
    };
  }
  const diagnosis = parseDiagnosis(pod);
  const condition = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (!diagnosis) {
    const message = condition?.status === 'False' ? condition.message : undefined;
    return {
      ...base,
      state: 'Pending',
      summary: message ?? `not scheduled yet: waiting for ${pod.spec.schedulerName ?? 'default-scheduler'} to place it`,
      reasons: [],
      fixes: [],
    };
  }
  if (diagnosis.preFilter) {
    return {
      ...base,
      state: 'Unschedulable',
      summary: diagnosis.message,
      reasons: [`${diagnosis.preFilter.plugin} rejected the pod before looking at nodes: ${diagnosis.preFilter.message}`],
      fixes: [],
    };
  }
  const nodes = [...input.nodes].sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  const verdicts: NodeVerdict[] = nodes.map((node) => {
    const name = node.metadata.name!;
    const entry = diagnosis.nodes[name];
    if (!entry) return { node: name, zone: zoneOf(node), fits: true, reasons: [], details: [] };
    return { node: name, zone: zoneOf(node), fits: false, plugin: entry.plugin, reasons: entry.reasons, details: nodeDetails(pod, node, entry, input) };
  });
  for (const [name, entry] of Object.entries(diagnosis.nodes)) {
    if (!input.nodes.some((n) => n.metadata.name === name)) verdicts.push({ node: name, fits: false, plugin: entry.plugin, reasons: entry.reasons, details: ['the node no longer exists'] });
  }
  const volumes = volumeConclusions(verdicts, diagnosis, input);
  const placement = placementConclusions(pod, verdicts);
  const fitting = verdicts.filter((v) => v.fits).map((v) => v.node);
  return {
    ...base,
    state: 'Unschedulable',
    summary: diagnosis.message,
    nodes: verdicts,
    reasons: [...volumes.reasons, ...placement.reasons, ...(fitting.length ? [`${namesAre(fitting)} not rejected by any filter now (the cluster changed since ${diagnosis.time}); the scheduler will retry`] : [])],
    fixes: [...volumes.fixes, ...placement.fixes],
  };
}
