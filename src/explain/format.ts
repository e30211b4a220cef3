// Shared vocabulary of the explanations: the result shape every `strata explain` answer has, how selector terms,
// taints and lists read in prose, and the text rendering.
import type { NodeSelector, NodeSelectorRequirement, Taint, TopologySelectorTerm } from '../api/types.ts';

/** What one node made of the pod: fits, or the plugin that rejected it, upstream's reasons and the particulars. */
export interface NodeVerdict {
  node: string;
  zone?: string;
  fits: boolean;
  plugin?: string;
  /** Upstream's reason strings, as in the FailedScheduling message. */
  reasons: string[];
  /** Beyond upstream: the exact object, term or quantity behind each reason. */
  details: string[];
}

export interface Explanation {
  kind: 'Pod' | 'PersistentVolumeClaim' | 'VolumeSnapshot';
  namespace: string;
  name: string;
  /** One word: Pending, Unschedulable, Scheduled, Bound, Ready, Error, … */
  state: string;
  summary: string;
  /** Why, most specific first. */
  reasons: string[];
  /** What would fix it. */
  fixes: string[];
  /** Pods only: every node and what it made of the pod. */
  nodes?: NodeVerdict[];
}

const operatorWords: Record<NodeSelectorRequirement['operator'], string> = {
  In: 'in', NotIn: 'not in', Exists: 'exists', DoesNotExist: 'does not exist', Gt: '>', Lt: '<',
};

export function requirementText(r: NodeSelectorRequirement): string {
  if (r.operator === 'Exists' || r.operator === 'DoesNotExist') return `${r.key} ${operatorWords[r.operator]}`;
  if (r.operator === 'Gt' || r.operator === 'Lt') return `${r.key} ${operatorWords[r.operator]} ${r.values?.[0] ?? ''}`;
  return `${r.key} ${operatorWords[r.operator]} [${(r.values ?? []).join(', ')}]`;
}

/** NodeSelector terms are ORed, the expressions of a term ANDed. */
export function nodeSelectorText(selector: NodeSelector | undefined): string {
  const terms = (selector?.nodeSelectorTerms ?? []).map((t) =>
    [...(t.matchExpressions ?? []).map(requirementText), ...(t.matchFields ?? []).map((f) => `field ${requirementText(f)}`)].join(' and '),
  );
  return terms.filter((t) => t !== '').join(' or ') || 'any node';
}

export function topologyTermsText(terms: TopologySelectorTerm[]): string {
  return terms
    .map((t) => (t.matchLabelExpressions ?? []).map((e) => requirementText({ key: e.key, operator: 'In', values: e.values })).join(' and '))
    .join(' or ');
}

export function taintText(t: Taint): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
}

/** "node1 is" / "node1, node2 are". */
export function namesAre(names: string[]): string {
  return `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'}`;
}

/** Groups items by a key, keeping first-seen order. */
export function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return groups;
}

export function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] + 2))).join('').trimEnd());
}

/** The human form: summary, the node table (pods), then why and what would fix it. */
export function renderText(e: Explanation): string {
  const lines = [`${e.kind} ${e.namespace}/${e.name}: ${e.state}`, `  ${e.summary}`];
  if (e.nodes && e.nodes.length > 0) {
    lines.push('', 'Nodes:');
    const rows = [['NODE', 'ZONE', 'RESULT', 'PLUGIN', 'REASONS']];
    for (const n of e.nodes) rows.push([n.node, n.zone ?? '', n.fits ? 'fits' : 'rejected', n.plugin ?? '', n.reasons.join(', ')]);
    lines.push(...table(rows).map((l) => `  ${l}`));
    for (const n of e.nodes.filter((v) => v.details.length > 0)) {
      lines.push(`  ${n.node}:`, ...n.details.map((d) => `    - ${d}`));
    }
  }
  if (e.reasons.length > 0) lines.push('', 'Why:', ...e.reasons.map((r) => `  - ${r}`));
  if (e.fixes.length > 0) lines.push('', 'To fix:', ...e.fixes.map((f) => `  - ${f}`));
  return lines.join('\n') + '\n';
}
