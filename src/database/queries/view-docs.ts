/**
 * The documents of a map view's rows with `include_docs`: the emitting document (joined by the
 * index scan), or the one the row's value links to with `{"_id": …}` (and `_rev`), as CouchDB's
 * couch_mrview_util.erl `maybe_load_doc`/`docid_rev` load them. A document that is missing or
 * deleted shows as `null` (couch_index_util `load_doc`).
 */
import type { Doc } from '../../core/api.js';
import type { ScannedDoc } from '../../storage/types.js';
import type { QueryHost, ScannedWithContent } from './host.js';
import type { IndexedViewRow } from './view-scan.js';
import type { ViewResultRow } from './views.js';

/** What a map row needs of its query. */
interface DocShape {
  readonly includeDocs: boolean;
  readonly conflicts?: boolean;
}

export class ViewDocs {
  constructor(private readonly host: QueryHost) {}

  /** A map row as the answer shows it. */
  async row(row: IndexedViewRow, q: DocShape): Promise<ViewResultRow> {
    const shown: ViewResultRow = { id: row.id, key: row.key, value: row.value };
    if (!q.includeDocs) return shown;
    const link = linkOf(row.value);
    const conflicts = q.conflicts === true;
    shown.doc = link ? await this.linked(link, conflicts) : this.show(row.doc, conflicts);
    return shown;
  }

  private show(scanned: ScannedDoc | undefined, conflicts: boolean): Doc | null {
    if (!scanned || scanned.deleted || !scanned.content) return null;
    return this.host.toDoc(scanned as ScannedWithContent, { conflicts });
  }

  private async linked(link: { id: string; rev?: string }, conflicts: boolean): Promise<Doc | null> {
    const scanned = await this.winner(link.id);
    if (!scanned || link.rev === undefined || link.rev === scanned.winner)
      return this.show(scanned, conflicts);
    return this.revision(scanned, link.rev);
  }

  private async winner(id: string): Promise<ScannedDoc | undefined> {
    for await (const page of this.host.storage.docs({ start: id, end: id, withContent: true })) {
      return page.find((scanned) => scanned.id === id);
    }
    return undefined;
  }

  /** Another revision than the winner, when its body is still held and it is not a deletion. */
  private async revision(scanned: ScannedDoc, rev: string): Promise<Doc | null> {
    const leaf = scanned.leaves.find((candidate) => candidate.rev === rev);
    if (leaf?.deleted) return null;
    const [content] = await this.host.storage.getRevisions(scanned.id, [rev]);
    if (!content) return null;
    // Shown as that revision alone: `_conflicts` belong to the winner.
    const record = { ...scanned, winner: rev, deleted: false, leaves: [{ rev, deleted: false }], content };
    return this.host.toDoc(record);
  }
}

/** A value `{"_id": id}` (with an optional `_rev`) links its row to that document. */
function linkOf(value: unknown): { id: string; rev?: string } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { _id: id, _rev: rev } = value as Record<string, unknown>;
  if (typeof id !== 'string') return undefined;
  return typeof rev === 'string' ? { id, rev } : { id };
}
