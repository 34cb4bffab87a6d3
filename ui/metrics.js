// What the Server view's charts show, read from the server's `_stats` and `_system`: a sample
// holds the counters as they are now, and each chart's point is worked out from two samples in a
// row — a rate per second over the time between them, or a gauge as it is. Pure: no DOM here.
import { formatBytes } from './dom.js';

/** How far back the charts look. */
const WINDOW_MS = 5 * 60 * 1000;

const STATUS_CLASSES = ['2xx', '4xx', '5xx'];

/**
 * The figures of one `_stats` and one `_system` answer, received at `at` (ms): what the charts
 * need and nothing more.
 */
export function readSample(stats, system, at) {
  const couchdb = stats.couchdb ?? {};
  const requests = Object.fromEntries(STATUS_CLASSES.map((name) => [name, 0]));
  for (const [code, entry] of Object.entries(couchdb.httpd_status_codes ?? {})) {
    const name = `${code[0]}xx`;
    if (name in requests) requests[name] += entry.value;
  }
  return {
    at,
    requests,
    timeBuckets: couchdb.request_time?.value?.histogram ?? [],
    openDatabases: couchdb.open_databases?.value ?? 0,
    liveFeeds: couchdb.httpd?.clients_requesting_changes?.value ?? 0,
    docsRead: couchdb.database_reads?.value ?? 0,
    docsWritten: couchdb.document_writes?.value ?? 0,
    replicatedWritten: stats.couch_replicator?.docs_written?.value ?? 0,
    memory: system.memory,
    loopDelay: system.event_loop_delay,
  };
}

/**
 * Per second, how much `read(sample)` grew from `previous` to `current`; null for the first
 * sample. A counter that went down (the server restarted) counts from zero.
 */
function rate(previous, current, read) {
  if (previous === undefined) return null;
  const seconds = (current.at - previous.at) / 1000;
  if (seconds <= 0) return null;
  const grown = read(current) - read(previous);
  return (grown >= 0 ? grown : read(current)) / seconds;
}

/**
 * The request time under which `share` of the requests answered between two samples took, from
 * the growth of each bucket of `request_time`'s histogram (`[upper bound ms, count]`); times are
 * taken as spread evenly inside a bucket. Null when no request was answered meanwhile.
 */
export function windowQuantile(previous, current, share) {
  if (previous === undefined) return null;
  const before = previous.timeBuckets;
  const counts = current.timeBuckets.map(([, count], i) => Math.max(0, count - (before[i]?.[1] ?? 0)));
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = share * total;
  let below = 0;
  let lower = 0;
  for (const [i, [upper]] of current.timeBuckets.entries()) {
    const count = counts[i];
    if (count > 0 && below + count >= rank) return lower + ((upper - lower) * (rank - below)) / count;
    below += count;
    lower = upper;
  }
  return lower;
}

const decimals = (value) => (value < 10 ? value.toFixed(1) : String(Math.round(value)));
const perSecond = (value) => `${decimals(value)}/s`;
const milliseconds = (value) => `${decimals(value)} ms`;
const count = (value) => String(Math.round(value));

/** A line of a chart: `of(previous, current)` is its value at the current sample. */
const line = (key, label, of) => ({ key, label, of });
/** A line of how fast `read(sample)` grows, per second. */
const growth = (key, label, read) => line(key, label, (previous, current) => rate(previous, current, read));
/** A line of `read(sample)` as it is now. */
const level = (key, label, read) => line(key, label, (_, current) => read(current));

/**
 * The charts, in the order shown: each a title, how to write its values, and its lines, each
 * line's value at a point worked out from the previous sample and the current one.
 */
export const CHARTS = [
  {
    id: 'requests',
    title: 'Requests per second',
    format: perSecond,
    lines: STATUS_CLASSES.map((name) => growth(name, name, (sample) => sample.requests[name])),
  },
  {
    id: 'request-time',
    title: 'Request time',
    format: milliseconds,
    lines: [
      line('median', 'median', (previous, current) => windowQuantile(previous, current, 0.5)),
      line('p95', '95th pct.', (previous, current) => windowQuantile(previous, current, 0.95)),
    ],
  },
  {
    id: 'open-databases',
    title: 'Open databases',
    format: count,
    lines: [level('open', 'open', (s) => s.openDatabases)],
  },
  {
    id: 'live-feeds',
    title: 'Live feeds',
    format: count,
    lines: [level('open', 'open', (s) => s.liveFeeds)],
  },
  {
    id: 'documents',
    title: 'Documents per second',
    format: perSecond,
    lines: [growth('read', 'read', (s) => s.docsRead), growth('written', 'written', (s) => s.docsWritten)],
  },
  {
    id: 'replication',
    title: 'Replication: documents written',
    format: perSecond,
    lines: [growth('written', 'written', (s) => s.replicatedWritten)],
  },
  {
    id: 'memory',
    title: 'Memory',
    format: formatBytes,
    lines: [
      level('rss', 'resident', (s) => s.memory.rss),
      level('heap', 'heap used', (s) => s.memory.heap_used),
    ],
  },
  {
    id: 'event-loop',
    title: 'Event-loop delay since start',
    format: milliseconds,
    lines: [
      level('mean', 'mean', (s) => s.loopDelay.mean),
      level('p99', '99th pct.', (s) => s.loopDelay.p99),
    ],
  },
];

/**
 * The charts' points over the last `WINDOW_MS`: `add(stats, system, at)` takes a new sample;
 * `points(chart)` are `{ at, values: { [line key]: number | null } }`, oldest first.
 */
export function metricsWindow() {
  const samples = [];
  return {
    add(stats, system, at) {
      samples.push(readSample(stats, system, at));
      while (samples.length > 0 && samples[0].at < at - WINDOW_MS) samples.shift();
    },
    points(chart) {
      return samples.map((current, i) => ({
        at: current.at,
        values: Object.fromEntries(chart.lines.map((line) => [line.key, line.of(samples[i - 1], current)])),
      }));
    },
  };
}
