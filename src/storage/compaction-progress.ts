/** A part of a compaction done in steps, as its progress counts it. */
export interface WeightedPhase {
  /** Its share of the whole. */
  readonly weight: number;
  /** How far it is, from 0 to 1. */
  fraction(): number;
}

/**
 * How far a compaction of phases run in order is, from 0 to 1, when `current` is the index of
 * the phase under way (phases before it are done, those after it not started).
 */
export function phasedProgress(phases: readonly WeightedPhase[], current: number): number {
  const total = phases.reduce((sum, phase) => sum + phase.weight, 0);
  const done = phases.reduce((sum, phase, i) => {
    const fraction = i < current ? 1 : i === current ? phase.fraction() : 0;
    return sum + phase.weight * fraction;
  }, 0);
  return Math.min(1, done / total);
}
