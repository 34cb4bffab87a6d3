import { badRequest } from '../core/errors.js';
import { ClockDriftError, HybridClock, isStamp } from '../conflicts/hlc.js';
import { DEFAULT_STAMP_FIELD } from '../conflicts/resolvers.js';
import { ownValue } from '../core/own.js';
import {
  type Body,
  DEFAULT_FIELDS_FIELD,
  readFieldStamps,
  stampDocument,
  stampFields,
} from '../conflicts/stamps.js';

/**
 * How a database stamps its interactive writes with a hybrid logical clock, for the resolvers
 * that compare stamps (`lastWriterWins`, `fieldMerge`, `crdtMerge`).
 */
export interface StampingOptions {
  /** This replica's clock id, unique among the replicas that share documents. Default: the database's uuid. */
  node?: string;
  /** The body field holding the document's stamp (`lastWriterWins`); `false` for none. Default `settee_hlc`. */
  field?: string | false;
  /** The body field holding per-field stamps (`fieldMerge`); `true` for `settee_fields`. Default: none. */
  fields?: string | boolean;
  /** The physical clock in ms since the epoch (default `Date.now`); for tests. */
  now?: () => number;
  /** The last stamp this replica issued before it was closed, so its clock never runs backwards. */
  last?: string;
}

/** The part of a write the stamper sees: its body and whether it deletes the document. */
export interface StampInput {
  body: Record<string, unknown>;
  deleted: boolean;
}

/**
 * Stamps interactive writes. Stamps go into ordinary body fields — part of the revision's content,
 * so revision ids stay deterministic — and never into replicated writes, which carry the stamps
 * their writer gave them.
 */
export class Stamper {
  readonly clock: HybridClock;
  readonly field: string | undefined;
  readonly fieldsField: string | undefined;

  constructor(options: StampingOptions & { node: string }) {
    this.field = fieldName(options.field, DEFAULT_STAMP_FIELD);
    this.fieldsField = fieldName(
      options.fields === true ? undefined : options.fields || false,
      DEFAULT_FIELDS_FIELD,
    );
    if (this.field !== undefined && this.field === this.fieldsField) {
      throw badRequest('The stamp field and the per-field stamp field must differ');
    }
    this.clock = new HybridClock(options.node, options.now, { last: options.last });
  }

  /**
   * The body to write: `write`'s body with a fresh stamp (greater than the one in `previous`, the
   * revision being edited, when it has one) and updated per-field stamps.
   */
  stamp(
    write: StampInput,
    previous: StampInput | null,
    others: readonly StampInput[] = [],
  ): Record<string, unknown> {
    this.observe(others);
    let next: Body = asBody(write);
    const before = previous ? asBody(previous) : null;
    if (this.fieldsField !== undefined)
      next = stampFields(before, next, this.clock, { field: this.fieldsField });
    if (this.field !== undefined)
      next = stampDocument(next, this.clock, { field: this.field, previous: before });
    const { _deleted, ...body } = next;
    return body;
  }

  /**
   * Lets the clock see the stamps of other versions of the document, so the next stamp is later
   * than all of them. A stamp too far in the future is not adopted (see `HybridClock.receive`).
   */
  private observe(versions: readonly StampInput[]): void {
    const stamps: string[] = [];
    for (const { body } of versions) {
      if (this.field !== undefined) stamps.push(...[ownValue(body, this.field)].filter(isStamp));
      if (this.fieldsField !== undefined)
        stamps.push(...Object.values(readFieldStamps(ownValue(body, this.fieldsField))));
    }
    for (const stamp of stamps.sort().reverse()) {
      try {
        this.clock.receive(stamp);
        return;
      } catch (error) {
        if (!(error instanceof ClockDriftError)) throw error;
      }
    }
  }
}

/** The stamping helpers read a deletion as `_deleted: true` in the body. */

function asBody({ body, deleted }: StampInput): Body {
  return deleted ? { ...body, _deleted: true } : body;
}

function fieldName(value: string | false | undefined, fallback: string): string | undefined {
  if (value === false) return undefined;
  const name = value ?? fallback;
  // `_` fields are CouchDB's: outside the revision hash's body, and refused in documents.
  if (typeof name !== 'string' || name.length === 0 || name.startsWith('_')) {
    throw badRequest(`A stamp field must be a non-empty name not starting with "_": ${String(name)}`);
  }
  return name;
}
