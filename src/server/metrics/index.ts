/**
 * The server's metrics: counted in place as requests are answered, shown by
 * `GET /_node/_local/_stats` (CouchDB's JSON), `GET /_node/_local/_prometheus` (Prometheus' text)
 * and `GET /_node/_local/_system`. Each server has its own prom-client registry, never the
 * process's global one: several servers may run in one process.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { mapRows } from '../http.js';
import type { Target } from '../router.js';
import { documentEffect, RequestCounts } from './counts.js';
import { type Family, families, type MetricSources } from './families.js';
import { RecentErrors } from './recent-errors.js';
import { extractPath, histogramValue, statsTree, type TimeFigures } from './stats.js';
import { type SystemFigures, SystemMonitor } from './system.js';

export type { MetricSources } from './families.js';

/** Upper bounds of the request time buckets, in seconds. */
const TIME_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const REQUEST_TIME = 'couchdb_request_time_seconds';
const REQUEST_TIME_HELP = 'length of a request inside the server, until its answer starts, in seconds';

/**
 * @example
 * const metrics = new ServerMetrics({ openDatabases: () => 3, replication, auth: () => auth.stats });
 * metrics.countResponse('GET', 200, 1.5, target);
 * metrics.recentErrors.list('error', 10);
 * const text = await metrics.prometheus();
 */
export class ServerMetrics {
  private readonly counts = new RequestCounts();
  private readonly registry = new Registry();
  private readonly system = new SystemMonitor();
  private readonly families: readonly Family[];
  private readonly requestTime: Histogram;

  /**
   * @param recentErrors the warnings and errors of the server's log, for `_logs` (fed by a
   *   `recordingLogger`)
   */
  constructor(
    sources: Omit<MetricSources, 'system'>,
    readonly recentErrors = new RecentErrors(),
  ) {
    this.families = families(this.counts, { ...sources, system: () => this.system.figures() });
    for (const family of this.families) register(family, this.registry);
    this.requestTime = new Histogram({
      name: REQUEST_TIME,
      help: REQUEST_TIME_HELP,
      buckets: TIME_BUCKETS,
      registers: [this.registry],
    });
  }

  /** Counts an answered request: its method, status, time (ms) and what it did to documents. */
  countResponse(method: string, status: number, ms: number, target: Target | undefined): void {
    this.counts.count(method, status, ms, documentEffect(target, method, status));
    this.requestTime.observe(ms / 1000);
  }

  /** Documents read by a request that reads many (`_bulk_get`, `_find`). */
  documentsRead(count: number): void {
    this.counts.databaseReads += count;
  }

  /**
   * `rows` as a listing writes them, the document each one carries counted as read when the
   * writer takes the row, so a stream stays a stream: `include_docs` on `_all_docs`,
   * `_design_docs`, `_changes` (every feed) and views. CouchDB counts a read in each
   * `couch_db:open_doc`, which those listings call for each row's document. A row without a
   * document (`null`: missing or deleted) read no body and is not counted. Without
   * `include_docs`, `rows` is handed back as it is.
   *
   * @example
   * return sendRows(reply, head, metrics.countingReads(db.allDocsStream(options), options.include_docs));
   */
  countingReads<Row extends { doc?: unknown }>(
    rows: AsyncIterable<Row>,
    includeDocs: boolean | undefined,
  ): AsyncIterable<Row> {
    if (!includeDocs) return rows;
    return mapRows(rows, (row) => {
      if (row.doc) this.counts.databaseReads++;
      return row;
    });
  }

  /** Documents written by a request that writes many (`_bulk_docs`). */
  documentsWritten(count: number): void {
    this.counts.wrote(count);
  }

  /** Counts a live `_changes` feed for as long as its response is open. */
  trackFeed(response: { once(event: 'close', listener: () => void): unknown }): void {
    this.counts.openFeeds++;
    response.once('close', () => this.counts.openFeeds--);
  }

  /** `_stats`, or the part of it that `path` names (`null` when it names nothing). */
  async stats(path: readonly string[]): Promise<unknown> {
    const requestTime = {
      value: histogramValue(await this.timeFigures()),
      type: 'histogram' as const,
      desc: 'length of a request inside the server, until its answer starts, in milliseconds',
    };
    return extractPath(statsTree(this.families, requestTime), path);
  }

  /** Every metric in Prometheus' text format. */
  prometheus(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of `prometheus()`'s text. */
  get prometheusContentType(): string {
    return this.registry.contentType;
  }

  /** `_system`: memory, the event loop's delay, uptime. */
  systemFigures(): SystemFigures {
    return this.system.figures();
  }

  /** Stops the event loop sampling: the server is closing. */
  stop(): void {
    this.system.stop();
  }

  /** The request time histogram as `_stats` needs it: buckets in ms, not cumulative. */
  private async timeFigures(): Promise<TimeFigures> {
    const { values } = await this.requestTime.get();
    const named = (suffix: string) => values.filter((v) => v.metricName === `${REQUEST_TIME}${suffix}`);
    const cumulative = named('_bucket').map((v) => [upperBound(v.labels.le), v.value] as const);
    const buckets = cumulative.map(
      ([le, count], i) => [le * 1000, count - (cumulative[i - 1]?.[1] ?? 0)] as const,
    );
    const { counts } = this;
    return {
      buckets,
      n: named('_count')[0]?.value ?? 0,
      sumMs: (named('_sum')[0]?.value ?? 0) * 1000,
      squaresMs: counts.squaresMs,
      fastestMs: counts.fastestMs,
      slowestMs: counts.slowestMs,
    };
  }
}

/** A bucket's `le` label: a number of seconds, or `+Inf`. */
function upperBound(le: string | number | undefined): number {
  return le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
}

/** A family as a prom-client metric whose values are read when Prometheus scrapes. */
function register(family: Family, registry: Registry): void {
  const { name, type, help, label } = family.prometheus;
  const config = { name, help, labelNames: label === undefined ? [] : [label], registers: [registry] };
  const labelsOf = (key: string) => (label === undefined ? {} : { [label]: key });
  if (type === 'counter') {
    new Counter({
      ...config,
      collect() {
        this.reset();
        for (const [key, value] of family.read()) this.inc(labelsOf(key), value);
      },
    });
  } else {
    new Gauge({
      ...config,
      collect() {
        this.reset();
        for (const [key, value] of family.read()) this.set(labelsOf(key), value);
      },
    });
  }
}
