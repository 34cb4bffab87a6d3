/**
 * The database's one door for application rules on writes: validation functions, the rules of a
 * server's `_users` and `_replicator` databases. The hook sees each document of a batch with the
 * revision it replaces, and answers per document: write it (possibly changed — `_users` hashes
 * passwords) or refuse it with an error. Local documents never reach it.
 */
import type { Doc, NewDoc, UserContext } from '../core/api.js';
import { isLocalId, type ParsedDoc } from '../core/document.js';
import { toSetteeError } from '../core/errors.js';
import { pathLeaf } from '../core/rev-tree/history.js';
import type { RevTree } from '../core/rev-tree/types.js';

/** A document about to be written, as its writer sent it. */
export interface ProposedWrite {
  doc: NewDoc;
  /**
   * The revision it replaces, read on demand (most hooks never need it): for an edit the revision
   * named by `_rev`; for a replicated revision its nearest ancestor this database holds; `null`
   * for a new document.
   */
  oldDoc(): Promise<Doc | null>;
}

export interface WriteHookContext {
  userCtx: UserContext | undefined;
  /** false for replicated writes (`new_edits=false`). */
  newEdits: boolean;
}

/** Per document, in order: the document to write, or the error that refuses it. */
export type WriteHook = (
  writes: readonly ProposedWrite[],
  context: WriteHookContext,
) => Promise<readonly (NewDoc | Error)[]>;

type Parsed = (ParsedDoc & { id: string }) | Error;

/** How the hook reads what it needs: a document's tree, and one revision of it. */
export interface HookReads {
  tree(id: string): Promise<RevTree>;
  revision(id: string, rev: string): Promise<Doc | null>;
}

/**
 * Runs `hook` over the documents of a batch that it governs (parsed, not local) and returns the
 * batch as it should be written: refused documents become their errors, changed ones are parsed
 * again. `parse` turns a changed document back into the batch's form.
 */
export async function applyWriteHook(
  hook: WriteHook,
  docs: readonly NewDoc[],
  parsed: readonly Parsed[],
  context: WriteHookContext,
  reads: HookReads,
  parse: (doc: NewDoc) => Parsed,
): Promise<Parsed[]> {
  const governed = parsed.flatMap((doc, index) => (doc instanceof Error || isLocalId(doc.id) ? [] : [index]));
  if (governed.length === 0) return [...parsed];
  const writes = governed.map((index) => ({
    doc: docs[index]!,
    oldDoc: () => previousRevision(parsed[index] as ParsedDoc & { id: string }, context.newEdits, reads),
  }));
  const answers = await hook(writes, context);
  const result = [...parsed];
  governed.forEach((index, i) => {
    const answer = answers[i];
    if (answer === docs[index]) return;
    result[index] =
      answer instanceof Error
        ? Object.assign(toSetteeError(answer), { docId: (parsed[index] as { id: string }).id })
        : answer === undefined
          ? result[index]!
          : parse(answer);
  });
  return result;
}

async function previousRevision(doc: ParsedDoc & { id: string }, newEdits: boolean, reads: HookReads) {
  if (newEdits) return doc.rev === undefined ? null : reads.revision(doc.id, doc.rev);
  if (!doc.path) return null;
  const tree = await reads.tree(doc.id);
  const leaf = pathLeaf(doc.path);
  // Nearest first: the revision's own ancestors, as `_revisions` lists them.
  for (let i = doc.path.hashes.length - 1; i >= 0; i--) {
    const rev = `${doc.path.start + i}-${doc.path.hashes[i]}`;
    if (rev !== leaf && tree.get(rev)?.hasBody) return reads.revision(doc.id, rev);
  }
  return null;
}
