/**
 * `GET /_node/_local/_stats` in CouchDB's shape (couch_stats_httpd.erl): statistics nested by
 * their path, each `{value, type, desc}`, a histogram's value CouchDB's set of figures, and a
 * path after `_stats` picking a part (`extract_path`: `null` when it names nothing).
 */
import type { Family, StatType } from './families.js';

/** A histogram's value: CouchDB's figures that its buckets can tell (times in milliseconds). */
export interface HistogramValue {
  min: number;
  max: number;
  arithmetic_mean: number;
  median: number;
  variance: number;
  standard_deviation: number;
  /** `[50, ms]`, `[75, ms]`, … `[999, ms]` (99.9), as CouchDB lists them. */
  percentile: [number, number][];
  /** `[upper bound in ms, requests in that bucket]`. */
  histogram: [number, number][];
  n: number;
}

export interface StatEntry {
  value: number | HistogramValue;
  type: StatType | 'histogram';
  desc: string;
}

export interface StatsTree {
  [key: string]: StatsTree | StatEntry;
}

/** The whole `_stats` tree: every family with a path, and the request time histogram. */
export function statsTree(families: readonly Family[], requestTime: StatEntry): StatsTree {
  const tree: StatsTree = {};
  for (const family of families) {
    if (!family.path) continue;
    const labelled = family.prometheus.label !== undefined;
    const type = family.statsType ?? family.prometheus.type;
    for (const [key, value] of family.read()) {
      place(tree, labelled ? [...family.path, key] : family.path, { value, type, desc: family.desc(key) });
    }
  }
  place(tree, ['couchdb', 'request_time'], requestTime);
  return tree;
}

function place(tree: StatsTree, path: readonly string[], entry: StatEntry): void {
  let node = tree;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as StatsTree;
  node[path[path.length - 1]!] = entry;
}

/** CouchDB's `extract_path`: the part of the tree `path` names, `null` when it names nothing. */
export function extractPath(tree: StatsTree, path: readonly string[]): unknown {
  let node: unknown = tree;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return null;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** What is known of the request times: buckets (upper bound in ms, requests, not cumulative) and extremes. */
export interface TimeFigures {
  buckets: readonly (readonly [upperMs: number, count: number])[];
  n: number;
  sumMs: number;
  squaresMs: number;
  fastestMs: number;
  slowestMs: number;
}

const PERCENTILES = [50, 75, 90, 95, 99, 999] as const;

/** CouchDB's histogram figures, percentiles interpolated within the buckets. */
export function histogramValue(figures: TimeFigures): HistogramValue {
  const { n } = figures;
  if (n === 0) {
    const zeros = PERCENTILES.map((p) => [p, 0] as [number, number]);
    return { ...emptyMoments(), percentile: zeros, histogram: [], n: 0 };
  }
  const mean = figures.sumMs / n;
  const variance = Math.max(0, figures.squaresMs / n - mean * mean);
  const at = (share: number) => round(quantile(figures, share));
  return {
    min: round(figures.fastestMs),
    max: round(figures.slowestMs),
    arithmetic_mean: round(mean),
    median: at(0.5),
    variance: round(variance),
    standard_deviation: round(Math.sqrt(variance)),
    percentile: PERCENTILES.map((p) => [p, at(p === 999 ? 0.999 : p / 100)]),
    histogram: figures.buckets.map(([upper, count]) => [
      Number.isFinite(upper) ? upper : round(figures.slowestMs),
      count,
    ]),
    n,
  };
}

function emptyMoments() {
  return { min: 0, max: 0, arithmetic_mean: 0, median: 0, variance: 0, standard_deviation: 0 };
}

/** The time below which `share` of the requests took, assuming times spread evenly in a bucket. */
function quantile(figures: TimeFigures, share: number): number {
  const rank = share * figures.n;
  let below = 0;
  let lower = figures.fastestMs;
  for (const [upper, count] of figures.buckets) {
    if (count > 0 && below + count >= rank) {
      const top = Math.min(upper, figures.slowestMs);
      const bottom = Math.max(lower, figures.fastestMs);
      return bottom + ((top - bottom) * (rank - below)) / count;
    }
    below += count;
    lower = upper;
  }
  return figures.slowestMs;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
