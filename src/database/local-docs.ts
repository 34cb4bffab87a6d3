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
    const planned = await this.plan(doc);
    await planned.write();
    return planned.result;
  }

  async remove(id: string): Promise<WriteOk> {
    return this.put({ id, rev: undefined, path: undefined, deleted: true, body: {}, attachments: undefined });
  }

  /** Validates a write and returns it to run later, so a failing batch can write nothing. */
  async plan(doc: ParsedDoc & { id: string }): Promise<{ result: WriteOk; write: () => Promise<void> }> {
    if (doc.deleted) {
      if (!(await this.storage.getLocal(doc.id))) throw notFound('missing');
      return {
        result: { ok: true, id: doc.id, rev: '0-0' },
        write: () => this.storage.putLocal(doc.id, null),
      };
    }
    if (doc.attachments) throw badRequest('Local documents cannot have attachments');
    const next = localRevNumber(doc.rev) + 1;
    const record = { rev: next, body: JSON.stringify(doc.body) };
    return {
      result: { ok: true, id: doc.id, rev: `0-${next}` },
      write: () => this.storage.putLocal(doc.id, record),
    };
  }
}

function localRevNumber(rev: string | undefined): number {
  if (rev === undefined) return 0;
  const match = LOCAL_REV.exec(rev);
  if (!match) throw badRequest('Invalid rev format');
  return Number(match[1]);
}
