import type { Doc, NewDoc } from '../core/api.js';
import { commonAncestor } from '../core/rev-tree/history.js';
import type { RevTree } from '../core/rev-tree/types.js';
import { planResolution as planLeafResolution } from '../conflicts/plan.js';
import {
  DEFAULT_STAMP_FIELD,
  type Leaf,
  type Resolver,
  sameJson,
  sortLeaves,
  userFields,
} from '../conflicts/resolvers.js';
import { DEFAULT_FIELDS_FIELD } from '../conflicts/stamps.js';
import type { DocRecord, ResolutionRecord, Storage } from '../storage/types.js';
import type { DocReader } from './reader.js';
import type { EditOptions } from './writer.js';

/** One version of a conflicted document. */
export interface ConflictVersion {
  rev: string;
  /** The whole revision as `get` reads it, attachments as stubs. */
  doc: Doc;
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
   * Body fields that hold clock stamps rather than what people wrote (the defaults, and the ones
   * this database stamps): a person resolving need not see them, and a merge carries them over.
   */
  stamp_fields: string[];
}

/** A leaf with the document as read: what resolvers see. */
export interface ReadLeaf extends Leaf {
  doc: Doc;
}

/** The live leaves of a document and their common ancestor, as far as this replica holds them. */
export async function conflictVersions(
  reader: DocReader,
  record: DocRecord,
  tree: RevTree,
  stampFields: readonly string[],
): Promise<ConflictVersions> {
  const live = record.leaves.filter((leaf) => !leaf.deleted).map((leaf) => leaf.rev);
  const leaves = await readVersions(reader, record, tree, live);
  const base = live.length > 1 ? commonAncestor(tree, live) : undefined;
  const [ancestor] = base && tree.get(base)?.hasBody ? await readVersions(reader, record, tree, [base]) : [];
  return {
    id: record.id,
    winner: record.winner,
    leaves,
    ancestor: ancestor ?? null,
    stamp_fields: [...new Set([DEFAULT_STAMP_FIELD, DEFAULT_FIELDS_FIELD, ...stampFields])],
  };
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

/** Every leaf of a document, deleted ones included, with its body. */
export async function readLeaves(reader: DocReader, record: DocRecord, tree: RevTree): Promise<ReadLeaf[]> {
  const revs = record.leaves.map((leaf) => leaf.rev);
  const versions = await readVersions(reader, record, tree, revs);
  return versions.map(({ rev, doc }) => ({ rev, deleted: doc._deleted === true, doc }));
}

async function readVersions(
  reader: DocReader,
  record: DocRecord,
  tree: RevTree,
  revs: readonly string[],
): Promise<ConflictVersion[]> {
  const versions: ConflictVersion[] = [];
  for (const rev of revs) {
    const doc = await reader.read(record, record.id, rev, {}, tree);
    if (doc) versions.push({ rev, doc });
  }
  return versions;
}

/** The writes of an automatic resolution, each with how it is written. */
export interface AutomaticResolution {
  /** The leaf the merged revision continues (CouchDB's winner). */
  kept: string;
  /** The live leaves it deletes. */
  losers: string[];
  writes: { doc: NewDoc; options: EditOptions }[];
}

/**
 * What `resolver` makes of a document's leaves, as writes: a tombstone under each losing leaf and
 * the merged body under the winner, none of them stamped — every replica holding the same leaves
 * must write the same revisions. Null when the resolver keeps things as they are.
 *
 * The merged revision keeps the attachments of the leaf whose version it takes (the first, in
 * winner order, whose fields equal the merged body), or else the winner's.
 */
export function planAutomaticResolution(
  id: string,
  leaves: readonly ReadLeaf[],
  resolver: Resolver,
): AutomaticResolution | null {
  const plan = planLeafResolution(leaves, resolver.resolve(leaves));
  if (!plan) return null;
  const writes: AutomaticResolution['writes'] = plan.tombstones.map(({ parentRev }) => ({
    doc: { _id: id, _rev: parentRev, _deleted: true },
    options: {},
  }));
  const merged: NewDoc = { ...plan.merged.body, _id: id, _rev: plan.merged.parentRev };
  const options: EditOptions = {};
  if (plan.merged.deleted) merged._deleted = true;
  else {
    const sorted = sortLeaves(leaves) as ReadLeaf[];
    const source =
      sorted.find((leaf) => !leaf.deleted && sameJson(userFields(leaf.doc), plan.merged.body)) ??
      sorted.find((leaf) => leaf.rev === plan.merged.parentRev);
    if (source?.doc._attachments) {
      merged._attachments = source.doc._attachments;
      options.attachmentsFrom = source.rev;
    }
  }
  writes.push({ doc: merged, options });
  return {
    kept: plan.merged.parentRev,
    losers: plan.tombstones.map((write) => write.parentRev),
    writes,
  };
}

/** What a resolution writes over the kept leaf: a body, a deletion (null), or nothing (undefined). */
export type ResolutionResult = Record<string, unknown> | null | undefined;

/**
 * The history entry of a resolution about to be written, as a function of the revision the
 * document will have (known once the write batch has computed it); undefined when it discards no
 * content. The versions it replaces — the tombstoned leaves, and the kept one when something is
 * written over it — are read now, before they become inner revisions that compaction may drop,
 * and kept unless the result equals them (a loser whose body the result took lost nothing).
 */
export async function historyEntry(
  storage: Storage,
  resolution: {
    docId: string;
    kept: string;
    losers: readonly string[];
    result: ResolutionResult;
    by: string;
  },
): Promise<((rev: string) => ResolutionRecord) | undefined> {
  const { docId, kept, by, result } = resolution;
  const replaced = result === undefined ? [...resolution.losers] : [kept, ...resolution.losers];
  const contents = await storage.getRevisions(docId, replaced);
  const outcome = result ? userFields(result) : undefined;
  const losers = replaced.flatMap((rev, i) => {
    const content = contents[i];
    if (!content) return [];
    if (outcome && sameJson(JSON.parse(content.body), outcome)) return [];
    return [
      { rev, body: content.body, ...(content.attachments ? { attachments: content.attachments } : {}) },
    ];
  });
  if (losers.length === 0) return undefined;
  const at = new Date().toISOString();
  return (rev) => ({ docId, at, by, kept, rev, losers });
}
