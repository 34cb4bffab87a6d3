import type { AllDocsOptions, AllDocsRow, LocalDoc, WriteOk } from '../core/api.js';
import { isLocalId, type ParsedDoc } from '../core/document.js';
import { badRequest, notFound } from '../core/errors.js';
import { readLocal } from '../storage/derived.js';
import type { LocalRecord, ScannedLocal, Storage } from '../storage/types.js';
import { idRange, listedKeys, skipAndLimit } from './all-docs.js';

const LOCAL_REV = /^0-(\d{1,15})$/;

/**
 * `_local/` documents: never replicated, absent from changes and `_all_docs`, no history. As in
 * CouchDB 3 a write does no conflict check — the new revision is the supplied `0-N` plus one —
 * because replicators crash on a checkpoint 409.
 */
export class LocalDocs {
  constructor(private readonly storage: Storage) {}

  async get(id: string): Promise<LocalDoc | undefined> {
    const record = await readLocal(this.storage, id);
    return record && localDoc(id, record);
  }

  /**
   * `_local_docs` rows, as `_all_docs` lists documents: by `keys` (in the order given, missing
   * ones reported) or by id range, read from storage a page at a time.
   */
  rows(options: AllDocsOptions): AsyncIterable<AllDocsRow> {
    const keys = listedKeys(options);
    const rows = keys ? this.rowsByKeys(keys, options.include_docs) : this.rowsByRange(options);
    return skipAndLimit(rows, options);
  }

  private async *rowsByKeys(keys: string[], includeDocs: boolean | undefined): AsyncIterable<AllDocsRow> {
    for (const key of keys) {
      // A key outside `_local/` names a document, not a local one: not found in this listing.
      const record = isLocalId(key) ? await readLocal(this.storage, key) : undefined;
      yield record ? localRow({ id: key, ...record }, includeDocs) : { key, error: 'not_found' };
    }
  }

  private async *rowsByRange(options: AllDocsOptions): AsyncIterable<AllDocsRow> {
    const range = idRange(options);
    if (!range) return;
    const scan = this.storage.localDocs({ ...range, withBody: options.include_docs });
    for await (const page of scan) {
      for (const scanned of page) yield localRow(scanned, options.include_docs);
    }
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
      if (!(await readLocal(this.storage, doc.id))) throw notFound('missing');
      return {
        result: { ok: true, id: doc.id, rev: '0-0' },
        write: () => this.storage.putLocal(doc.id, null),
      };
    }
    // A local document has a body only: CouchDB 3.5 accepts `_attachments` in a write and keeps
    // the document without them (as seen in issue 11), and so do we.
    const next = localRevNumber(doc.rev) + 1;
    const record = { rev: next, body: JSON.stringify(doc.body) };
    return {
      result: { ok: true, id: doc.id, rev: `0-${next}` },
      write: () => this.storage.putLocal(doc.id, record),
    };
  }
}

function localDoc(id: string, record: LocalRecord): LocalDoc {
  return { _id: id, _rev: `0-${record.rev}`, ...(JSON.parse(record.body) as Record<string, unknown>) };
}

/** A listing's row; with `includeDocs`, `scanned` was read with its body. */
function localRow(scanned: ScannedLocal, includeDocs: boolean | undefined): AllDocsRow {
  const row: AllDocsRow = { id: scanned.id, key: scanned.id, value: { rev: `0-${scanned.rev}` } };
  if (includeDocs) row.doc = localDoc(scanned.id, { rev: scanned.rev, body: scanned.body ?? '{}' });
  return row;
}

function localRevNumber(rev: string | undefined): number {
  if (rev === undefined) return 0;
  const match = LOCAL_REV.exec(rev);
  if (!match) throw badRequest('Invalid rev format');
  return Number(match[1]);
}
