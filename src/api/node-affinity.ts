// Node selector, node affinity and topology matching, as k8s.io/component-helpers/scheduling/corev1/nodeaffinity,
// component-helpers/storage/volume (CheckNodeAffinity) and v1helper.MatchTopologySelectorTerms do it.
import type {
  Node,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  PersistentVolume,
  Pod,
  TopologySelectorTerm,
} from './types.ts';
import { validateLabelKey, validateLabelValue } from './labels.ts';

type LabelMatcher = (labels: Record<string, string>) => boolean;
type NameMatcher = (name: string) => boolean;

/** A parsed NodeSelectorTerm; `invalid` when a requirement fails upstream's parsing (such a term matches nothing). */
interface CompiledTerm {
  matchLabels?: LabelMatcher;
  matchFields?: NameMatcher;
  invalid: boolean;
}

const INT64 = /^[+-]?[0-9]+$/;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
function parseInt64(s: string): bigint | undefined {
  if (!INT64.test(s)) return undefined;
  const n = BigInt(s);
  return n >= INT64_MIN && n <= INT64_MAX ? n : undefined;
}

/** labels.NewRequirement's validity checks for a node selector requirement. */
function requirementValid(req: NodeSelectorRequirement): boolean {
  const values = req.values ?? [];
  if (validateLabelKey(req.key).length > 0) return false;
  switch (req.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) return false;
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) return false;
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1 || parseInt64(values[0]!) === undefined) return false;
      break;
    default:
      return false;
  }
  return values.every((v) => validateLabelValue(v).length === 0);
}

function compileRequirement(req: NodeSelectorRequirement): LabelMatcher | undefined {
  if (!requirementValid(req)) return undefined;
  const { key } = req;
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In': {
      const set = new Set(values);
      return (labels) => Object.hasOwn(labels, key) && set.has(labels[key]!);
    }
    case 'NotIn': {
      const set = new Set(values);
      return (labels) => !Object.hasOwn(labels, key) || !set.has(labels[key]!);
    }
    case 'Exists':
      return (labels) => Object.hasOwn(labels, key);
    case 'DoesNotExist':
      return (labels) => !Object.hasOwn(labels, key);
    case 'Gt':
    case 'Lt': {
      const bound = parseInt64(values[0]!)!;
      const greater = req.operator === 'Gt';
      return (labels) => {
        if (!Object.hasOwn(labels, key)) return false;
        const actual = parseInt64(labels[key]!);
        if (actual === undefined) return false;
        return greater ? actual > bound : actual < bound;
      };
    }
  }
}

/** nodeSelectorRequirementsAsFieldSelector: only In/NotIn with exactly one value; metadata.name is the only field. */
function compileFieldRequirement(req: NodeSelectorRequirement): NameMatcher | undefined {
  if ((req.operator !== 'In' && req.operator !== 'NotIn') || req.values?.length !== 1) return undefined;
  const value = req.values[0]!;
  const isName = req.key === 'metadata.name';
  // A field other than metadata.name reads as "" in the node's field set.
  if (req.operator === 'In') return isName ? (name) => name === value : () => value === '';
  return isName ? (name) => name !== value : () => value !== '';
}

function compileTerm(term: NodeSelectorTerm): CompiledTerm {
  const compiled: CompiledTerm = { invalid: false };
  if (term.matchExpressions?.length) {
    const matchers = term.matchExpressions.map(compileRequirement);
    if (matchers.some((m) => m === undefined)) compiled.invalid = true;
    else {
      const all = matchers as LabelMatcher[];
      compiled.matchLabels = (labels) => all.every((m) => m(labels));
    }
  }
  if (term.matchFields?.length) {
    const matchers = term.matchFields.map(compileFieldRequirement);
    if (matchers.some((m) => m === undefined)) compiled.invalid = true;
    else {
      const all = matchers as NameMatcher[];
      compiled.matchFields = (name) => all.every((m) => m(name));
    }
  }
  return compiled;
}

const isEmptyTerm = (term: NodeSelectorTerm) => !term.matchExpressions?.length && !term.matchFields?.length;

// Terms are parsed once per term object: the scheduler evaluates the same PV or pod terms against many nodes.
const compiledTerms = new WeakMap<NodeSelectorTerm, CompiledTerm>();
function compiledTerm(term: NodeSelectorTerm): CompiledTerm {
  let compiled = compiledTerms.get(term);
  if (!compiled) {
    compiled = compileTerm(term);
    compiledTerms.set(term, compiled);
  }
  return compiled;
}

const emptyLabels: Record<string, string> = {};

/** One requirement against a label set (labels.Requirement.Matches); an invalid requirement matches nothing. */
export function nodeSelectorRequirementMatches(req: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  return compileRequirement(req)?.(labels) ?? false;
}

/**
 * LazyErrorNodeSelector.Match: terms ORed, expressions ANDed, empty terms and terms that fail to parse match
 * nothing. matchFields compare metadata.name; a node without a name has no fields, and upstream then ignores them.
 */
export function nodeSelectorTermsMatch(
  terms: NodeSelectorTerm[],
  node: { metadata: { name?: string; labels?: Record<string, string> } },
): boolean {
  const labels = node.metadata.labels ?? emptyLabels;
  const name = node.metadata.name ?? '';
  for (const term of terms) {
    // nil or empty terms select no objects.
    if (isEmptyTerm(term)) continue;
    const { invalid, matchLabels, matchFields } = compiledTerm(term);
    if (invalid) continue;
    if (matchLabels && !matchLabels(labels)) continue;
    if (matchFields && name !== '' && !matchFields(name)) continue;
    return true;
  }
  return false;
}

/**
 * CheckNodeAffinity of a PV against a node's labels: undefined when the volume may be used there, otherwise
 * upstream's error text. Only labels are known here, so a term with matchFields never matches.
 */
export function checkVolumeNodeAffinity(pv: PersistentVolume, nodeLabels: Record<string, string> | undefined): string | undefined {
  const required = pv.spec.nodeAffinity?.required;
  if (!required) return undefined;
  const labels = nodeLabels ?? emptyLabels;
  for (const term of required.nodeSelectorTerms ?? []) {
    if (isEmptyTerm(term)) continue;
    const { invalid, matchLabels, matchFields } = compiledTerm(term);
    if (invalid || matchFields) continue;
    if (!matchLabels || matchLabels(labels)) return undefined;
  }
  return 'no matching NodeSelectorTerms';
}

/** MatchTopologySelectorTerms (StorageClass allowedTopologies): no terms match everything; terms ORed, keys ANDed. */
export function topologyTermsMatch(terms: TopologySelectorTerm[] | undefined, labels: Record<string, string> | undefined): boolean {
  if (!terms || terms.length === 0) return true;
  const nodeLabels = labels ?? emptyLabels;
  return terms.some((term) => {
    const expressions = term.matchLabelExpressions ?? [];
    if (expressions.length === 0) return false;
    return expressions.every(
      (expr) => expr.values.length > 0 && Object.hasOwn(nodeLabels, expr.key) && expr.values.includes(nodeLabels[expr.key]!),
    );
  });
}

/** The pod's spec.nodeSelector (every pair present) and required node affinity (GetRequiredNodeAffinity.Match). */
export function podMatchesNodeSelectorAndAffinity(pod: Pod, node: Node): boolean {
  const labels = node.metadata.labels ?? emptyLabels;
  const selector = pod.spec.nodeSelector;
  if (selector) {
    for (const key in selector) {
      if (!Object.hasOwn(labels, key) || labels[key] !== selector[key]) return false;
    }
  }
  const required = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  return required ? nodeSelectorTermsMatch(required.nodeSelectorTerms ?? [], node) : true;
}

/** The summed weights of the preferred scheduling terms that match the node (PreferredSchedulingTerms.Score). */
export function preferredSchedulingTermsScore(
  terms: Array<{ weight: number; preference: NodeSelectorTerm }> | undefined,
  node: Node,
): number {
  let score = 0;
  for (const term of terms ?? []) {
    // Weight 0 and empty terms are skipped; terms that fail to parse never score.
    if (term.weight === 0 || isEmptyTerm(term.preference)) continue;
    if (nodeSelectorTermsMatch([term.preference], node)) score += term.weight;
  }
  return score;
}
