/** The server benchmark's table (Settee | pouchdb-server | ratio per metric, per N) and targets. */
import { fmt, machine } from '../lib.js';

export interface Metric {
  metric: string;
  unit: string;
  settee: number | null;
  pouchdb: number | null;
  lowerIsBetter: boolean;
}

export interface Target {
  name: string;
  pass: boolean;
  detail: string;
}

export function ratioOf(a: number | null, b: number | null): number | null {
  return a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : a / b;
}

export function ratioText(r: number | null): string {
  if (r === null) return '—';
  return r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

export function value(v: number | null): string {
  return v === null || !Number.isFinite(v) ? '—' : fmt(v);
}

export function table(title: string, metrics: readonly Metric[]): string {
  const header = ['metric', 'unit', 'Settee', 'pouchdb-server', 'Settee/pouchdb-server'];
  const lines = metrics.map((m) => [
    `  ${m.metric}`,
    m.unit,
    value(m.settee),
    value(m.pouchdb),
    ratioText(ratioOf(m.settee, m.pouchdb)) +
      (m.lowerIsBetter && ratioOf(m.settee, m.pouchdb) !== null ? ' ↓' : ''),
  ]);
  return grid(title, header, lines);
}

/** A titled table: the first two columns (name, unit) aligned left, the figures right. */
export function grid(title: string, header: readonly string[], lines: readonly string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((line) => line[c]!.length)));
  const render = (cells: readonly string[]) =>
    cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ');
  return [title, render(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...lines.map(render)].join(
    '\n',
  );
}

export function targetLines(targets: readonly Target[]): string {
  return targets.map((t) => `  ${t.pass ? 'PASS' : 'FAIL'}  ${t.name} — ${t.detail}`).join('\n');
}

/** The end of a printed report: its notes, then its targets passed or failed. */
export function notesAndTargets(notes: readonly string[], targets: readonly Target[]): string[] {
  return ['Notes:', ...notes.map((note) => `  - ${note}`), '', 'Targets:', targetLines(targets)];
}

/** How a report's closing note begins: how long the whole run took, and on what CPUs. */
export function wholeRun(totalSeconds: number): string {
  return `Whole run: ${(totalSeconds / 60).toFixed(1)} min on ${machine().cpus}`;
}
