import type { Doc, NewDoc, WriteResult } from '../../core/api.js';
import type { DesignRunner } from '../../design/runner.js';
import type { ScannedDoc, Storage } from '../../storage/types.js';

/** A scanned winner with its content. */
export type ScannedWithContent = ScannedDoc & { content: NonNullable<ScannedDoc['content']> };

/** What queries (Mango and views) need of their database. */
export interface QueryHost {
  readonly name: string;
  readonly storage: Storage;
  /** The database's update sequence now. */
  updateSeq(): number;
  /** A scanned winner as a query shows it (with `_conflicts` when asked). */
  toDoc(scanned: ScannedWithContent, options?: { conflicts?: boolean }): Doc;
  /** The design documents (winning, not deleted), with their bodies. */
  designDocs(): Promise<readonly Doc[]>;
  /** Where map, reduce and filter functions run. */
  design(): DesignRunner;
  /** Writes documents as `Database.bulkDocs` does (design documents of Mango indexes). */
  bulkDocs(docs: NewDoc[]): Promise<WriteResult[]>;
}
