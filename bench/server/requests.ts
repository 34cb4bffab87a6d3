/**
 * Counting the HTTP requests a client sends, per `METHOD endpoint`: PouchDB's through a wrapped
 * `fetch` (pouch.ts), Settee's RemoteDatabase through its `onRequest` (../replication/measure.ts).
 */

/** `/db/_changes?…` → `_changes`; `/db/_local/x` → `_local`; `/db/x` → `doc`; `/db/` → `db`. */
export function endpointOf(url: string): string {
  const segments = new URL(url, 'http://localhost').pathname.split('/').filter(Boolean);
  const [, first] = segments;
  if (segments.length <= 1) return segments.length === 0 ? 'root' : 'db';
  return first!.startsWith('_') ? first! : 'doc';
}

/** Requests counted so far, in all and per `METHOD endpoint`, and the difference since a snapshot. */
export class RequestTally {
  count = 0;
  /** Requests per `METHOD endpoint` (`_changes`, `_bulk_docs`, `_local`, `doc`, `db`, …). */
  readonly byEndpoint = new Map<string, number>();

  protected record(method: string, url: string): void {
    this.count++;
    const key = `${method} ${endpointOf(url)}`;
    this.byEndpoint.set(key, (this.byEndpoint.get(key) ?? 0) + 1);
  }

  /** The per-endpoint counts, to compare with an earlier `snapshot()`. */
  snapshot(): Map<string, number> {
    return new Map(this.byEndpoint);
  }

  /** Per-endpoint requests since `before`, most first. */
  since(before: Map<string, number>): Record<string, number> {
    const entries = [...this.byEndpoint]
      .map(([key, count]) => [key, count - (before.get(key) ?? 0)] as const)
      .filter(([, count]) => count > 0)
      .sort((a, b) => b[1] - a[1]);
    return Object.fromEntries(entries);
  }
}
