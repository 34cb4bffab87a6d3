import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/**
 * A pino logger whose JSON lines the test reads back, as `settee serve --log-format json` writes
 * them to stdout: as written (`lines`) or parsed (`entries`).
 */
export function capturedLog(level = 'info'): {
  logger: Logger;
  lines: string[];
  entries: () => Record<string, unknown>[];
} {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return {
    logger: pino({ level }, stream),
    lines,
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
