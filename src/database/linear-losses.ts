import { sameJson } from '../conflicts/resolvers.js';
import type { Version } from '../core/rev-tree/linear.js';
import type { ResolutionRecord, RevisionContent, Storage } from '../storage/types.js';

/** Who settled a linear document's versions, as the resolution history names it. */
export type LinearRule = 'linear:most-edits-wins' | 'linear:re-creation';

/** A version a linear database settles, with its content when this replica has it. */
export interface Contender {
  version: Version;
  content: RevisionContent | undefined;
}

/** What the document holds after a settlement: the revision written, the one it continued. */
export interface Outcome {
  docId: string;
  rev: string;
  kept: string;
  content: RevisionContent;
}

/** What the document holds when `winner` stands as it is. */
export function outcomeOf(docId: string, winner: Contender): Outcome {
  const { rev } = winner.version;
  if (!winner.content) throw new Error(`the content of ${docId} ${rev} is not held`);
  return { docId, rev, kept: rev, content: winner.content };
}

/**
 * The history entry of a version a linear database settled away, or undefined when it loses
 * nothing: a bare tombstone, or the very content the document keeps.
 */
export function lossRecord(lost: Contender, outcome: Outcome, by: LinearRule): ResolutionRecord | undefined {
  const { content } = lost;
  if (!content || worthless(lost.version, content) || sameContent(content, outcome.content)) return undefined;
  const loser = { rev: lost.version.rev, body: content.body };
  return {
    docId: outcome.docId,
    at: new Date().toISOString(),
    by,
    kept: outcome.kept,
    rev: outcome.rev,
    losers: [content.attachments ? { ...loser, attachments: content.attachments } : loser],
  };
}

/**
 * Whether the history already holds `rev` as a loser of `docId`: a peer sends a revision that
 * lost again with every new replication, and it is recorded once.
 */
export async function recordedLoss(storage: Storage, docId: string, rev: string): Promise<boolean> {
  for await (const page of storage.resolutions({ docId })) {
    if (page.some((entry) => entry.losers.some((loser) => loser.rev === rev))) return true;
  }
  return false;
}

function worthless(version: Version, content: RevisionContent): boolean {
  return version.deleted && content.attachments === undefined && sameJson(JSON.parse(content.body), {});
}

function sameContent(a: RevisionContent, b: RevisionContent): boolean {
  return (
    sameJson(JSON.parse(a.body), JSON.parse(b.body)) && sameJson(a.attachments ?? {}, b.attachments ?? {})
  );
}
