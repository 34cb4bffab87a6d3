import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { autoCompactionOptions, byteSize, compactionRatio } from '../../src/cli/serve-options.js';
import { needsCompaction } from '../../src/server/auto-compaction.js';
import { startServer, type TestServer } from './harness.js';

const MB = 1024 * 1024;
const DEFAULTS = { ratio: 2, minSlackBytes: 16 * MB };

// CouchDB's smoosh decides the same way (src/smoosh/src/smoosh_server.erl, get_priority/4): a ratio
// channel enqueues a database when file / active exceeds `min_priority` (2.0 by default), and no
// channel takes a file below `min_size`. Settee asks for both a ratio and a least reclaimable slack.
describe('needsCompaction', () => {
  it('compacts files that hold at least the ratio times the live data and the least slack', () => {
    expect(needsCompaction({ file: 100 * MB, active: 20 * MB }, DEFAULTS)).toBe(true);
    expect(needsCompaction({ file: 40 * MB, active: 20 * MB }, DEFAULTS)).toBe(true);
  });

  it('leaves files below the ratio, however much they would free', () => {
    expect(needsCompaction({ file: 1000 * MB, active: 600 * MB }, DEFAULTS)).toBe(false);
    expect(needsCompaction({ file: 39 * MB, active: 20 * MB }, DEFAULTS)).toBe(false);
  });

  it('leaves files that would free less than the least slack, whatever their ratio', () => {
    expect(needsCompaction({ file: 10 * MB, active: 0 }, DEFAULTS)).toBe(false);
    expect(needsCompaction({ file: 16 * MB - 1, active: 0 }, DEFAULTS)).toBe(false);
    expect(needsCompaction({ file: 16 * MB, active: 0 }, DEFAULTS)).toBe(true);
  });

  it('never compacts what has nothing to free (active equal to, or above, the file)', () => {
    const anything = { ratio: 1, minSlackBytes: 0 };
    expect(needsCompaction({ file: 50 * MB, active: 50 * MB }, anything)).toBe(false);
    expect(needsCompaction({ file: 50 * MB, active: 51 * MB }, anything)).toBe(false);
    expect(needsCompaction({ file: 50 * MB, active: 50 * MB - 1 }, anything)).toBe(true);
  });
});

describe('the --auto-compact options of settee serve', () => {
  it('reads sizes with or without a unit', () => {
    expect(byteSize('16MB')).toBe(16 * MB);
    expect(byteSize('16M')).toBe(16 * MB);
    expect(byteSize('16mib')).toBe(16 * MB);
    expect(byteSize('512KB')).toBe(512 * 1024);
    expect(byteSize('1.5G')).toBe(1.5 * 1024 * MB);
    expect(byteSize('1048576')).toBe(MB);
    for (const bad of ['', 'MB', '-1MB', '16TB', '16 M B']) expect(() => byteSize(bad)).toThrow(/size/);
  });

  it('refuses a ratio below 1 (every file would always be compacted)', () => {
    expect(compactionRatio('2.5')).toBe(2.5);
    for (const bad of ['0.5', 'x', '', 'Infinity']) expect(() => compactionRatio(bad)).toThrow(/at least 1/);
  });

  it('passes only the thresholds given, or false when off', () => {
    expect(autoCompactionOptions({ autoCompact: 'off', autoCompactRatio: 3 })).toEqual({
      autoCompaction: false,
    });
    expect(autoCompactionOptions({ autoCompact: 'on' })).toEqual({ autoCompaction: {} });
    expect(autoCompactionOptions({ autoCompact: 'on', autoCompactRatio: 3, autoCompactMinSize: MB })).toEqual(
      {
        autoCompaction: { ratio: 3, minSlackBytes: MB },
      },
    );
  });
});

/** The messages a server logs, as they come. */
function capturedLog(): { logger: Logger; messages: string[]; next: (match: RegExp) => Promise<void> } {
  const messages: string[] = [];
  const waiting: { match: RegExp; resolve: () => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const { msg } = JSON.parse(chunk.toString()) as { msg: string };
      messages.push(msg);
      for (const w of waiting.filter((w) => w.match.test(msg))) w.resolve();
      done();
    },
  });
  const next = (match: RegExp) =>
    messages.some((m) => match.test(m))
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiting.push({ match, resolve }));
  return { logger: pino({ level: 'debug' }, stream), messages, next };
}

interface DbInfoSizes {
  sizes: { file: number; active: number };
  compact_running: boolean;
}

/** Writes `generations` versions of `docs` documents of about `bytes` each; returns the bytes written. */
async function writeGenerations(
  server: TestServer,
  db: string,
  { docs, generations, bytes }: { docs: number; generations: number; bytes: number },
): Promise<number> {
  const revs = new Map<string, string>();
  let written = 0;
  for (let g = 0; g < generations; g++) {
    const batch = Array.from({ length: docs }, (_, i) => ({
      _id: `doc-${i}`,
      ...(revs.has(`doc-${i}`) ? { _rev: revs.get(`doc-${i}`) } : {}),
      // Different in every generation, so no two bodies are alike.
      filler: `${g}:${i}:`.padEnd(bytes, String.fromCharCode(97 + ((g + i) % 26))),
    }));
    const response = await server.fetch(`/${db}/_bulk_docs`, {
      method: 'POST',
      body: JSON.stringify({ docs: batch }),
    });
    expect(response.status).toBe(201);
    for (const row of (await response.json()) as { id: string; rev: string }[]) revs.set(row.id, row.rev);
    written += docs * bytes;
  }
  return written;
}

async function sizesOf(server: TestServer, db: string): Promise<DbInfoSizes> {
  return (await (await server.fetch(`/${db}`)).json()) as DbInfoSizes;
}

describe('automatic compaction', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('compacts a database that holds many generations, with no _compact request', async () => {
    const log = capturedLog();
    server = await startServer({
      logger: log.logger,
      autoCompaction: { ratio: 1.5, minSlackBytes: 512 * 1024, delayMs: 20 },
    });
    // Below the least slack: looked at, never compacted.
    expect((await server.fetch('/small', { method: 'PUT' })).status).toBe(201);
    await writeGenerations(server, 'small', { docs: 5, generations: 3, bytes: 1000 });
    await log.next(/^small needs no compaction/);

    expect((await server.fetch('/big', { method: 'PUT' })).status).toBe(201);
    const written = await writeGenerations(server, 'big', { docs: 100, generations: 30, bytes: 4000 });
    // The live data is the last generation, 1/30 of what was written: once compacted the files
    // hold a fraction of the bodies written, which stay in them until compaction drops them.
    const deadline = Date.now() + 20_000;
    let info = await sizesOf(server, 'big');
    while (info.compact_running || info.sizes.file > written / 3) {
      if (Date.now() > deadline) throw new Error(`never compacted: ${JSON.stringify(info.sizes)}`);
      info = await sizesOf(server, 'big');
    }
    expect(log.messages).toContain('compacting big automatically');
    expect(log.messages.filter((m) => m.startsWith('compacting small'))).toEqual([]);
  });

  it('compacts one database at a time', async () => {
    const log = capturedLog();
    server = await startServer({
      logger: log.logger,
      autoCompaction: { ratio: 1.5, minSlackBytes: 0, delayMs: 0 },
    });
    for (const db of ['one', 'two', 'three'])
      expect((await server.fetch(`/${db}`, { method: 'PUT' })).status).toBe(201);
    await Promise.all(
      ['one', 'two', 'three'].map((db) =>
        writeGenerations(server!, db, { docs: 50, generations: 10, bytes: 2000 }),
      ),
    );
    await Promise.all(['one', 'two', 'three'].map((db) => log.next(new RegExp(`^compacted ${db} `))));
    const steps = log.messages.filter((m) => /^compact(ing|ed) /.test(m));
    // A compaction may have begun since the last one awaited: only whole pairs are checked.
    for (let i = 0; i + 1 < steps.length; i += 2) {
      const db = /^compacting (\S+)/.exec(steps[i]!)?.[1];
      expect(steps[i + 1]).toMatch(new RegExp(`^compacted ${db} `));
    }
  });

  it('stops a compaction under way when the server closes, and the database reopens whole', async () => {
    const log = capturedLog();
    const autoCompaction = { ratio: 1.5, minSlackBytes: 0, delayMs: 0 };
    server = await startServer({ logger: log.logger, autoCompaction });
    expect((await server.fetch('/closing', { method: 'PUT' })).status).toBe(201);
    await writeGenerations(server, 'closing', { docs: 100, generations: 20, bytes: 4000 });
    await log.next(/^compacting closing/);
    const { dataDir } = server;
    await server.stop({ keepData: true });
    // Stopped, not failed: the server's own stop is no failure to report.
    expect(log.messages.filter((m) => /failed|stopped following/.test(m))).toEqual([]);

    server = await startServer({ dataDir, autoCompaction: false });
    const all = (await (await server.fetch('/closing/_all_docs?include_docs=true')).json()) as {
      rows: { doc: { _rev: string; filler: string } }[];
    };
    expect(all.rows).toHaveLength(100);
    for (const { doc } of all.rows) {
      expect(doc._rev).toMatch(/^20-/);
      expect(doc.filler.startsWith('19:')).toBe(true);
    }
  });
});
