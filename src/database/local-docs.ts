import type { LocalDoc, WriteOk } from '../core/api.js';
import type { ParsedDoc } from '../core/document.js';
import { badRequest, notFound } from '../core/errors.js';
import type { Storage } from '../storage/types.js';

const LOCAL_REV = /^0-(\d{1,15})$/;

/**
 * `_local/` documents: never replicated, absent from changes and `_all_docs`, no history. As in
 * CouchDB 3 a write does no conflict check — the new revision is the supplied `0-N` plus one —
 * because replicators crash on a checkpoint 409.
 */
export class LocalDocs {
  constructor(private readonly storage: Storage) {}

  async get(id: string): Promise<LocalDoc | undefined> {
    const record = await this.storage.getLocal(id);
    if (!record) return undefined;
    return { _id: id, _rev: `0-${record.rev}`, ...(JSON.parse(record.body) as Record<string, unknown>) };
  }

  async put(doc: ParsedDoc & { id: string }): Promise<WriteOk> {
    if (doc.deleted) return this.remove(doc.id);
    if (doc.attachments) throw badRequest('Local documents cannot have attachments');
    const next = localRevNumber(doc.rev) + 1;
    await this.storage.putLocal(doc.id, { rev: next, body: JSON.stringify(doc.body) });
    return { ok: true, id: doc.id, rev: `0-${next}` };
  }

  async remove(id: string): Promise<WriteOk> {
    if (!(await this.storage.getLocal(id))) throw notFound('missing');
    await this.storage.putLocal(id, null);
    return { ok: true, id, rev: '0-0' };
  }
}

function localRevNumber(rev: string | undefined): number {
  if (rev === undefined) return 0;
  const match = LOCAL_REV.exec(rev);
  if (!match) throw badRequest('Invalid rev format');
  return Number(match[1]);
}
