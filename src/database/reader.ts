import type { Doc, GetOptions, OpenRevsResult } from '../core/api.js';
import { notFound } from '../core/errors.js';
import { ancestry, leavesFrom, revisionsOf, revsInfo } from '../core/rev-tree/history.js';
import type { RevTree } from '../core/rev-tree/types.js';
import { isRev, revGen } from '../core/revision.js';
import type { DocRecord, RevisionContent, Storage } from '../storage/types.js';
import { type AttachmentSelection, formatAttachments, stubAttachments } from './attachments.js';
import { rawBodyDoc } from './doc-json.js';
import type { TreeCache } from './trees.js';

/** What to add to a document read, beyond its body. */
export interface ReadShape {
  revs?: boolean;
  revs_info?: boolean;
  conflicts?: boolean;
  deleted_conflicts?: boolean;
  local_seq?: boolean;
  attachments?: boolean;
  atts_since?: string[];
  /** Leave the body as its stored JSON text, for a caller that only sends it (see doc-json.ts). */
  rawBody?: boolean;
}

/** How `open_revs` reads each revision. */
export type OpenRevsShape = ReadShape & { latest?: boolean };

/** One document of an `openRevsOf` read: its summary, the revisions asked for, and how. */
export interface OpenRevsRequest {
  record: DocRecord;
  revs: 'all' | string[];
  options: OpenRevsShape;
}

/**
 * Reads documents in CouchDB's shapes. Trees are read only when a request needs history
 * (revs, revs_info, latest, atts_since); plain reads use the summary row and one body.
 */
export class DocReader {
  constructor(
    private readonly storage: Storage,
    private readonly trees: TreeCache,
    /** Trees may briefly hold more (stemming is amortized); reads never show more. */
    private readonly revsLimit: () => number,
  ) {}

  /** A document's tree; with the sequence of its summary as just read, never an older one. */
  async tree(id: string, seq?: number): Promise<RevTree> {
    return this.trees.get(id, seq);
  }

  /**
   * The trees of documents whose summaries were just read, in the same order: those not cached
   * at the summaries' sequences in one storage read.
   */
  async treesOf(records: readonly DocRecord[]): Promise<RevTree[]> {
    const read = await this.trees.readMany(
      records.map((record) => record.id),
      records.map((record) => record.seq),
    );
    return read.map((stored) => stored.tree);
  }

  /** `GET /db/id`: the winner, or the named revision. */
  async get(record: DocRecord | undefined, id: string, options: GetOptions): Promise<Doc> {
    if (!record) throw notFound('missing');
    let rev = options.rev ?? record.winner;
    if (options.rev === undefined && record.deleted) throw notFound('deleted');
    const isInner = options.rev !== undefined && !record.leaves.some((leaf) => leaf.rev === options.rev);
    const needsTree = options.revs || options.revs_info || options.latest || options.atts_since || isInner;
    const tree = needsTree ? await this.tree(id, record.seq) : undefined;
    if (options.latest && options.rev !== undefined && tree) {
      rev = leavesFrom(tree, options.rev)[0]?.rev ?? options.rev;
    }
    const doc = await this.read(record, id, rev, options, tree);
    if (!doc) throw notFound('missing');
    return doc;
  }

  /** `open_revs`: several revisions at once, each found or reported missing. */
  async openRevs(
    record: DocRecord | undefined,
    id: string,
    revs: 'all' | string[],
    options: OpenRevsShape,
  ): Promise<OpenRevsResult[]> {
    if (!record) {
      if (revs === 'all') throw notFound('missing');
      return revs.map((rev) => ({ missing: rev }));
    }
    return (await this.openRevsOf([{ record: { ...record, id }, revs, options }]))[0]!;
  }

  /**
   * `open_revs` of several documents that exist (`_bulk_get`), in the same order: their trees in
   * one storage read and the bodies of every revision asked for in one more, whatever the number
   * of documents.
   */
  async openRevsOf(requests: readonly OpenRevsRequest[]): Promise<OpenRevsResult[][]> {
    const trees = await this.treesOf(requests.map(({ record }) => record));
    const wanted = requests.map(({ record, revs, options }, i) => {
      const tree = trees[i]!;
      const listed =
        revs === 'all'
          ? record.leaves.map((leaf) => leaf.rev)
          : revs.flatMap((rev) => (options.latest ? latestOf(tree, rev) : [rev]));
      return [...new Set(listed)];
    });
    const contents = await this.storage.getRevisionsOf(
      requests.map(({ record }, i) => ({ id: record.id, revs: wanted[i]!.filter(isRev) })),
    );
    return Promise.all(
      requests.map(async ({ record, options }, i) => {
        const held = new Map(wanted[i]!.filter(isRev).map((rev, j) => [rev, contents[i]![j]]));
        const results: OpenRevsResult[] = [];
        for (const rev of wanted[i]!) {
          const content = held.get(rev);
          const doc = content && (await this.read(record, record.id, rev, options, trees[i], content));
          results.push(doc ? { ok: doc } : { missing: rev });
        }
        return results;
      }),
    );
  }

  /** One revision in CouchDB's shape, or undefined when its body is not held. */
  async read(
    record: DocRecord,
    id: string,
    rev: string,
    shape: ReadShape,
    tree?: RevTree,
    known?: RevisionContent,
  ): Promise<Doc | undefined> {
    const content = known ?? (await this.storage.getRevisions(id, [rev]))[0];
    if (!content) return undefined;
    const doc = this.build(record, id, rev, content, shape, tree);
    const selection = attachmentSelection(shape, tree, rev);
    if (content.attachments && selection.kind !== 'stubs') {
      doc._attachments = await formatAttachments(this.storage, content.attachments, selection);
    }
    return doc;
  }

  /**
   * A revision whose content is in hand, with attachment stubs: no I/O, so scans that join
   * the winner's content build their documents without a round trip per row.
   */
  build(
    record: DocRecord,
    id: string,
    rev: string,
    content: RevisionContent,
    shape: ReadShape,
    tree?: RevTree,
  ): Doc {
    const deleted = tree ? tree.get(rev)?.deleted : record.leaves.find((leaf) => leaf.rev === rev)?.deleted;
    const doc = shape.rawBody ? rawBodyDoc(id, rev, content.body) : docFromBody(id, rev, content.body);
    if (deleted) doc._deleted = true;
    if (content.attachments) doc._attachments = stubAttachments(content.attachments);
    if (shape.revs && tree) doc._revisions = revisionsOf(tree, rev, this.revsLimit());
    if (shape.revs_info && tree) doc._revs_info = revsInfo(tree, rev).slice(0, this.revsLimit());
    if (rev === record.winner) addConflicts(doc, record, shape);
    if (shape.local_seq) doc._local_seq = record.seq;
    return doc;
  }
}

/** `_conflicts` and `_deleted_conflicts` from the summary row, when asked for and present. */
export function addConflicts(doc: Doc, record: DocRecord, shape: ReadShape): void {
  // Most documents have one leaf: nothing to add, and nothing to allocate on a scan's hot path.
  if (record.leaves.length < 2) return;
  const losers = record.leaves.slice(1);
  const conflicts = losers.filter((leaf) => !leaf.deleted).map((leaf) => leaf.rev);
  const deleted = losers.filter((leaf) => leaf.deleted).map((leaf) => leaf.rev);
  if (shape.conflicts && conflicts.length > 0) doc._conflicts = conflicts;
  if (shape.deleted_conflicts && deleted.length > 0) doc._deleted_conflicts = deleted;
}

/** With `latest`, a revision that has been edited since stands for the leaves descending from it. */
function latestOf(tree: RevTree, rev: string): string[] {
  if (!tree.has(rev)) return [rev];
  const leaves = leavesFrom(tree, rev);
  return leaves.length > 0 ? leaves.map((leaf) => leaf.rev) : [rev];
}

/**
 * `atts_since`: inline only attachments changed after the newest listed revision that is an
 * ancestor of the one read — the receiver provably holds the others.
 */
function attachmentSelection(shape: ReadShape, tree: RevTree | undefined, rev: string): AttachmentSelection {
  // `atts_since` limits the data whether or not `attachments` is asked too (CouchDB's
  // couch_db:apply_open_options2): a replicator asks with both and has the older bytes already.
  if (!shape.atts_since || !tree) return { kind: shape.attachments ? 'all' : 'stubs' };
  const path = new Set(ancestry(tree, rev));
  const known = shape.atts_since.filter((since) => isRev(since) && path.has(since)).map(revGen);
  return { kind: 'since', gen: known.length > 0 ? Math.max(...known) : 0 };
}

/** A document from its stored body, `_id` and `_rev` first as CouchDB orders them. */
export function docFromBody(id: string, rev: string, body: string): Doc {
  return { _id: id, _rev: rev, ...(JSON.parse(body) as Record<string, unknown>) };
}
