/**
 * Sets up a shop on a running `settee serve`, as its admin: the `shop` database, readable and
 * writable by the tills only, its rules (a validate_doc_update keeping sales append-only), its
 * automatic conflict resolution, a user per till, and the products. Run it again at any time:
 * what exists is updated, products already there are left as the tills made them.
 *
 *   npx tsx examples/pos/setup.ts --server http://127.0.0.1:5984 --admin admin:secret --tills 2
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
// The conflict helpers are pure; in an app of your own: `import { conflicts } from 'settee'`.
import * as conflicts from '../../src/conflicts/index.js';
import {
  DESIGN_DOC_ID,
  PRODUCT_SCHEMA,
  SEED_PRODUCTS,
  SHOP_DB,
  STOCKROOM,
  TILL_ROLE,
  VALIDATE_DOC_UPDATE,
} from './src/catalog.js';

export interface Credentials {
  name: string;
  password: string;
}

export interface ShopSetup {
  /** The server's URL, e.g. `http://127.0.0.1:5984`. */
  server: string;
  /** A server admin. */
  admin: Credentials;
  /** The tills' users: created, or given this password and the till role again. */
  tills: Credentials[];
}

/** Sets the shop up on the server (see the file's comment); throws the server's error if one fails. */
export async function setUpShop(setup: ShopSetup): Promise<void> {
  const call = adminClient(setup);
  await call('PUT', `/${SHOP_DB}`, undefined, [201, 412]);
  await call('PUT', `/${SHOP_DB}/_security`, {
    admins: { names: [], roles: [] },
    members: { names: [], roles: [TILL_ROLE] },
  });
  await upsert(call, `/${SHOP_DB}/${DESIGN_DOC_ID}`, { validate_doc_update: VALIDATE_DOC_UPDATE });
  // The same schema the tills give their own databases: every replica writes the same merge.
  await call('PUT', `/${SHOP_DB}/_resolver`, { strategy: 'crdt', options: { schema: PRODUCT_SCHEMA } });
  for (const till of setup.tills) {
    await upsert(call, `/_users/org.couchdb.user:${encodeURIComponent(till.name)}`, {
      type: 'user',
      name: till.name,
      roles: [TILL_ROLE],
      password: till.password,
    });
  }
  // New documents only: a product that exists answers `conflict` and stays as it is.
  await call('POST', `/${SHOP_DB}/_bulk_docs`, { docs: seedProducts() }, [201]);
}

type Call = (
  method: string,
  path: string,
  body?: unknown,
  expected?: number[],
) => Promise<Record<string, unknown>>;

function adminClient({ server, admin }: ShopSetup): Call {
  const authorization = `Basic ${Buffer.from(`${admin.name}:${admin.password}`).toString('base64')}`;
  return async (method, path, body, expected = [200, 201]) => {
    const response = await fetch(`${server.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = (await response.json()) as Record<string, unknown>;
    if (!expected.includes(response.status)) {
      throw new Error(`${method} ${path}: ${response.status} ${answer.error}: ${answer.reason}`);
    }
    return answer;
  };
}

/** Writes `fields` as the document at `path`, over its current revision when it exists. */
async function upsert(call: Call, path: string, fields: Record<string, unknown>): Promise<void> {
  const current = await call('GET', path, undefined, [200, 404]);
  await call('PUT', path, { ...fields, ...(typeof current._rev === 'string' ? { _rev: current._rev } : {}) });
}

/** The products, their fields stamped by the setup's clock, their stock counted in the stockroom's slot. */
function seedProducts(): Record<string, unknown>[] {
  const clock = new conflicts.HybridClock('setup');
  const { LwwRegister, PNCounter } = conflicts;
  return SEED_PRODUCTS.map((product) => ({
    _id: `product:${product.sku}`,
    type: 'product',
    sku: product.sku,
    name: LwwRegister.of(product.name, clock.tick()),
    price: LwwRegister.of(product.price, clock.tick()),
    category: LwwRegister.of(product.category, clock.tick()),
    stock: PNCounter.increment(PNCounter.empty(), STOCKROOM, product.stock),
  }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string', default: 'http://127.0.0.1:5984' },
      admin: { type: 'string', default: process.env.SETTEE_ADMIN },
      tills: { type: 'string', default: '2' },
      password: { type: 'string' },
    },
  });
  const [name, ...rest] = (values.admin ?? '').split(':');
  if (!name || rest.length === 0)
    throw new Error('--admin name:password (or SETTEE_ADMIN) names a server admin');
  const tills = Array.from({ length: Number(values.tills) }, (_, i) => ({
    name: `till-${i + 1}`,
    password: values.password ?? randomBytes(9).toString('base64url'),
  }));
  await setUpShop({ server: values.server, admin: { name, password: rest.join(':') }, tills });
  console.log(`The shop is ready on ${values.server}/${SHOP_DB}. Each till logs in with its own user:`);
  for (const till of tills) console.log(`  ${till.name}  password: ${till.password}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
