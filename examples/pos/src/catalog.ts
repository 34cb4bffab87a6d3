/**
 * What the shop's server database and every till agree on: the database's name, the role of the
 * tills, how conflicts merge and what the server refuses. Plain data, so that the setup script
 * (Node) and the web app (the page) share it without either platform's code.
 */

/** The server database of the shop. */
export const SHOP_DB = 'shop';

/** The role every till user has; the database's members are the users with it. */
export const TILL_ROLE = 'till';

/**
 * How a product's concurrent versions merge, field by field, with no conflict left open:
 * `name`, `price` and `category` are last-writer-wins registers stamped by each till's hybrid
 * logical clock; `stock` is a PN-counter with one slot per till, so every till's sales count
 * whatever order the syncs come in. The server's `crdt` strategy and each till's `crdtMerge` get
 * this same schema, so both write the same merged revision.
 */
export const PRODUCT_SCHEMA = {
  name: 'register',
  price: 'register',
  category: 'register',
  stock: 'counter',
} as const;

/** The product fields a till may edit (each a register of {@link PRODUCT_SCHEMA}). */
export const EDITABLE_FIELDS = ['name', 'price', 'category'] as const;
export type EditableField = (typeof EDITABLE_FIELDS)[number];

/** The counter slot of the stock the setup script counts in. */
export const STOCKROOM = 'stockroom';

/** A product as the setup script seeds it; prices in cents. */
export interface SeedProduct {
  sku: string;
  name: string;
  price: number;
  category: string;
  stock: number;
}

export const SEED_PRODUCTS: readonly SeedProduct[] = [
  { sku: 'coffee', name: 'Coffee', price: 250, category: 'Drinks', stock: 40 },
  { sku: 'tea', name: 'Tea', price: 200, category: 'Drinks', stock: 40 },
  { sku: 'croissant', name: 'Croissant', price: 180, category: 'Bakery', stock: 24 },
  { sku: 'muffin', name: 'Blueberry muffin', price: 220, category: 'Bakery', stock: 18 },
];

/** The design document holding the shop's rules on the server. */
export const DESIGN_DOC_ID = '_design/pos';

/**
 * The server's `validate_doc_update`: sales and corrections are an append-only ledger
 * ("accountants don't use erasers") — once written, never changed nor deleted; a correction is a
 * new document naming the sale it corrects. A till records only its own sales, and a total must be
 * the sum of its lines. Replicated writes pass it too, so a till cannot slip an edit in by sync.
 */
export const VALIDATE_DOC_UPDATE = `function (newDoc, oldDoc, userCtx) {
  var ledger = { sale: true, correction: true };
  if (oldDoc && ledger[oldDoc.type]) {
    throw { forbidden: oldDoc._id + ' is in the ledger: record a correction instead of changing it' };
  }
  if (!ledger[newDoc.type]) return;
  if (newDoc._id.indexOf(newDoc.type + ':') !== 0) {
    throw { forbidden: 'The id of a ' + newDoc.type + ' starts with "' + newDoc.type + ':"' };
  }
  var isAdmin = userCtx.roles.indexOf('_admin') !== -1;
  if (!isAdmin && newDoc.till !== userCtx.name) {
    throw { forbidden: 'A till records its own ' + newDoc.type + 's: till must be ' + userCtx.name };
  }
  if (newDoc.type === 'correction' && (typeof newDoc.sale !== 'string' || newDoc.sale.indexOf('sale:') !== 0)) {
    throw { forbidden: 'A correction names the sale it corrects' };
  }
  if (!Array.isArray(newDoc.lines) || newDoc.lines.length === 0) {
    throw { forbidden: 'A ' + newDoc.type + ' needs at least one line' };
  }
  var total = 0;
  for (var i = 0; i < newDoc.lines.length; i++) {
    var line = newDoc.lines[i];
    var whole = function (n) { return typeof n === 'number' && Math.floor(n) === n && n >= 0; };
    if (!line || typeof line.product !== 'string' || !whole(line.qty) || line.qty === 0 || !whole(line.price)) {
      throw { forbidden: 'Line ' + (i + 1) + ' needs a product, a quantity above 0 and a price in cents' };
    }
    total += line.qty * line.price;
  }
  if (newDoc.total !== total) throw { forbidden: 'The total must be the sum of the lines: ' + total };
}`;
