// Capacity scoring of the VolumeBinding plugin (volumebinding/scorer.go): per storage class, utilization =
// requested * 100 / capacity mapped through a broken-linear shape; the node score is the rounded mean over classes.
import { MaxNodeScore } from '../../framework/interfaces.ts';
import { brokenLinearFunction, type FunctionShapePoint } from '../helper.ts';

export const maxUtilization = 100;
/** Shape scores are given on 0..10 (MaxCustomPriorityScore) and scaled to 0..MaxNodeScore. */
export const MaxCustomPriorityScore = 10;

/** VolumeCapacityPriority's default: the tightest fit (highest utilization) scores best. */
export const volumeCapacityPriorityShape: FunctionShapePoint[] = [
  { utilization: 0, score: 0 },
  { utilization: 100, score: 10 },
];
/** StorageCapacityScoring's default: the most free capacity scores best. */
export const storageCapacityScoringShape: FunctionShapePoint[] = [
  { utilization: 0, score: 10 },
  { utilization: 100, score: 0 },
];

export interface StorageResource {
  requested: bigint;
  capacity: bigint;
}

export type VolumeCapacityScorer = (classResources: Map<string, StorageResource>) => number;

export function buildScorerFunction(shape: FunctionShapePoint[]): VolumeCapacityScorer {
  const scaled = shape.map((p) => ({ utilization: p.utilization, score: p.score * (MaxNodeScore / MaxCustomPriorityScore) }));
  const raw = brokenLinearFunction(scaled);
  const f = (requested: bigint, capacity: bigint): number => {
    if (capacity === 0n || requested > capacity) return raw(maxUtilization);
    return raw(Number((requested * BigInt(maxUtilization)) / capacity));
  };
  return (classResources) => {
    // All classes weigh the same.
    if (classResources.size === 0) return 0;
    let nodeScore = 0;
    for (const r of classResources.values()) nodeScore += f(r.requested, r.capacity);
    return Math.round(nodeScore / classResources.size);
  };
}
