/**
 * The server's recent warnings and errors, for `GET /_node/_local/_logs` (Settee's own endpoint:
 * CouchDB 3 has none for its log) and the web console's Server view: the last entries the log
 * wrote at `warn` and above, in a ring of fixed size. The ring is fed by the log's own lines, so
 * what it keeps is what was written, and it keeps no secret the log line did not already hide.
 */
import { type DestinationStream, type Logger, multistream, pino, symbols } from 'pino';
import { textWithoutSecrets } from './request-log.js';

/** The levels `_logs?level=` takes: an entry at this level or above is shown. */
export const RECENT_LEVELS = ['warn', 'error'] as const;
export type RecentLevel = (typeof RECENT_LEVELS)[number];

/** One kept line: when, how bad, what was said, and the request's facts when it was one. */
export interface RecentEntry {
  /** When it was logged (ISO 8601). */
  time: string;
  level: 'warn' | 'error' | 'fatal';
  message: string;
  /** The message of the error the line carried, if any. */
  error?: string;
  method?: string;
  url?: string;
  status?: number;
}

/** pino's numbers of the levels kept. */
const LEVEL_VALUES: Readonly<Record<RecentEntry['level'], number>> = { warn: 40, error: 50, fatal: 60 };
const LEVEL_NAMES = new Map(
  Object.entries(LEVEL_VALUES).map(([name, value]) => [value, name as RecentEntry['level']]),
);

/** How many entries a server keeps unless told otherwise. */
export const RECENT_CAPACITY = 100;

/**
 * @example
 * const recent = new RecentErrors();
 * const log = recordingLogger(serverLogger, recent);
 * log.warn('disk almost full');
 * recent.list('warn', 10); // [{ time, level: 'warn', message: 'disk almost full' }]
 */
export class RecentErrors {
  private readonly ring: RecentEntry[] = [];
  /** Where the next entry goes: once the ring is full, over the oldest. */
  private next = 0;

  constructor(readonly capacity = RECENT_CAPACITY) {}

  add(entry: RecentEntry): void {
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first, the entries at `level` or above, at most `limit` of them. */
  list(level: RecentLevel = 'warn', limit = this.capacity): RecentEntry[] {
    const floor = LEVEL_VALUES[level];
    const found: RecentEntry[] = [];
    for (let age = 1; age <= this.ring.length && found.length < limit; age++) {
      const entry = this.ring[(this.next - age + this.capacity) % this.capacity]!;
      if (LEVEL_VALUES[entry.level] >= floor) found.push(entry);
    }
    return found;
  }

  /** A pino destination that keeps the lines it is given (pino's JSON), when at `warn` or above. */
  destination(): DestinationStream {
    return { write: (line: string) => this.keep(line) };
  }

  private keep(line: string): void {
    const entry = entryOf(line);
    if (entry) this.add(entry);
  }
}

/**
 * The server's logger, keeping its warnings and errors in `recent`. Given the `logger` the server
 * was started with, a child of it whose every line still reaches that logger's own output,
 * unchanged (its level, format, hooks and flushing are the parent's); without one, a logger that
 * writes nothing out and only keeps them.
 */
export function recordingLogger(logger: Logger | undefined, recent: RecentErrors): Logger {
  const keeper = { level: 'warn' as const, stream: recent.destination() };
  if (logger === undefined) return pino({ level: 'warn' }, keeper.stream);
  const child = logger.child({});
  // pino has no public way to add a destination to a logger made elsewhere (by the CLI): its
  // exported symbols are the way it offers integrations to reach the stream (docs/api.md,
  // "pino.symbols"). Only the child writes to both; the parent's stream is left as it is.
  const streams = child as unknown as Record<symbol, DestinationStream>;
  const own = streams[symbols.streamSym]!;
  streams[symbols.streamSym] = multistream([{ level: 'trace', stream: own }, keeper]);
  return child;
}

/** A log line as an entry, or undefined when it is below `warn` or not pino's JSON. */
function entryOf(line: string): RecentEntry | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const level = LEVEL_NAMES.get(parsed.level as number);
  if (level === undefined) return undefined;
  const { method, url, status, err } = parsed;
  const error = (err as { message?: unknown } | undefined)?.message;
  return {
    time: timeOf(parsed.time),
    level,
    message: textWithoutSecrets(String(parsed.msg ?? '')),
    ...(typeof error === 'string' ? { error: textWithoutSecrets(error) } : {}),
    ...(typeof method === 'string' ? { method } : {}),
    ...(typeof url === 'string' ? { url: textWithoutSecrets(url) } : {}),
    ...(typeof status === 'number' ? { status } : {}),
  };
}

/** pino writes epoch milliseconds unless told to write a date: either becomes ISO 8601. */
function timeOf(time: unknown): string {
  const date = new Date(typeof time === 'number' || typeof time === 'string' ? time : Date.now());
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}
