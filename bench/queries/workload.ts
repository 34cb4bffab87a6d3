/**
 * What the queries benchmark asks, the same for every contender: the shared data set with its
 * `type` spread over a few kinds, the Mango queries (with and without an index), and the
 * constants of each repetition, drawn from one seeded sequence so every contender sees the same.
 */
import { type Body, Dataset, prng } from '../lib.js';

/** Kinds of documents, as an app would keep sales, jobs and stock in one database. */
export const TYPES = ['sale', 'order', 'job', 'stock', 'invoice', 'refund', 'customer'] as const;

/**
 * The shared data set, with `type` cycling through TYPES instead of one value for all, so an
 * equality on `type` selects a seventh of the documents and the constants can vary. 7 and the
 * 1,000 prices are coprime: every (type, price) pair holds about N / 7,000 documents.
 */
export class QueryDataset extends Dataset {
  override body(i: number): Body {
    return { ...super.body(i), type: TYPES[i % TYPES.length]! };
  }
}

/** The constants of one repetition of a query. */
export interface Constants {
  type: string;
  /** `price` range [low, high): prices are tenths from 0 to 99.9. */
  low: number;
  high: number;
  /** A `title` that one document has (the query without an index finds it by a full scan). */
  title: string;
}

/** Width of the price range of the range query: 20 prices, ~0.3% of the documents. */
const PRICE_WIDTH = 2;

/** An endless, seeded sequence of constants: a fresh one gives every contender the same queries. */
export function constantsSequence(size: number, seed = 13): () => Constants {
  const random = prng(seed);
  return () => {
    const low = Math.floor(random() * (1000 - PRICE_WIDTH * 10)) / 10;
    return {
      type: TYPES[Math.floor(random() * TYPES.length)]!,
      low,
      high: Math.round((low + PRICE_WIDTH) * 10) / 10,
      title: `Item number ${Math.floor(random() * size)}`,
    };
  };
}

/** A `_find` body, as Settee, PouchDB and both servers take it. */
export interface FindBody {
  selector: Record<string, unknown>;
  sort?: string[];
  limit: number;
}

export type CaseName = 'eq25' | 'eq1000' | 'range' | 'scan';

/** One query of the benchmark: its Mango form, the index serving it, and its raw SQL form. */
export interface QueryCase {
  name: CaseName;
  /** The report's operation label. */
  label: string;
  /** The JSON index's fields, or null for the query no index serves. */
  index: string[] | null;
  find(c: Constants): FindBody;
  /** The same question in SQL on the raw ceiling's tables (bench/queries/raw.ts). */
  sql: string;
  sqlParams(c: Constants): Record<string, string | number>;
}

// Mango's default limit is 25 (CouchDB src/mango/src/mango_opts.erl, default_limit/0): every
// query below says its limit, so no contender's default decides how many documents come back.
const equality = (limit: number): QueryCase => ({
  name: limit === 25 ? 'eq25' : 'eq1000',
  label: `equality {type}, index [type], limit ${limit}`,
  index: ['type'],
  find: (c) => ({ selector: { type: c.type }, limit }),
  sql:
    'SELECT d.id, d.body FROM by_type i JOIN docs d ON d.id = i.id ' +
    `WHERE i.type = $type ORDER BY i.type, i.id LIMIT ${limit}`,
  sqlParams: (c) => ({ type: c.type }),
});

export const CASES: readonly QueryCase[] = [
  equality(25),
  equality(1000),
  {
    name: 'range',
    label: `range {type, price ∈ [a, a+${PRICE_WIDTH})}, sort [type, price], index [type, price]`,
    index: ['type', 'price'],
    find: (c) => ({
      selector: { type: c.type, price: { $gte: c.low, $lt: c.high } },
      sort: ['type', 'price'],
      limit: 1000,
    }),
    sql:
      'SELECT d.id, d.body FROM by_type_price i JOIN docs d ON d.id = i.id ' +
      'WHERE i.type = $type AND i.price >= $low AND i.price < $high ORDER BY i.type, i.price, i.id LIMIT 1000',
    sqlParams: (c) => ({ type: c.type, low: c.low, high: c.high }),
  },
  {
    name: 'scan',
    label: 'no index: {title} (a full scan, one match), limit 25',
    index: null,
    find: (c) => ({ selector: { title: c.title }, limit: 25 }),
    sql: "SELECT id, body FROM docs WHERE json_extract(body, '$.title') = $title LIMIT 25",
    sqlParams: (c) => ({ title: c.title }),
  },
];

export const INDEXED_CASES = CASES.filter((c) => c.index !== null);

/** The distinct indexes the cases use, named after their fields. */
export const INDEXES: readonly { name: string; fields: string[] }[] = [
  { name: 'by_type', fields: ['type'] },
  { name: 'by_type_price', fields: ['type', 'price'] },
];

/** A contender's answer to one query: the ids of the documents it returned, in order. */
export type Runner = (c: Constants) => Promise<string[]> | string[];
