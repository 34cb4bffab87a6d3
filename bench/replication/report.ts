/** The replication benchmark's tables: Settee at two batch sizes beside PouchDB and the local ceiling. */
import { fmt } from '../lib.js';
import { ratioOf, ratioText } from '../server/report.js';

export { ratioOf, ratioText, type Target, targetLines } from '../server/report.js';

/** One metric of a phase: Settee at each batch size, PouchDB, and the ceiling at each batch size. */
export interface Line {
  metric: string;
  unit: string;
  lowerIsBetter: boolean;
  settee: (number | null)[];
  pouchdb: number | null;
  ceiling: (number | null)[];
}

function value(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : fmt(v);
}

function ratios(values: (number | null)[], over: (number | null)[], lowerIsBetter: boolean): string {
  const texts = values.map((v, i) => ratioOf(v, over[i] ?? null));
  if (texts.every((r) => r === null)) return '—';
  return texts.map(ratioText).join(' / ') + (lowerIsBetter ? ' ↓' : '');
}

/** A table: `batches` are the batch sizes of Settee's and the ceiling's columns. */
export function phaseTable(title: string, batches: readonly number[], lines: readonly Line[]): string {
  const header = [
    'metric',
    'unit',
    ...batches.map((b) => `Settee b=${b}`),
    'PouchDB (b=100)',
    ...batches.map((b) => `ceiling b=${b}`),
    `Settee/PouchDB (${batches.join(', ')})`,
    `Settee/ceiling (${batches.join(', ')})`,
  ];
  const rows = lines.map((line) => [
    `  ${line.metric}`,
    line.unit,
    ...batches.map((_, i) => value(line.settee[i])),
    value(line.pouchdb),
    ...batches.map((_, i) => value(line.ceiling[i])),
    ratios(
      line.settee,
      batches.map(() => line.pouchdb),
      line.lowerIsBetter,
    ),
    ratios(line.settee, line.ceiling, line.lowerIsBetter),
  ]);
  return render(title, header, rows);
}

export interface PairLine {
  metric: string;
  unit: string;
  lowerIsBetter: boolean;
  settee: number | null;
  pouchdb: number | null;
}

export function pairTable(title: string, lines: readonly PairLine[]): string {
  const header = ['metric', 'unit', 'Settee', 'PouchDB', 'Settee/PouchDB'];
  const rows = lines.map((line) => {
    const r = ratioOf(line.settee, line.pouchdb);
    return [
      `  ${line.metric}`,
      line.unit,
      value(line.settee),
      value(line.pouchdb),
      ratioText(r) + (line.lowerIsBetter && r !== null ? ' ↓' : ''),
    ];
  });
  return render(title, header, rows);
}

function render(title: string, header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ');
  return [title, line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
