/**
 * Views on either embedded contender: a design document's view built from empty, and brought up
 * to date after documents are edited. Both build a view on the first query that needs it, so a
 * build is timed from the design document's write to the end of that first query.
 */
import { designId, type QueryPeer } from './peer.js';

const MAP = 'function (doc) { emit([doc.type, doc.price], null) }';

export interface ViewSpec {
  /** The design document's name (`_design/<name>`, one view `v`). */
  name: string;
  label: string;
  reduce?: '_count';
}

export const VIEWS: readonly ViewSpec[] = [
  { name: 'bench-map', label: 'map emit([type, price], null)' },
  { name: 'bench-count', label: 'the same map, reduce _count', reduce: '_count' },
];

/** The first row of the view (map), or its total (reduce): checked against the documents. */
async function readView(peer: QueryPeer, spec: ViewSpec, documents: number): Promise<void> {
  const view = `${spec.name}/v`;
  if (spec.reduce) {
    const { rows } = await peer.query(view, { reduce: true });
    if (rows[0]?.value !== documents)
      throw new Error(`${view} counted ${String(rows[0]?.value)}, not ${documents}`);
  } else {
    const { rows } = await peer.query(view, { limit: 1 });
    if (rows.length !== 1) throw new Error(`${view} has no rows`);
  }
}

/** Writes the design document and builds its view; the milliseconds, and the revision to delete it by. */
export async function buildView(
  peer: QueryPeer,
  spec: ViewSpec,
  documents: number,
): Promise<{ ms: number; rev: string }> {
  const start = performance.now();
  const { rev } = await peer.put({
    _id: designId(spec.name),
    views: { v: spec.reduce ? { map: MAP, reduce: spec.reduce } : { map: MAP } },
  });
  await readView(peer, spec, documents);
  return { ms: performance.now() - start, rev };
}

/** Deletes the design document and its index, so the next build starts from empty. */
export async function dropView(peer: QueryPeer, spec: ViewSpec, rev: string): Promise<void> {
  await peer.remove(designId(spec.name), rev);
  await peer.viewCleanup();
}

/** The milliseconds a query takes to bring the view up to date with what was written since. */
export async function updateView(peer: QueryPeer, spec: ViewSpec, documents: number): Promise<number> {
  const start = performance.now();
  await readView(peer, spec, documents);
  return performance.now() - start;
}

/** Edits `count` documents from `firstId` on (their price moves), in one bulkDocs. */
export async function editDocs(peer: QueryPeer, firstId: string, count: number): Promise<void> {
  const { rows } = await peer.allDocs({ include_docs: true, limit: count, startkey: firstId });
  const edited = rows.map(({ doc }) => ({ ...doc!, price: ((Number(doc!.price) * 10 + 5) % 1000) / 10 }));
  const results = await peer.bulkDocs(edited);
  const failed = results.find((result) => 'error' in result);
  if (failed || results.length !== count)
    throw new Error(`editing ${count} docs failed: ${JSON.stringify(failed)}`);
}
