import type { WriteOk } from '../core/api.js';
import type { ParsedDoc } from '../core/document.js';
import { badRequest, conflict } from '../core/errors.js';
import { newRevisionId } from '../core/rev-hash.js';
import { diffTrees } from '../core/rev-tree/diff.js';
import { pathLeaf } from '../core/rev-tree/history.js';
import { collectLeaves } from '../core/rev-tree/leaves.js';
import { type LeafState, mergePath } from '../core/rev-tree/merge.js';
import { stem } from '../core/rev-tree/stem.js';
import type { RevPath, RevTree } from '../core/rev-tree/types.js';
import { childGeneration, formatRev, parseRev, revGen } from '../core/revision.js';
import type {
  AttachmentBlob,
  AttachmentMeta,
  DocRecord,
  DocWrite,
  ResolutionRecord,
  RevisionContent,
  Storage,
} from '../storage/types.js';
import { isConflicted } from '../storage/records.js';
import { type ResolvedAttachments, resolveAttachments } from './attachments.js';
import type { Contender, LinearRule, Outcome } from './linear-losses.js';
import type { LinearParts } from './linear-parts.js';
import type { Stamper, StampInput } from './stamping.js';
import type { TreeCache } from './trees.js';

/** How an interactive edit is written, beyond the document itself. */
export interface EditOptions {
  /** Stamps the new revision's body (see `Stamper`); resolutions write their revisions unstamped. */
  stamper?: Stamper;
  /**
   * The revision whose attachments the document's stubs refer to, when it is not the parent: an
   * automatic resolution that keeps a losing leaf's version writes it under the winner.
   */
  attachmentsFrom?: string;
}

/** What a caller has read of a document already: a batch reads none of it again. */
export interface KnownDoc {
  tree: RevTree;
  /** Contents of some of its stored revisions, by revision id. */
  contents: ReadonlyMap<string, RevisionContent>;
}

/** A revision computed ahead of the document's tree (`WriteBatch.prehash`), and its body's JSON. */
interface Prehashed {
  parentRev: string | null;
  rev: string;
  bodyJson: string;
}

/** A document's tree as stored, and as this batch has changed it so far. */
interface DocState {
  id: string;
  /** The sequence the stored tree was read at (0: new document); undefined when not known. */
  base: number | undefined;
  stored: RevTree;
  tree: RevTree;
  /** Contents of the revisions this batch adds. */
  contents: Map<string, RevisionContent>;
  /** Contents of stored revisions the caller had read already. */
  known: ReadonlyMap<string, RevisionContent>;
  /** Revisions the batch added or altered; all of them when stemming ran. */
  touched: Set<string> | 'all';
}

/**
 * One batch of writes: loads the trees of the documents it touches, applies each document in
 * turn (later documents see earlier ones, as CouchDB applies a batch), and hands storage only
 * the tree rows that changed. Nothing is written until `commit`.
 */
export class WriteBatch {
  private readonly states = new Map<string, DocState>();
  private readonly blobs: AttachmentBlob[] = [];
  /** History entries of the versions a linear database settled away in this batch. */
  private readonly losses: ResolutionRecord[] = [];
  private readonly prehashed = new WeakMap<ParsedDoc, Prehashed>();

  /** @param linear a linear database's rules (its documents are lines, not trees), loaded on demand */
  constructor(
    private readonly storage: Storage,
    private readonly trees: TreeCache,
    private readonly revsLimit: number,
    private readonly linear?: LinearParts,
  ) {}

  /**
   * Reads the current trees of these documents, but for what the caller has read (`known`): the
   * others in one storage read, so a batch costs no round trip per document.
   */
  async load(ids: readonly string[], known: ReadonlyMap<string, KnownDoc> = new Map()): Promise<void> {
    const unique = [...new Set(ids)].filter((id) => !this.states.has(id));
    const unread = unique.filter((id) => !known.has(id));
    const read = await this.trees.readMany(unread);
    const storedOf = new Map(unread.map((id, i) => [id, read[i]!]));
    for (const id of unique) {
      const given = known.get(id);
      // A tree the caller read has no sequence: its write is not checked (see `DocWrite.base`).
      const { tree: stored, seq: base } = given ? { tree: given.tree, seq: undefined } : storedOf.get(id)!;
      this.states.set(id, {
        id,
        base,
        stored,
        tree: stored,
        contents: new Map(),
        known: given?.contents ?? new Map(),
        touched: new Set(),
      });
    }
  }

  /**
   * Computes the revision `edit` will give `parsed` if it extends `_rev` (a new document, when
   * there is none), while the trees `load` reads are on their way: in a browser, the page's main
   * thread would otherwise wait idle for IndexedDB, then hash. A document whose revision depends
   * on what is read (stamped, or with attachments) is left to `edit`, and so is one that cannot
   * be computed (its `_rev` at the last generation): `edit` fails that document alone.
   */
  prehash(parsed: ParsedDoc, options: EditOptions): void {
    if (options.stamper || parsed.attachments?.size) return;
    const parentRev = parsed.rev ?? null;
    try {
      const rev = newRevisionId({ deleted: parsed.deleted, parentRev, body: parsed.body, attachments: [] });
      this.prehashed.set(parsed, { parentRev, rev, bodyJson: JSON.stringify(parsed.body) });
    } catch {
      // left to `edit`
    }
  }

  /** An interactive edit (`new_edits=true`): the new revision is a child of `_rev`. */
  async edit(parsed: ParsedDoc & { id: string }, options: EditOptions = {}): Promise<WriteOk> {
    const state = this.state(parsed.id);
    const parentRev = chooseParent(state.tree, parsed.rev);
    const ahead = this.prehashed.get(parsed);
    if (ahead && ahead.parentRev === parentRev && !options.stamper && !options.attachmentsFrom) {
      this.apply(state, revisionPath(parentRev, ahead.rev), parsed, undefined, [], ahead.bodyJson);
      return { ok: true, id: parsed.id, rev: ahead.rev };
    }
    const doc = options.stamper ? await this.stamped(state, parsed, parentRev, options.stamper) : parsed;
    const gen = childGeneration(parentRev);
    const stubsFrom = options.attachmentsFrom ?? parentRev;
    const base = stubsFrom === null ? undefined : await this.stubsBase(state, doc, [stubsFrom]);
    const attachments = resolveAttachments(doc.id, doc.attachments, base, gen, false);
    const rev = newRevisionId({
      deleted: doc.deleted,
      parentRev,
      body: doc.body,
      attachments: attachments.identities,
    });
    this.apply(state, revisionPath(parentRev, rev), doc, attachments.metas, attachments.blobs);
    return { ok: true, id: doc.id, rev };
  }

  /**
   * `doc` with its body stamped: later than the revision it edits and than every other leaf of
   * the document — the writer saw them all, so a deletion already applied (a deleted leaf) can
   * never win over the document's re-creation by a replica whose clock had not seen it.
   */
  private async stamped<T extends ParsedDoc>(
    state: DocState,
    doc: T,
    parentRev: string | null,
    stamper: Stamper,
  ): Promise<T> {
    const leaves = collectLeaves(state.tree).filter((leaf) => leaf.rev !== parentRev && leaf.hasBody);
    const others: StampInput[] = [];
    for (const leaf of leaves) {
      const content = await this.contentOf(state, leaf.rev);
      if (content)
        others.push({ body: JSON.parse(content.body) as Record<string, unknown>, deleted: leaf.deleted });
    }
    const parent = parentRev === null ? undefined : state.tree.get(parentRev);
    const content = parent?.hasBody ? await this.contentOf(state, parentRev!) : undefined;
    const previous = content
      ? { body: JSON.parse(content.body) as Record<string, unknown>, deleted: parent!.deleted }
      : null;
    return { ...doc, body: stamper.stamp(doc, previous, others) };
  }

  /** A replicated write (`new_edits=false`): the revision and its ancestry are taken as given. */
  async replicate(doc: ParsedDoc & { id: string; path: RevPath }): Promise<WriteOk> {
    const state = this.state(doc.id);
    const rev = pathLeaf(doc.path);
    const known = this.linear ? this.settlingLine(this.linear, state) : state.tree;
    if (known.has(rev)) return { ok: true, id: doc.id, rev };
    const attachments = await this.replicatedAttachments(state, doc, rev);
    if (this.linear) await this.settleLinear(this.linear, state, known, doc, attachments);
    else this.apply(state, doc.path, doc, attachments.metas, attachments.blobs);
    return { ok: true, id: doc.id, rev };
  }

  /**
   * What a linear document's replicated writes are settled against: its newest `revs_limit`
   * revisions, whatever older ids it keeps until they are dropped (see `Line.extend`), so that
   * every replica holding the same current revision settles a write alike.
   */
  private settlingLine({ Line }: LinearParts, state: DocState): RevTree {
    return Line.of(state.tree)?.last(this.revsLimit) ?? state.tree;
  }

  /** A replicated revision's attachments: stubs refer to its nearest ancestor held here. */
  private async replicatedAttachments(
    state: DocState,
    doc: ParsedDoc & { id: string; path: RevPath },
    rev: string,
  ): Promise<ResolvedAttachments> {
    const ancestors = doc.path.hashes
      .slice(0, -1)
      .map((hash, i) => `${doc.path.start + i}-${hash}`)
      .reverse();
    const base = await this.stubsBase(state, doc, ancestors);
    return resolveAttachments(doc.id, doc.attachments, base, revGen(rev), true);
  }

  /**
   * A replicated revision of a linear document, settled at once against the current one (see
   * `settleIncoming`); the version that loses goes into the resolution history.
   */
  private async settleLinear(
    { settleIncoming, outcomeOf, recordedLoss }: LinearParts,
    state: DocState,
    line: RevTree,
    doc: ParsedDoc & { id: string; path: RevPath },
    attachments: ResolvedAttachments,
  ): Promise<void> {
    const rev = pathLeaf(doc.path);
    const incoming: Contender = {
      version: { rev, ...parseRev(rev), deleted: doc.deleted },
      content: { body: JSON.stringify(doc.body), attachments: attachments.metas },
    };
    const settlement = settleIncoming(line, doc.path, incoming.version);
    if (settlement.kind === 'held') return;
    // Read only when a version is settled away: a plain descendant costs no read.
    const current = settlement.kind === 'take' && !settlement.loser ? undefined : await this.current(state);
    if (settlement.kind === 'take') {
      this.apply(state, doc.path, doc, attachments.metas, attachments.blobs);
      if (current) this.recordLoss(current, outcomeOf(state.id, incoming), 'linear:most-edits-wins');
      return;
    }
    this.blobs.push(...attachments.blobs);
    if (settlement.kind === 'keep') {
      if (await recordedLoss(this.storage, state.id, rev)) return;
      this.recordLoss(incoming, outcomeOf(state.id, current!), 'linear:most-edits-wins');
      return;
    }
    const [live, lost] = settlement.live === 'incoming' ? [incoming, current!] : [current!, incoming];
    const written = this.rewrite(this.linear!, state, live, settlement.gen);
    this.recordLoss(lost, { ...outcomeOf(state.id, live), rev: written }, 'linear:re-creation');
  }

  /** The current revision of a linear document, with its content. */
  private async current(state: DocState): Promise<Contender> {
    const leaf = collectLeaves(state.tree)[0]!;
    return { version: leaf, content: await this.contentOf(state, leaf.rev) };
  }

  /**
   * Writes `live`'s content as a new revision of number `gen`, the line's only one. Its id
   * depends on `live`'s id and content alone, so replicas settling alike write the same revision.
   */
  private rewrite({ lineOf, outcomeOf }: LinearParts, state: DocState, live: Contender, gen: number): string {
    const { content } = outcomeOf(state.id, live);
    const identities = Object.entries(content.attachments ?? {}).map(([name, meta]) => ({
      name,
      contentType: meta.content_type,
      digest: meta.digest,
    }));
    const { hash } = parseRev(
      newRevisionId({
        deleted: false,
        parentRev: live.version.rev,
        body: JSON.parse(content.body) as Record<string, unknown>,
        attachments: identities,
      }),
    );
    const rev = formatRev(gen, hash);
    state.tree = lineOf({ rev, gen, hash, deleted: false });
    state.touched = 'all';
    state.contents.set(rev, content);
    return rev;
  }

  private recordLoss(lost: Contender, outcome: Outcome, by: LinearRule): void {
    const record = this.linear!.lossRecord(lost, outcome, by);
    if (record) this.losses.push(record);
  }

  private apply(
    state: DocState,
    path: RevPath,
    doc: ParsedDoc,
    metas: Record<string, AttachmentMeta> | undefined,
    blobs: AttachmentBlob[],
    bodyJson = JSON.stringify(doc.body),
  ): void {
    const leaf: LeafState = { deleted: doc.deleted, hasBody: true };
    if (this.linear) this.applyToLine(this.linear, state, path, leaf);
    else this.applyToTree(state, path, leaf);
    state.contents.set(pathLeaf(path), { body: bodyJson, attachments: metas });
    this.blobs.push(...blobs);
  }

  private applyToTree(state: DocState, path: RevPath, leaf: LeafState): void {
    const merged = mergePath(state.tree, path, leaf);
    state.tree = merged.tree;
    touch(state, merged.touched);
    if (needsStemming(state.tree, this.revsLimit)) {
      const stemmed = stem(state.tree, this.revsLimit);
      if (stemmed !== state.tree) state.touched = 'all';
      state.tree = stemmed;
    }
  }

  /**
   * A linear document is stemmed at every write, and only the new revision keeps its body. A
   * local edit extends the line, touching a few rows whatever its length; any other path is
   * merged and the line cut from the result (or a line that lost a settlement is replaced by
   * the incoming one's), every row compared.
   */
  private applyToLine(
    { extendLine, linearLine }: LinearParts,
    state: DocState,
    path: RevPath,
    leaf: LeafState,
  ): void {
    const extended = extendLine(state.tree, path, leaf, this.revsLimit);
    if (extended) {
      state.tree = extended.tree;
      touch(state, extended.touched);
      return;
    }
    state.tree = linearLine(mergePath(state.tree, path, leaf).tree, pathLeaf(path), this.revsLimit);
    state.touched = 'all';
  }

  /**
   * What `doc`'s attachment stubs refer to (see `attachmentsOf`); nothing read when it has none,
   * as most writes: a batch then reads no stored body.
   */
  private async stubsBase(
    state: DocState,
    doc: ParsedDoc,
    revs: readonly string[],
  ): Promise<Record<string, AttachmentMeta> | undefined | null> {
    const hasStubs = [...(doc.attachments?.values() ?? [])].some((input) => input.stub);
    return hasStubs ? this.attachmentsOf(state, revs) : undefined;
  }

  /**
   * The attachments of the nearest of `revs` whose body this replica holds: what stubs refer to.
   * `null` when none of them is held, `undefined` when the one found has no attachments.
   */
  private async attachmentsOf(
    state: DocState,
    revs: readonly string[],
  ): Promise<Record<string, AttachmentMeta> | undefined | null> {
    for (const rev of revs) {
      if (!state.tree.get(rev)?.hasBody) continue;
      const content = await this.contentOf(state, rev);
      if (content) return content.attachments;
    }
    return null;
  }

  /** A revision's content: added by this batch, known to the caller, or stored. */
  private async contentOf(state: DocState, rev: string): Promise<RevisionContent | undefined> {
    return (
      state.contents.get(rev) ?? state.known.get(rev) ?? (await this.storage.getRevisions(state.id, [rev]))[0]
    );
  }

  private state(id: string): DocState {
    const state = this.states.get(id);
    if (!state) throw new Error(`document ${id} was not loaded into the batch`);
    return state;
  }

  /**
   * Stores every changed document in one transaction, with the history entries of a resolution;
   * returns the documents written with their
   * seqs, and whether the write left each one newly conflicted.
   */
  async commit(history?: readonly ResolutionRecord[]): Promise<Committed[]> {
    const writes: DocWrite[] = [];
    const states: DocState[] = [];
    for (const state of this.states.values()) {
      if (state.tree !== state.stored) {
        writes.push(toDocWrite(state));
        states.push(state);
      }
    }
    const entries = [...this.losses, ...(history ?? [])];
    if (writes.length === 0 && entries.length === 0) return [];
    let seqs: number[];
    try {
      seqs = await this.storage.writeDocs(writes, this.blobs, entries);
    } catch (err) {
      for (const write of writes) this.trees.forget(write.record.id);
      throw err;
    }
    for (const [i, state] of states.entries()) this.trees.remember(state.id, state.tree, seqs[i]!);
    return writes.map((write, i) => ({
      id: write.record.id,
      seq: seqs[i]!,
      record: write.record,
      tree: states[i]!.tree,
      // Most writes leave a single leaf: the stored tree is looked at only when it may matter.
      newlyConflicted: isConflicted(write.record) && !treeConflicted(states[i]!.stored),
    }));
  }
}

/** The path an interactive edit adds: the new revision, under its parent if it has one. */
function revisionPath(parentRev: string | null, rev: string): RevPath {
  const { gen, hash } = parseRev(rev);
  return parentRev === null
    ? { start: 1, hashes: [hash] }
    : { start: gen - 1, hashes: [parseRev(parentRev).hash, hash] };
}

/** Records revisions an operation added or altered, unless every row is compared anyway. */
function touch(state: DocState, revs: readonly string[]): void {
  if (state.touched !== 'all') for (const rev of revs) state.touched.add(rev);
}

/** A document a batch wrote. */
export interface Committed {
  id: string;
  seq: number;
  record: Omit<DocRecord, 'seq'>;
  /** Its revision tree as now stored. */
  tree: RevTree;
  /** The document has conflicts now and had none before this write. */
  newlyConflicted: boolean;
}

function treeConflicted(tree: RevTree): boolean {
  const leaves = collectLeaves(tree);
  const winner = leaves[0];
  return winner !== undefined && isConflicted({ winner: winner.rev, leaves });
}

/**
 * Which revision an interactive write extends (protocol.md §1.5): the named leaf; for a write
 * without `_rev`, nothing (a new document) or the winning tombstone (re-creating a deleted one).
 */
function chooseParent(tree: RevTree, rev: string | undefined): string | null {
  const leaves = collectLeaves(tree);
  const winner = leaves[0];
  if (rev === undefined) {
    if (!winner) return null;
    if (winner.deleted) return winner.rev;
    throw conflict();
  }
  if (!winner || winner.deleted || !leaves.some((leaf) => leaf.rev === rev)) throw conflict();
  return rev;
}

function toDocWrite(state: DocState): DocWrite {
  const leaves = collectLeaves(state.tree);
  const winner = leaves[0]!;
  const record: Omit<DocRecord, 'seq'> = {
    id: state.id,
    winner: winner.rev,
    deleted: winner.deleted,
    leaves: leaves.map((leaf) => ({ rev: leaf.rev, deleted: leaf.deleted })),
  };
  const diff = diffTrees(state.stored, state.tree, state.touched === 'all' ? undefined : state.touched);
  const added = diff.added.map((node) => {
    const content = state.contents.get(node.rev);
    return content ? { ...node, content } : node;
  });
  // A revision that loses its body (a linear document's previous one) keeps its row: storage
  // drops its content in place.
  const changed = diff.changed.map((node) =>
    !node.hasBody && state.stored.get(node.rev)?.hasBody ? { ...node, dropContent: true } : node,
  );
  const write: DocWrite = { record, added, removed: diff.removed, changed };
  if (state.base !== undefined) write.base = state.base;
  return write;
}

/**
 * Stemming is amortized: a tree may grow a tenth past `revs_limit` before it is stemmed back,
 * so a document at its limit is not rewalked on every write. Reads never show more than
 * `revs_limit` ancestors, so replication sends no more either.
 */
function needsStemming(tree: RevTree, limit: number): boolean {
  return tree.size > limit + Math.floor(limit / 10);
}

/** Rejects a replicated write that does not say which revision it is. */
export function requirePath<T extends ParsedDoc>(doc: T): T & { path: RevPath } {
  if (!doc.path)
    throw badRequest('When `new_edits: false`, the document needs `_rev` or `_revisions` specified');
  return doc as T & { path: RevPath };
}
