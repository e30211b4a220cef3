// Shared plugin helpers (pkg/scheduler/framework/plugins/helper).
import { type NodeScore } from '../framework/interfaces.ts';

/** DefaultNormalizeScore: scales to [0, maxPriority] by the highest score; `reverse` flips (fewer is better). */
export function defaultNormalizeScore(maxPriority: number, reverse: boolean, scores: NodeScore[]): void {
  let maxCount = 0;
  for (const s of scores) if (s.score > maxCount) maxCount = s.score;
  if (maxCount === 0) {
    if (reverse) for (const s of scores) s.score = maxPriority;
    return;
  }
  for (const s of scores) {
    let score = Math.trunc((maxPriority * s.score) / maxCount);
    if (reverse) score = maxPriority - score;
    s.score = score;
  }
}

export interface FunctionShapePoint {
  utilization: number;
  score: number;
}

/** BuildBrokenLinearFunction: piecewise linear through the points (integer arithmetic, as upstream). */
export function brokenLinearFunction(shape: FunctionShapePoint[]): (p: number) => number {
  return (p) => {
    for (let i = 0; i < shape.length; i++) {
      if (p <= shape[i]!.utilization) {
        if (i === 0) return shape[0]!.score;
        const prev = shape[i - 1]!;
        const cur = shape[i]!;
        return prev.score + Math.trunc(((cur.score - prev.score) * (p - prev.utilization)) / (cur.utilization - prev.utilization));
      }
    }
    return shape[shape.length - 1]!.score;
  };
}

