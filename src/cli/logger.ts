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
  /**
   * Writes out whatever is still buffered (before the process exits). Resolves once it is
   * written, or once the output turns out closed (its reader exited: `settee serve | head`),
   * what is left then being dropped; never rejects.
   */
  flush(): Promise<void>;
}

/** pino's number of `warn`: lines from this level up are written out at once. */
const WARN = 40;
/** Request lines sit in the buffer at most this long on a quiet server. */
const PERIODIC_FLUSH_MS = 2000;

/** `auto`: pretty on a terminal, JSON when stdout is a pipe or a file. */
export function createServerLog(level: LogLevel, format: LogFormat, stdoutIsTty: boolean): ServerLog {
  dropWritesToClosedPipe(process.stdout);
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
    // Written at once (`sync`): nothing is left to write.
    flush: () => Promise.resolve(),
  };
}

/**
 * A reader that went away (`settee serve | head -3`) fails later writes with EPIPE, emitted as
 * an `error` event: unhandled, it would end the server. Those lines are dropped; any other
 * error is thrown as it would have been.
 */
function dropWritesToClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
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
    // Not `destination.flushSync()`: on a closed pipe it retries the failing write forever
    // (sonic-boom 4 sleeps and retries on any error but EAGAIN), so the server would never stop.
    // An asynchronous flush ends on the EPIPE instead, and pino then drops every later write.
    flush: () => new Promise((resolve) => destination.flush(() => resolve())),
  };
}
