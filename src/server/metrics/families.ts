/**
 * Every statistic the server shows, once: where `_stats` puts it and what `_prometheus` calls it,
 * with CouchDB's names and descriptions where the meaning is the same
 * (src/couch/priv/stats_descriptions.cfg, src/couch_replicator/priv/stats_descriptions.cfg, and
 * couch_prometheus_util.erl for the Prometheus names: `couchdb_` + the path, `_total` on
 * counters but for `httpd_request_methods` and `httpd_status_codes`, which carry a label). Both
 * endpoints read the same numbers, so they always agree.
 */
import { STATUS_CODES } from 'node:http';
import type { AuthStats } from '../auth/index.js';
import type { SchedulerState } from '../replicator/job.js';
import type { RequestCounts } from './counts.js';
import type { ReplicationFigures } from './replication.js';
import type { SystemFigures } from './system.js';

/** Where the figures that are not counted per request come from, read when they are asked. */
export interface MetricSources {
  /** Databases open now. */
  openDatabases(): number;
  replication(): ReplicationFigures;
  auth(): AuthStats;
  system(): SystemFigures;
}

export type StatType = 'counter' | 'gauge';

/** A statistic, or a family of them told apart by one label (a method, a status code). */
export interface Family {
  /** Where `_stats` shows it (a labelled family: one entry per label value below it); none: only in `_prometheus`. */
  path?: readonly string[];
  /** CouchDB's description of one entry. */
  desc: (key: string) => string;
  /** Its type in `_stats` (CouchDB calls counters what it also decrements). */
  statsType?: StatType;
  prometheus: { name: string; type: StatType; help: string; label?: string };
  /** The values now: `['', value]` for a statistic without a label. */
  read: () => Iterable<readonly [string, number]>;
}

const one = (value: number): [string, number][] => [['', value]];

/** The states CouchDB's replicator gauges count (`crashed` is its name of `crashing`), and ours beyond them. */
const JOB_STATES: readonly [name: string, state: SchedulerState, desc: string][] = [
  ['running', 'running', 'replicator scheduler running jobs'],
  ['pending', 'pending', 'replicator scheduler pending jobs'],
  ['crashed', 'crashing', 'replicator scheduler crashed jobs'],
  ['completed', 'completed', 'replicator jobs completed (one-shot jobs kept for their listing)'],
  ['failed', 'failed', 'replicator jobs failed for good'],
];

export function families(counts: RequestCounts, sources: MetricSources): Family[] {
  return [...httpFamilies(counts), ...databaseFamilies(counts, sources), ...replicatorFamilies(sources)];
}

function httpFamilies(counts: RequestCounts): Family[] {
  return [
    counter(['couchdb', 'httpd', 'requests'], 'number of HTTP requests', () => one(counts.requests)),
    labelled(
      ['couchdb', 'httpd_request_methods'],
      { label: 'method', help: 'number of HTTP requests by method' },
      (method) => `number of HTTP ${method} requests`,
      () => counts.methods,
    ),
    labelled(
      ['couchdb', 'httpd_status_codes'],
      { label: 'code', help: 'number of HTTP responses by status code' },
      // CouchDB's wording: `number of HTTP 404 Not Found responses`.
      (code) => `number of HTTP ${[code, STATUS_CODES[code]].filter(Boolean).join(' ')} responses`,
      () => [...counts.statuses].map(([code, n]) => [String(code), n] as const),
    ),
    gauge(
      ['couchdb', 'httpd', 'clients_requesting_changes'],
      'number of clients for continuous _changes',
      () => one(counts.openFeeds),
    ),
  ];
}

function databaseFamilies(counts: RequestCounts, sources: MetricSources): Family[] {
  return [
    gauge(['couchdb', 'open_databases'], 'number of open databases', () => one(sources.openDatabases())),
    counter(['couchdb', 'database_reads'], 'number of times a document was read from a database', () =>
      one(counts.databaseReads),
    ),
    counter(['couchdb', 'database_writes'], 'number of times a database was changed', () =>
      one(counts.databaseWrites),
    ),
    counter(['couchdb', 'document_writes'], 'number of document write operations', () =>
      one(counts.documentWrites),
    ),
    counter(['couchdb', 'auth_cache_hits'], 'number of authentication cache hits', () =>
      one(sources.auth().cacheHits),
    ),
    counter(['couchdb', 'auth_cache_misses'], 'number of authentication cache misses', () =>
      one(sources.auth().verifications),
    ),
    // Settee's own: CouchDB has no statistic of failed authentications.
    counter(['couchdb', 'auth_failures'], 'number of wrong passwords and bad tokens', () =>
      one(sources.auth().failures),
    ),
    ...systemFamilies(sources),
  ];
}

/** Only in `_prometheus`, as CouchDB's system figures are (`_system` shows them as JSON). */
function systemFamilies(sources: MetricSources): Family[] {
  const system = () => sources.system();
  return [
    {
      desc: () => 'seconds since the server started',
      prometheus: {
        name: 'couchdb_uptime_seconds',
        type: 'counter',
        help: 'seconds since the server started',
      },
      read: () => one(system().uptime),
    },
    {
      desc: () => 'memory of the process in bytes, by kind',
      prometheus: {
        name: 'couchdb_nodejs_memory_bytes',
        type: 'gauge',
        help: 'memory of the process in bytes, by kind',
        label: 'memory_type',
      },
      read: () => Object.entries(system().memory),
    },
    {
      desc: () => 'how late the event loop ran its timers, in seconds',
      prometheus: {
        name: 'couchdb_nodejs_eventloop_delay_seconds',
        type: 'gauge',
        help: 'how late the event loop ran its timers over the last one to two minutes, in seconds',
        label: 'stat',
      },
      read: () => Object.entries(system().event_loop_delay).map(([stat, ms]) => [stat, ms / 1000] as const),
    },
  ];
}

function replicatorFamilies(sources: MetricSources): Family[] {
  const figures = () => sources.replication();
  const states = JOB_STATES.map(([name, state, desc]) =>
    gauge(['couch_replicator', 'jobs', name], desc, () => one(figures().states[state])),
  );
  return [
    ...states,
    gauge(['couch_replicator', 'jobs', 'total'], 'total number of replicator scheduler jobs', () =>
      one(Object.values(figures().states).reduce((a, b) => a + b, 0)),
    ),
    // Settee's own, as `_scheduler/jobs` names them: the documents of the jobs' current or last runs.
    gauge(['couch_replicator', 'docs_read'], 'documents read by the replicator jobs this server holds', () =>
      one(figures().docsRead),
    ),
    gauge(
      ['couch_replicator', 'docs_written'],
      'documents written by the replicator jobs this server holds',
      () => one(figures().docsWritten),
    ),
    gauge(
      ['couch_replicator', 'doc_write_failures'],
      'documents the replicator jobs this server holds failed to write',
      () => one(figures().docWriteFailures),
    ),
  ];
}

/** A counter per method or status code: an entry each in `_stats`, a label in Prometheus (no `_total`). */
function labelled(
  path: readonly string[],
  { label, help }: { label: string; help: string },
  desc: Family['desc'],
  read: Family['read'],
): Family {
  return { path, desc, prometheus: { name: prometheusName(path), type: 'counter', help, label }, read };
}

/** A statistic CouchDB counts up: `couchdb_{path}_total` in Prometheus. */
function counter(path: readonly string[], desc: string, read: Family['read']): Family {
  const name = `${prometheusName(path)}_total`;
  return { path, desc: () => desc, prometheus: { name, type: 'counter', help: desc }, read };
}

/** A value now (CouchDB's `_stats` still calls it a counter, as it does `open_databases`). */
function gauge(path: readonly string[], desc: string, read: Family['read']): Family {
  return {
    path,
    desc: () => desc,
    statsType: path[0] === 'couchdb' ? 'counter' : 'gauge',
    prometheus: { name: prometheusName(path), type: 'gauge', help: desc },
    read,
  };
}

/** CouchDB's Prometheus name of a path: `couchdb_` and the path without its leading `couchdb`. */
function prometheusName(path: readonly string[]): string {
  const rest = path[0] === 'couchdb' ? path.slice(1) : path;
  return `couchdb_${rest.join('_')}`;
}
