/** Records of the IndexedDB stores, to and from the shapes of the Storage interface. */
import { utf8Length } from '../../core/utf8.js';
import { revGen } from '../../core/revision.js';
import type { StoredNode } from '../../core/rev-tree/diff.js';
import { isConflicted } from '../records.js';
import type { DocRecord, RevisionContent, ScannedDoc } from '../types.js';
import type { Attachments, DocRow, RevRow } from './schema.js';

/** Content as a record holds it: attachments null when there are none. */
export interface HeldContent {
  body: string | null;
  atts: Attachments | null;
}

/**
 * A document's record, holding its winner's node (`parent`: the winner's parent) and content,
 * with the fields that put it in the sparse and multi-entry indexes.
 */
export function docRow(
  key: string,
  record: Omit<DocRecord, 'seq'>,
  seq: number,
  content: HeldContent,
  parent: string | null,
): DocRow {
  const row: DocRow = {
    key,
    id: record.id,
    seq,
    winner: record.winner,
    deleted: record.deleted,
    parent,
    leaves: record.leaves.length === 1 ? null : record.leaves,
    body: content.body,
    atts: content.atts,
  };
  if (isConflicted(record)) row.conflicted = key;
  if (record.leaves.length > 1) row.branched = key;
  withDigests(row);
  return row;
}

/** A revision's record, flagged for compaction while it is a non-leaf holding content. */
export function revRow(fields: Omit<RevRow, 'purgeable' | 'digests'>): RevRow {
  const row: RevRow = {
    doc: fields.doc,
    rev: fields.rev,
    parent: fields.parent,
    deleted: fields.deleted,
    leaf: fields.leaf,
    body: fields.body,
    atts: fields.atts,
  };
  if (!row.leaf && (row.body !== null || row.atts !== null)) row.purgeable = 1;
  withDigests(row);
  return row;
}

function withDigests(row: { atts: Attachments | null; digests?: string[] }): void {
  if (row.atts) row.digests = [...new Set(Object.values(row.atts).map((meta) => meta.digest))];
}

export function attsOrNull(attachments: Attachments | undefined): Attachments | null {
  return attachments && Object.keys(attachments).length > 0 ? attachments : null;
}

export function toRecord(row: DocRow): DocRecord {
  return {
    id: row.id,
    seq: row.seq,
    winner: row.winner,
    deleted: row.deleted,
    leaves: row.leaves ?? [{ rev: row.winner, deleted: row.deleted }],
  };
}

/** A document as a scan reads it: with its winner's content when asked for and held. */
export function toScanned(row: DocRow, withContent: boolean | undefined): ScannedDoc {
  const scanned: ScannedDoc = toRecord(row);
  if (withContent && row.body !== null) scanned.content = toContent(row);
  return scanned;
}

export function toContent(held: { body: string | null; atts: Attachments | null }): RevisionContent {
  return { body: held.body ?? '', attachments: held.atts ?? undefined };
}

/** The winner's node as the document's record holds it (content: the record's). */
export function winnerRevRow(row: DocRow): RevRow {
  const { key: doc, winner: rev, deleted } = row;
  return { doc, rev, parent: row.parent ?? null, deleted, leaf: true, body: null, atts: null };
}

/** A tree node; the winner is always held (its content is the document's). */
export function toNode(row: RevRow, winner: string): StoredNode {
  return {
    rev: row.rev,
    gen: revGen(row.rev),
    hash: row.rev.slice(row.rev.indexOf('-') + 1),
    parent: row.parent,
    deleted: row.deleted,
    hasBody: row.body !== null || row.rev === winner,
    leaf: row.leaf,
  };
}

/** The bytes a record's content takes, as the counters add them up. */
export function contentBytes(held: HeldContent): number {
  return utf8Bytes(held.body) + (held.atts ? utf8Bytes(JSON.stringify(held.atts)) : 0);
}

function utf8Bytes(text: string | null): number {
  return text === null ? 0 : utf8Length(text);
}
