import type { StoredNode } from '../../core/rev-tree/diff.js';
import { revGen } from '../../core/revision.js';
import type { DocRecord, LeafRecord, RevisionContent, ScannedDoc, StoredResolution } from '../types.js';
import { idText } from './sql.js';

/** The columns of a document's summary row, as every read selects them. */
export const DOC_COLUMNS = 'd.id, d.seq, d.winner, d.deleted, d.leaves';

/** The summary columns and the winner's content, joined from its revision row by primary key. */
export const SCANNED_DOC_FROM = `SELECT ${DOC_COLUMNS}, w.body, w.atts FROM settee.docs d
  LEFT JOIN settee.revs w ON w.doc = d.doc AND w.rev = d.winner`;

export type DocRow = { id: Buffer; seq: number; winner: string; deleted: boolean; leaves: string | null };
export type ScanRow = DocRow & { body?: string | null; atts?: string | null };
export type NodeRow = {
  rev: string;
  parent: string | null;
  node_deleted: boolean;
  leaf: boolean;
  has_body: boolean;
};
export type ResolutionRow = { seq: number; doc: Buffer; entry: string };

export function toRecord(row: DocRow): DocRecord {
  const leaves: LeafRecord[] =
    row.leaves === null
      ? [{ rev: row.winner, deleted: row.deleted }]
      : (JSON.parse(row.leaves) as [string, number][]).map(([rev, deleted]) => ({
          rev,
          deleted: deleted === 1,
        }));
  return { id: idText(row.id), seq: row.seq, winner: row.winner, deleted: row.deleted, leaves };
}

/** The leaves column: null when the winner is the only leaf, as most documents are. */
export function leavesJson(leaves: readonly LeafRecord[]): string | null {
  return leaves.length === 1 ? null : JSON.stringify(leaves.map((leaf) => [leaf.rev, leaf.deleted ? 1 : 0]));
}

export function toContent(body: string, atts: string | null | undefined): RevisionContent {
  return { body, attachments: atts ? (JSON.parse(atts) as RevisionContent['attachments']) : undefined };
}

export function toScanned(row: ScanRow): ScannedDoc {
  const scanned: ScannedDoc = toRecord(row);
  if (typeof row.body === 'string') scanned.content = toContent(row.body, row.atts);
  return scanned;
}

export function toNode(row: NodeRow): StoredNode {
  return {
    rev: row.rev,
    gen: revGen(row.rev),
    hash: row.rev.slice(row.rev.indexOf('-') + 1),
    parent: row.parent,
    deleted: row.node_deleted,
    hasBody: row.has_body,
    leaf: row.leaf,
  };
}

export function toResolution(row: ResolutionRow): StoredResolution {
  const entry = JSON.parse(row.entry) as Omit<StoredResolution, 'docId' | 'seq'>;
  return { docId: idText(row.doc), ...entry, seq: row.seq };
}

export function attsJson(attachments: Record<string, unknown> | undefined): string | null {
  return attachments && Object.keys(attachments).length > 0 ? JSON.stringify(attachments) : null;
}
