/**
 * The logger of `settee serve`: human-readable lines on a terminal, JSON lines otherwise, and
 * start-up lines that reach the reader at once whatever the level.
 */
import { destination as pinoDestination, type Level, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A start-up line: plain words for people, and the same facts as fields for JSON readers. */
export interface StartupLine {
  text: string;
  fields?: Record<string, string>;
}

export interface ServerLog {
  logger: Logger;
  /** Prints start-up lines now, at any log level (the generated admin password is in them). */
  announce(lines: StartupLine[]): void;
  /** Writes out whatever is still buffered (before the process exits). */
  flushSync(): void;
}

/** pino's number of `warn`: lines from this level up are written out at once. */
const WARN = 40;
/** Request lines sit in the buffer at most this long on a quiet server. */
const PERIODIC_FLUSH_MS = 2000;

/** `auto`: pretty on a terminal, JSON when stdout is a pipe or a file. */
export function createServerLog(level: LogLevel, format: LogFormat, stdoutIsTty: boolean): ServerLog {
  const pretty = format === 'pretty' || (format === 'auto' && stdoutIsTty);
  return pretty ? prettyLog(level) : jsonLog(level);
}

/** On a terminal, lines are read by a person as they come: written at once, one per line. */
function prettyLog(level: LogLevel): ServerLog {
  const stream = pretty({
    sync: true,
    destination: 1,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,name,method,url,status,ms',
    messageFormat: (log, messageKey) =>
      log[messageKey] === 'request'
        ? `${String(log.method)} ${String(log.url)} ${String(log.status)} (${String(log.ms)} ms)`
        : String(log[messageKey]),
  });
  const logger = pino({ name: 'settee', level }, stream);
  return {
    logger,
    announce: (lines) => {
      for (const { text } of lines) process.stdout.write(`${text}\n`);
    },
    flushSync: () => undefined,
  };
}

/**
 * JSON lines, buffered in 4 KB writes: a line per request must not cost a write syscall each.
 * Warnings and errors, and the start-up lines, are written out at once, in order after what
 * is buffered before them.
 */
function jsonLog(level: LogLevel): ServerLog {
  const destination = pinoDestination({ sync: false, minLength: 4096, periodicFlush: PERIODIC_FLUSH_MS });
  let flushAfterWrite = false;
  const flushNow = () => {
    destination.flush();
    // A write already under way keeps what came after it, unless asked again once it is done.
    if (flushAfterWrite) return;
    flushAfterWrite = true;
    destination.once('drain', () => {
      flushAfterWrite = false;
      destination.flush();
    });
  };
  const logger = pino(
    {
      name: 'settee',
      level,
      hooks: {
        logMethod(args, method, lineLevel) {
          method.apply(this, args);
          if (lineLevel >= WARN) flushNow();
        },
      },
    },
    destination,
  );
  const announcer = logger.child({}, { level: 'info' satisfies Level });
  return {
    logger,
    announce: (lines) => {
      for (const { text, fields } of lines) announcer.info(fields ?? {}, text);
      flushNow();
    },
    flushSync: () => destination.flushSync(),
  };
}
