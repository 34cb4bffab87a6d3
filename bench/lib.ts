/**
 * Shared helpers of the benchmarks: the data set every contender writes, timing, temp folders
 * and the report (a printed table with ratios, and the same figures as JSON).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';

// ---------------------------------------------------------------------------------------------
// Data set

const WORDS = (
  'offline first document database sync replication revision conflict winner leaf branch tree ' +
  'sequence change feed attachment digest body field value index query selector compaction ' +
  'storage sqlite page cache memory stream batch commit durable journal checkpoint peer remote ' +
  'local network latency apple banana cherry orange lemon melon grape kiwi mango peach plum pear'
).split(' ');

/** A deterministic 32-bit PRNG (mulberry32), so every run and contender sees the same data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The documents' bodies without `_id`/`_rev`: a few fields and a ~850-character text. */
export interface Body {
  type: string;
  n: number;
  title: string;
  price: number;
  tags: string[];
  createdAt: string;
  text: string;
  [field: string]: unknown;
}

/** The same N documents for every contender: ids `doc-000000`…, ~1 KB of JSON each. */
export class Dataset {
  readonly ids: string[];
  /** `1-<md5 of the id>`: the revision used where revisions are given (new_edits=false, raw rows). */
  readonly revs: string[];
  private readonly texts: string[];

  constructor(readonly size: number) {
    const random = prng(42);
    this.ids = [];
    this.revs = [];
    this.texts = [];
    for (let i = 0; i < size; i++) {
      const id = `doc-${String(i).padStart(6, '0')}`;
      this.ids.push(id);
      this.revs.push(`1-${createHash('md5').update(id).digest('hex')}`);
      let text = '';
      while (text.length < 850) text += `${WORDS[Math.floor(random() * WORDS.length)]} `;
      this.texts.push(text.slice(0, 850));
    }
  }

  /** A fresh body object (contenders may keep or alter what they are given). */
  body(i: number): Body {
    return {
      type: 'item',
      n: i,
      title: `Item number ${i}`,
      price: (i % 1000) / 10,
      tags: ['bench', `group-${i % 17}`],
      createdAt: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
      text: this.texts[i]!,
    };
  }

  /** Document i as a new edit: its id and a fresh body. */
  doc(i: number): Body & { _id: string } {
    return { _id: this.ids[i]!, ...this.body(i) };
  }

  /** Documents for `bulkDocs`, in batches: with their `1-…` revision for new_edits=false, without for true. */
  bulkBatches(size: number, newEdits: boolean): (Body & { _id: string; _rev?: string })[][] {
    return this.batches(size, (i) =>
      newEdits ? this.doc(i) : { _id: this.ids[i]!, _rev: this.revs[i]!, ...this.body(i) },
    );
  }

  /** Batches of fresh documents [from, to) (all by default), built before a timed step. */
  batches<T>(size: number, make: (i: number) => T, from = 0, to = this.size): T[][] {
    const batches: T[][] = [];
    for (let start = from; start < to; start += size) {
      const batch: T[] = [];
      for (let i = start; i < Math.min(to, start + size); i++) batch.push(make(i));
      batches.push(batch);
    }
    return batches;
  }

  /** `count` random ids (with repeats), the same for every contender. */
  randomIds(count: number, seed = 7): string[] {
    const random = prng(seed);
    return Array.from({ length: count }, () => this.ids[Math.floor(random() * this.size)]!);
  }

  /** Average JSON size of a document, in bytes. */
  averageJsonBytes(): number {
    let total = 0;
    const sample = Math.min(this.size, 1000);
    for (let i = 0; i < sample; i++) {
      total += JSON.stringify({ _id: this.ids[i], _rev: this.revs[i], ...this.body(i) }).length;
    }
    return Math.round(total / sample);
  }
}

/** A 32-hex revision hash derived from a label (for hand-built trees). */
export function hashOf(label: string): string {
  return createHash('md5').update(label).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Timing

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-second rate of `count` operations done in `ms` milliseconds. */
export function perSecond(count: number, ms: number): number {
  return (count * 1000) / ms;
}

/** When, and on what machine and Node, a benchmark ran: the head of its results' meta. */
export function machine(): { date: string; node: string; platform: string; cpus: string; memoryGB: number } {
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}`,
    memoryGB: Math.round(totalmem() / 2 ** 30),
  };
}

/** The value of command-line option `--name` (a string, as parseArgs gives it): a positive integer. */
export function positiveOption<A extends object>(args: A, name: keyof A & string): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`--${name} must be a positive integer, not ${String(args[name])}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Folders

export class TempFolders {
  readonly root = mkdtempSync(join(tmpdir(), 'settee-bench-'));
  private next = 0;

  /** A new, not yet existing path under the root. */
  path(name: string): string {
    return join(this.root, `${this.next++}-${name}`);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Bytes of a file, or of a folder's files (recursively: enough for leveldb). */
export function sizeOnDisk(path: string): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, name) => total + sizeOnDisk(join(path, name)), 0);
}

// ---------------------------------------------------------------------------------------------
// Report

export type Unit = 'docs/s' | 'gets/s' | 'queries/s' | 'µs/write' | 'ms' | 'MB' | 'KB' | 'rows' | 'ids' | '×';

/** One line of the table: a figure per contender (null when it has no such operation). */
export interface Row {
  section: string;
  operation: string;
  unit: Unit;
  settee: number | null;
  ceiling: number | null;
  pouchdb: number | null;
  /** Appended to the operation when printed, pointing at a note (e.g. ` *`). */
  flag?: string;
}

/** Units where a smaller figure is better: the ratio columns are marked accordingly. */
const LOWER_IS_BETTER: ReadonlySet<Unit> = new Set(['µs/write', 'ms', 'MB', 'KB', '×']);

export interface Target {
  name: string;
  pass: boolean;
  detail: string;
}

export class Report {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];
  readonly targets: Target[] = [];
  readonly meta: Record<string, unknown> = {};

  add(row: Row): Row {
    this.rows.push(row);
    return row;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  target(name: string, pass: boolean, detail: string): void {
    this.targets.push({ name, pass, detail });
  }

  find(operation: string): Row {
    const row = this.rows.find((r) => r.operation === operation);
    if (!row) throw new Error(`no row ${operation}`);
    return row;
  }

  print(): string {
    const header = [
      'operation',
      'unit',
      'Settee',
      'raw SQLite ceiling',
      'PouchDB',
      'Settee/ceiling',
      'Settee/PouchDB',
    ];
    const lines: string[][] = [];
    let section = '';
    const sectionLines = new Map<number, string>();
    for (const row of this.rows) {
      if (row.section !== section) {
        section = row.section;
        sectionLines.set(lines.length, section);
      }
      const better = LOWER_IS_BETTER.has(row.unit) ? ' ↓' : '';
      lines.push([
        `  ${row.operation}${row.flag ?? ''}`,
        row.unit,
        fmt(row.settee),
        fmt(row.ceiling),
        fmt(row.pouchdb),
        ratio(row.settee, row.ceiling) + (row.ceiling !== null && row.settee !== null ? better : ''),
        ratio(row.settee, row.pouchdb) + (row.pouchdb !== null && row.settee !== null ? better : ''),
      ]);
    }
    const widths = header.map((h, c) => Math.max(h.length, ...lines.map((line) => line[c]!.length)));
    const render = (cells: string[]) =>
      cells
        .map((cell, c) => (c === 0 || c === 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join(' | ');
    const out: string[] = [];
    out.push(render(header));
    out.push(widths.map((w) => '-'.repeat(w)).join('-|-'));
    lines.forEach((line, i) => {
      const title = sectionLines.get(i);
      if (title) out.push(title);
      out.push(render(line));
    });
    out.push('');
    out.push('Ratios are Settee ÷ other. For /s units higher is better; ↓ marks units where lower is better');
    out.push('(µs, ms, MB, KB, ×), so there a ratio below 1 favours Settee.');
    if (this.notes.length > 0) {
      out.push('');
      out.push('Notes:');
      for (const note of this.notes) out.push(`  - ${note}`);
    }
    out.push('');
    out.push('Targets:');
    for (const target of this.targets) {
      out.push(`  ${target.pass ? 'PASS' : 'FAIL'}  ${target.name} — ${target.detail}`);
    }
    return out.join('\n');
  }

  toJSON(): unknown {
    return {
      meta: this.meta,
      rows: this.rows.map((row) => ({
        ...row,
        settee_over_ceiling: rawRatio(row.settee, row.ceiling),
        settee_over_pouchdb: rawRatio(row.settee, row.pouchdb),
        lower_is_better: LOWER_IS_BETTER.has(row.unit),
      })),
      targets: this.targets,
      notes: this.notes,
    };
  }
}

export function fmt(value: number | null): string {
  if (value === null || Number.isNaN(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function rawRatio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

function ratio(a: number | null, b: number | null): string {
  const r = rawRatio(a, b);
  if (r === null) return '—';
  return r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

/** Writes a benchmark's figures as JSON to `path` (bench-results/…), creating its folder. */
export function writeResults(path: string, figures: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(figures, null, 2)}\n`);
}

/** Log progress to stderr, so stdout holds only the report. */
export function progress(text: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
}
