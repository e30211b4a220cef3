// Taints and tolerations, as k8s.io/api core/v1 Toleration.ToleratesTaint and v1helper.FindMatchingUntoleratedTaint.
import type { Taint, Toleration } from './types.ts';

/** Toleration.ToleratesTaint: empty effect and key match any; an empty operator means Equal. */
export function tolerationToleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

export function tolerationsTolerateTaint(tolerations: Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => tolerationToleratesTaint(t, taint));
}

/** The first taint selected by `filter` that no toleration tolerates. */
export function findUntoleratedTaint(
  taints: Taint[],
  tolerations: Toleration[],
  filter: (t: Taint) => boolean,
): Taint | undefined {
  return taints.find((taint) => filter(taint) && !tolerationsTolerateTaint(tolerations, taint));
}

/** helper.DoNotScheduleTaintsFilterFunc: the taints that keep a pod off a node. */
export const doNotScheduleTaint = (t: Taint): boolean => t.effect === 'NoSchedule' || t.effect === 'NoExecute';

/** The taint the node controller mirrors from spec.unschedulable. */
export const TaintNodeUnschedulable = 'node.kubernetes.io/unschedulable';
