import type { Doc } from '../../core/api.js';
import { ancestry, commonAncestor } from '../../core/rev-tree/history.js';
import type { RevTree } from '../../core/rev-tree/types.js';
import { DEFAULT_STAMP_FIELD, type Leaf, userFields } from '../../conflicts/resolvers.js';
import { DEFAULT_FIELDS_FIELD } from '../../conflicts/stamps.js';
import type { DocRecord, RevisionContent, Storage } from '../../storage/types.js';
import type { DocReader } from '../reader.js';
import type { KnownDoc } from '../writer.js';

/** One version of a conflicted document. */
export interface ConflictVersion {
  rev: string;
  /** The whole revision as `get` reads it, attachments as stubs. */
  doc: Doc;
}

/** A deleted version of a conflicted document. */
export interface DeletedVersion extends ConflictVersion {
  /**
   * Present (true) on a tombstone that retired a losing version rather than deleted the
   * document: one as a resolution writes it (see {@link isRetired}). People need not see it.
   */
  retired?: true;
}

/** Everything a person needs to resolve a conflict by hand (`GET /{db}/_resolve/{docid}`). */
export interface ConflictVersions {
  id: string;
  winner: string;
  /** The live leaves, the winner first, in CouchDB's winner order. */
  leaves: ConflictVersion[];
  /**
   * The newest revision the live leaves all descend from, for a three-way merge — when there are
   * several live leaves and this replica still holds its body (compaction drops it); else null.
   */
  ancestor: ConflictVersion | null;
  /**
   * The deleted leaves that take part in a resolution (see {@link contenders}): a person may keep
   * one, that is, keep the document deleted. In CouchDB's winner order; the tombstones an
   * earlier resolution left on its losers are flagged `retired`.
   */
  deleted_leaves: DeletedVersion[];
  /**
   * Body fields that hold clock stamps rather than what people wrote (the defaults, and the ones
   * this database stamps): a person resolving need not see them, and a merge carries them over.
   */
  stamp_fields: string[];
}

/** A leaf with the document as read: what resolvers see. */
export interface ReadLeaf extends Leaf {
  doc: Doc;
}

/** A document as conflict handling reads it: its summary, its tree and the bodies read so far. */
export interface ReadDoc extends KnownDoc {
  record: DocRecord;
}

/**
 * Reads the bodies of `revs` in one storage read; the result is handed on to whatever needs
 * them next (history, the write batch), so no body is read twice.
 */
export async function readBodies(
  storage: Storage,
  record: DocRecord,
  tree: RevTree,
  revs: readonly string[],
): Promise<ReadDoc> {
  const found = await storage.getRevisions(record.id, revs);
  const contents = new Map<string, RevisionContent>();
  revs.forEach((rev, i) => {
    const content = found[i];
    if (content) contents.set(rev, content);
  });
  return { record, tree, contents };
}

/** The versions of `revs` whose bodies `read` holds, as `get` shows them (attachments as stubs). */
export function versionsOf(reader: DocReader, read: ReadDoc, revs: readonly string[]): ConflictVersion[] {
  const { record, tree, contents } = read;
  return revs.flatMap((rev) => {
    const content = contents.get(rev);
    return content ? [{ rev, doc: reader.build(record, record.id, rev, content, {}, tree) }] : [];
  });
}

/** Every leaf of a document, deleted ones included, with its body. */
export function leavesOf(reader: DocReader, read: ReadDoc): ReadLeaf[] {
  const revs = read.record.leaves.map((leaf) => leaf.rev);
  return versionsOf(reader, read, revs).map(({ rev, doc }) => ({ rev, deleted: doc._deleted === true, doc }));
}

/**
 * The leaves a resolver weighs: every leaf, deleted ones included (a stamped deletion later than
 * an edit should win over it) — unless the document was re-created since a deletion. A live leaf
 * with a deleted ancestor was written by someone who saw the document deleted: it is later than
 * the deletions, whatever their stamps say (a plain CouchDB client's re-creation carries none,
 * and a stamp too far ahead is not believed), so deleted leaves do not contend with it.
 */
export function contenders(leaves: readonly ReadLeaf[], tree: RevTree): ReadLeaf[] {
  const recreated = leaves.some((leaf) => !leaf.deleted && hasDeletedAncestor(tree, leaf.rev));
  return recreated ? leaves.filter((leaf) => !leaf.deleted) : [...leaves];
}

function hasDeletedAncestor(tree: RevTree, rev: string): boolean {
  for (let parent = tree.get(rev)?.parent; parent; parent = tree.get(parent)?.parent) {
    if (tree.get(parent)?.deleted) return true;
  }
  return false;
}

/**
 * A document's leaves as a resolution weighs them (see {@link contenders}), with `extra` revisions
 * read in the same storage read: every body is read once and handed on in `read`.
 */
export async function readContenders(
  storage: Storage,
  reader: DocReader,
  record: DocRecord,
  tree: RevTree,
  extra: readonly string[] = [],
): Promise<{ read: ReadDoc; leaves: ReadLeaf[] }> {
  const revs = [...record.leaves.map((leaf) => leaf.rev), ...extra];
  const read = await readBodies(storage, record, tree, revs);
  return { read, leaves: contenders(leavesOf(reader, read), tree) };
}

/**
 * The live leaves of a document, their common ancestor as far as this replica holds it, and the
 * deleted leaves that contend with them — the leaves a resolution weighs, by the same rule.
 */
export async function conflictVersions(
  storage: Storage,
  reader: DocReader,
  record: DocRecord,
  tree: RevTree,
  stampFields: readonly string[],
): Promise<ConflictVersions> {
  const live = record.leaves.filter((leaf) => !leaf.deleted).map((leaf) => leaf.rev);
  const base = live.length > 1 ? commonAncestor(tree, live) : undefined;
  const held = base !== undefined && tree.get(base)?.hasBody === true;
  const { read, leaves } = await readContenders(storage, reader, record, tree, held ? [base] : []);
  const [ancestor] = held ? versionsOf(reader, read, [base]) : [];
  const deleted = leaves.filter((leaf) => leaf.deleted);
  const continued = new Set(live.flatMap((rev) => ancestry(tree, rev)));
  return {
    id: record.id,
    winner: record.winner,
    leaves: versionsOf(reader, read, live),
    ancestor: ancestor ?? null,
    deleted_leaves: deleted.map((leaf): DeletedVersion => {
      const version = { rev: leaf.rev, doc: leaf.doc };
      return isRetired(tree, continued, leaf) ? { ...version, retired: true } : version;
    }),
    stamp_fields: [...new Set([DEFAULT_STAMP_FIELD, DEFAULT_FIELDS_FIELD, ...stampFields])],
  };
}

/**
 * Whether a deleted leaf retired a losing version rather than deleted the document: a tombstone
 * as a resolution writes one on each loser — no body, hence no stamp (`planResolution`, and the
 * resolvers' `merge`; a CouchDB client resolving by hand writes the same) — over a revision no
 * live leaf continues (not in `continued`, the live leaves' ancestry): a branch that lost. A
 * deletion beside an edit of the same revision, or one carrying a stamp or fields, deleted the
 * document. Read from the tree and the body alone, so every replica says the same, of a
 * resolution replicated from elsewhere too.
 */
function isRetired(tree: RevTree, continued: ReadonlySet<string>, { rev, doc }: ReadLeaf): boolean {
  const parent = tree.get(rev)?.parent;
  return parent != null && !continued.has(parent) && Object.keys(userFields(doc)).length === 0;
}
