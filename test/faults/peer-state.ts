/**
 * The full replicated state of any Peer (a local Database or a RemoteDatabase on Settee,
 * pouchdb-server or CouchDB), to compare two copies: every document, deleted ones included,
 * with its winner, conflicts, and every leaf with its body, ancestry and attachment bytes.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AllDocsOptions, AllDocsResponse, Doc, NewDoc, Peer, Seq } from '../../src/core/api.js';

/** A Peer that also lists documents (Database and RemoteDatabase both do). */
export type ReadablePeer = Peer & { allDocs(options: AllDocsOptions): Promise<AllDocsResponse> };

export interface LeafState {
  rev: string;
  deleted: boolean;
  revisions: { start: number; ids: string[] } | undefined;
  body: Record<string, unknown>;
  /** name → content type and the bytes as base64 (decoded and re-encoded: the bytes, not a digest). */
  attachments: Record<string, { content_type: string; bytes: string }>;
}

export interface DocState {
  winner: string;
  deleted: boolean;
  conflicts: string[];
  leaves: LeafState[];
}

/**
 * Reads every document of `peer`: its leaves from `changes(style=all_docs)`, each leaf's body,
 * `_revisions` and attachment data from `bulkGet(revs, attachments)`, and winners and conflicts
 * from `allDocs(keys, include_docs, conflicts)`.
 */
export async function peerState(peer: ReadablePeer): Promise<Map<string, DocState>> {
  const leafRevs = new Map<string, string[]>();
  let since: Seq = 0;
  for (;;) {
    const page = await peer.changes({ since, limit: 1000, style: 'all_docs' });
    if (page.results.length === 0) break;
    for (const row of page.results)
      leafRevs.set(
        row.id,
        row.changes.map((change) => change.rev),
      );
    since = page.last_seq;
  }
  const ids = [...leafRevs.keys()].sort();
  const states = new Map<string, DocState>();
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    const { rows } = await peer.allDocs({ keys: chunk, include_docs: true, conflicts: true });
    const wanted = chunk.flatMap((id) => leafRevs.get(id)!.map((rev) => ({ id, rev })));
    const { results } = await peer.bulkGet({ docs: wanted }, { revs: true, attachments: true });
    const leaves = new Map<string, LeafState[]>();
    for (const [j, result] of results.entries()) {
      const found = result.docs[0];
      if (!found || !('ok' in found)) {
        throw new Error(`bulkGet of ${wanted[j]!.id}@${wanted[j]!.rev}: ${JSON.stringify(found)}`);
      }
      const list = leaves.get(found.ok._id) ?? [];
      list.push(leafState(found.ok));
      leaves.set(found.ok._id, list);
    }
    for (const row of rows) {
      if (!row.value) throw new Error(`allDocs has no row for ${row.key}`);
      states.set(row.key, {
        winner: row.value.rev,
        deleted: row.value.deleted === true,
        conflicts: [...(row.doc?._conflicts ?? [])].sort(compareRevs),
        leaves: (leaves.get(row.key) ?? []).sort((a, b) => compareRevs(a.rev, b.rev)),
      });
    }
  }
  return states;
}

function leafState(doc: Doc): LeafState {
  const { _id, _rev, _deleted, _revisions, _attachments, _conflicts, ...body } = doc;
  const attachments: LeafState['attachments'] = {};
  for (const [name, att] of Object.entries(_attachments ?? {})) {
    if (typeof att.data !== 'string') throw new Error(`${_id}@${_rev}/${name} came without data`);
    attachments[name] = {
      content_type: att.content_type,
      bytes: Buffer.from(att.data, 'base64').toString('base64'),
    };
  }
  return { rev: _rev, deleted: _deleted === true, revisions: _revisions, body, attachments };
}

export function compareRevs(a: string, b: string): number {
  const pa = Number.parseInt(a, 10);
  const pb = Number.parseInt(b, 10);
  return pa !== pb ? pa - pb : a < b ? -1 : a > b ? 1 : 0;
}

/** The differences between two states, one line each (at most `max`); empty when equal. */
export function diffPeerStates(
  a: Map<string, DocState>,
  b: Map<string, DocState>,
  names: [string, string] = ['source', 'target'],
  max = 20,
): string[] {
  const out: string[] = [];
  for (const id of a.keys()) if (!b.has(id)) out.push(`${id}: only in ${names[0]}`);
  for (const id of b.keys()) if (!a.has(id)) out.push(`${id}: only in ${names[1]}`);
  for (const [id, x] of a) {
    const y = b.get(id);
    if (y && !isDeepStrictEqual(x, y)) out.push(`${id}: ${JSON.stringify(x)} ≠ ${JSON.stringify(y)}`);
  }
  return out.slice(0, max);
}

/** Counts of a state: documents, deleted winners, leaves, conflicted documents, attachments. */
export function summarize(state: Map<string, DocState>) {
  let deleted = 0;
  let leaves = 0;
  let conflicted = 0;
  let attachments = 0;
  for (const doc of state.values()) {
    if (doc.deleted) deleted++;
    if (doc.conflicts.length > 0) conflicted++;
    leaves += doc.leaves.length;
    for (const leaf of doc.leaves) attachments += Object.keys(leaf.attachments).length;
  }
  return { docs: state.size, deleted, leaves, conflicted, attachments };
}

/** Deterministic bytes (xorshift), for binary attachments. */
export function pseudoBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A fake but well-formed revision hash (32 hex digits), deterministic in its inputs. */
function hash(...parts: (string | number)[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const ch of parts.join('|')) {
    h1 = Math.imul(h1 ^ ch.charCodeAt(0), 16777619) >>> 0;
    h2 = Math.imul(h2 ^ ch.charCodeAt(0), 2246822519) >>> 0;
  }
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return hex(h1) + hex(h2) + hex((h1 ^ h2) >>> 0) + hex(Math.imul(h1, h2) >>> 0);
}

/**
 * A deterministic data set of `count` documents with everything replication must carry, as
 * replicated writes (`new_edits: false`, explicit `_revisions`), so that any database it is
 * written to holds exactly the same revisions:
 * - every 7th document has two conflicting branches (one of them every 21st deleted);
 * - every 5th document is deleted (a tombstone on top of a history of 2–3 revisions);
 * - every 4th carries a small binary attachment, every 12th a text one too;
 * - the others have 1–3 revisions.
 */
export function fixtureDocs(count: number, prefix = 'doc'): NewDoc[] {
  const docs: NewDoc[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${String(i).padStart(4, '0')}`;
    const depth = i % 7 === 0 ? 2 + (i % 2) : 1 + (i % 3);
    const ids = Array.from({ length: depth }, (_, g) => hash(id, 'main', depth - g));
    const attachments: Record<string, unknown> = {};
    if (i % 4 === 0) {
      attachments['blob.bin'] = {
        content_type: 'application/octet-stream',
        data: pseudoBytes(64 + (i % 200), i + 1).toString('base64'),
      };
    }
    if (i % 12 === 0) {
      attachments['note.txt'] = {
        content_type: 'text/plain',
        data: Buffer.from(`note ${i} `.repeat(20)).toString('base64'),
      };
    }
    const main: NewDoc = {
      _id: id,
      _rev: `${depth}-${ids[0]}`,
      _revisions: { start: depth, ids },
      n: i,
      title: `document ${i}`,
      tags: [i % 2 === 0 ? 'even' : 'odd', `mod7-${i % 7}`],
      ...(Object.keys(attachments).length > 0 ? { _attachments: attachments } : {}),
    };
    if (i % 5 === 0 && i % 7 !== 0) {
      const tomb = hash(id, 'tomb');
      docs.push({
        _id: id,
        _rev: `${depth + 1}-${tomb}`,
        _revisions: { start: depth + 1, ids: [tomb, ...ids] },
        _deleted: true,
      });
      continue;
    }
    docs.push(main);
    if (i % 7 === 0) {
      // A second branch from the first revision: a conflict (deleted every 21st document).
      const branch = [hash(id, 'branch', 2), ids[depth - 1]!];
      docs.push({
        _id: id,
        _rev: `2-${branch[0]}`,
        _revisions: { start: 2, ids: branch },
        n: i,
        title: `branch of ${i}`,
        ...(i % 21 === 0 ? { _deleted: true } : {}),
      });
    }
  }
  return docs;
}
