/**
 * The till's data, over its local Settee database: products whose fields merge on their own,
 * and a ledger of sales and corrections, each its own document that is never edited.
 */
import { conflicts, Database, type NewDoc, SetteeError } from 'settee/browser';
import { type EditableField, PRODUCT_SCHEMA } from './catalog.js';

type Register<T> = conflicts.LwwRegister<T>;

export type Product = {
  _id: string;
  _rev: string;
  type: 'product';
  sku: string;
  name: Register<string>;
  /** In cents. */
  price: Register<number>;
  category: Register<string>;
  stock: conflicts.PNCounter;
};

export type Line = {
  product: string;
  name: string;
  /** In cents, as sold. */
  price: number;
  qty: number;
};

/** A sale, or a correction (the items of a sale given back): a ledger entry, written once. */
export type Entry = {
  _id: string;
  type: 'sale' | 'correction';
  till: string;
  at: string;
  lines: Line[];
  total: number;
  /** A correction: the sale it corrects. */
  sale?: string;
  reason?: string;
};

/** Who writes: the till's name (its clock's node and its counter slot) and its clock. */
export interface Till {
  name: string;
  clock: conflicts.StampClock;
}

/** The local database of a till, resolving conflicts as the server does (see PRODUCT_SCHEMA). */
export function openTillDatabase(till: string): Promise<Database> {
  return Database.open(`pos-${till}`, {
    stamping: { node: till },
    resolver: conflicts.crdtMerge(PRODUCT_SCHEMA),
    history: true,
  });
}

/** Documents whose id starts with `prefix`, in id order (or newest first). */
async function byPrefix<T>(db: Database, prefix: string, descending = false): Promise<T[]> {
  const [low, high] = [prefix, `${prefix}\ufff0`];
  const { rows } = await db.allDocs({
    startkey: descending ? high : low,
    endkey: descending ? low : high,
    descending,
    include_docs: true,
  });
  return rows.flatMap((row) => (row.doc ? [row.doc as unknown as T] : []));
}

export const listProducts = (db: Database) => byPrefix<Product>(db, 'product:');
export const listSales = (db: Database) => byPrefix<Entry>(db, 'sale:', true);
export const listCorrections = (db: Database) => byPrefix<Entry>(db, 'correction:', true);

export const stockOf = (product: Product): number => conflicts.PNCounter.value(product.stock);

/**
 * Writes `build()`'s documents in one atomic batch, building them again when a sync changed one
 * of them in the meantime (a `conflict`): a product read before the sync is edited as it is now.
 */
async function writeFresh(db: Database, build: () => Promise<NewDoc[]>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.bulkDocs(await build(), { atomic: true });
      return;
    } catch (error) {
      if (!(error instanceof SetteeError && error.error === 'conflict') || attempt === 5) throw error;
    }
  }
}

/** The products of `lines` with the till's stock slot moved by each line's quantity times `sign`. */
async function stockMoved(
  db: Database,
  till: Till,
  lines: readonly Line[],
  sign: 1 | -1,
): Promise<Product[]> {
  const moved = new Map<string, Product>();
  for (const line of lines) {
    const product = moved.get(line.product) ?? ((await db.get(line.product)) as unknown as Product);
    const stock = conflicts.PNCounter.increment(product.stock, till.name, sign * line.qty);
    moved.set(line.product, { ...product, stock });
  }
  return [...moved.values()];
}

/** A ledger entry's id: its kind and a clock stamp, unique across tills and in time order. */
const entryId = (type: Entry['type'], till: Till) => `${type}:${till.clock.tick()}`;

/** Records a sale and takes its items out of stock, in one write. */
export async function recordSale(db: Database, till: Till, lines: Line[]): Promise<Entry> {
  const sale: Entry = {
    _id: entryId('sale', till),
    type: 'sale',
    till: till.name,
    at: new Date().toISOString(),
    lines,
    total: totalOf(lines),
  };
  await writeFresh(db, async () => [sale, ...(await stockMoved(db, till, lines, -1))]);
  return sale;
}

/** Gives a sale's items back: a new correction naming the sale, the items back in stock. */
export async function correctSale(db: Database, till: Till, sale: Entry, reason: string): Promise<Entry> {
  const correction: Entry = {
    _id: entryId('correction', till),
    type: 'correction',
    till: till.name,
    at: new Date().toISOString(),
    sale: sale._id,
    reason,
    lines: sale.lines,
    total: sale.total,
  };
  await writeFresh(db, async () => [correction, ...(await stockMoved(db, till, sale.lines, 1))]);
  return correction;
}

/** Adds delivered items to the stock, in this till's slot. */
export async function restock(db: Database, till: Till, product: string, qty: number): Promise<void> {
  const line: Line = { product, name: '', price: 0, qty };
  await writeFresh(db, () => stockMoved(db, till, [line], 1));
}

/**
 * Edits fields of a product, each stamped by the till's clock: a field another till changed
 * concurrently ends as the later of the two edits, the other fields as each till left them.
 */
export async function editProduct(
  db: Database,
  till: Till,
  id: string,
  changes: Partial<Record<EditableField, string | number>>,
): Promise<void> {
  await writeFresh(db, async () => {
    const product = (await db.get(id)) as unknown as Product;
    const edited: Record<string, unknown> = { ...product };
    for (const [field, value] of Object.entries(changes)) {
      const held = product[field as EditableField];
      if (held.value === value) continue;
      observe(till.clock, held.stamp);
      edited[field] = conflicts.LwwRegister.of(value, till.clock.tick());
    }
    return [edited as NewDoc];
  });
}

/**
 * Lets the clock see a stamp, so that the next edit is later than the version it edits whatever
 * this device's wall clock says. A stamp far in the future is not adopted (`ClockDriftError`):
 * one broken clock must not drag every till's stamps along.
 */
function observe(clock: conflicts.StampClock, stamp: string): void {
  try {
    clock.receive(stamp);
  } catch (error) {
    if (!(error instanceof conflicts.ClockDriftError)) throw error;
  }
}

export const totalOf = (lines: readonly Line[]): number =>
  lines.reduce((total, line) => total + line.qty * line.price, 0);

/** Cents as money, in the page's language. */
export function money(cents: number): string {
  return (cents / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
