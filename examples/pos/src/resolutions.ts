/**
 * What the automatic resolution decided: for each product two tills changed at once, the
 * versions it discarded beside the version every replica now holds. Resolutions are recorded
 * where they were written — on the server, or on a till that met the conflict first — so the page
 * shows the server's history and this till's own; the server's web page has the whole history.
 */
import { EDITABLE_FIELDS, SHOP_DB } from './catalog.js';
import { fill, h, timeOf } from './dom.js';
import { pageFetch } from 'settee/browser';
import { money, type Product, stockOf } from './model.js';
import type { Session, View } from './session.js';

/** Requests that carry the till's cookie session to the server. */
const withSession = pageFetch('include');

/** One resolution, from the server's history or this till's. */
interface Decision {
  id: string;
  at: string;
  by: string;
  /** The revision it wrote. */
  rev: string;
  /** The versions whose content it discarded. */
  losers: Record<string, unknown>[];
  where: 'the server' | 'this till';
}

interface ServerRow {
  id: string;
  at: string;
  by: string;
  rev: string;
  losers: Record<string, unknown>[];
}

export function resolutionsView(session: Session): View {
  const open = h('p', { id: 'open-conflicts' });
  const list = h('div', { class: 'resolutions' });
  const note = h('p', { class: 'note' });
  // Busy while it reads: the server's history comes over the network.
  const element = h(
    'section',
    { 'aria-busy': 'true' },
    h('h2', {}, 'Resolved automatically'),
    open,
    note,
    h(
      'p',
      {},
      h(
        'a',
        { id: 'server-history', href: `${session.server}/_ui/#/db/${SHOP_DB}/history`, target: '_blank' },
        "The whole history, in the server's web page",
      ),
    ),
    list,
  );

  async function serverDecisions(): Promise<Decision[]> {
    const url = `${session.server}/${SHOP_DB}/_resolutions?descending=true&limit=20`;
    const response = await withSession(url, { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const { rows } = (await response.json()) as { rows: ServerRow[] };
    return rows.map((row) => ({ ...row, where: 'the server' }));
  }

  async function tillDecisions(): Promise<Decision[]> {
    const { rows } = await session.db.resolutions({ descending: true, limit: 20 });
    return rows.map((row) => ({
      id: row.docId,
      at: row.at,
      by: row.by,
      rev: row.rev,
      losers: row.losers.map((loser) => JSON.parse(loser.body) as Record<string, unknown>),
      where: 'this till',
    }));
  }

  async function decision(entry: Decision): Promise<HTMLElement> {
    // The revision every replica holds once synced; not here yet if the sync has not brought it.
    const now = (await session.db.get(entry.id, { rev: entry.rev }).catch(() => undefined)) as
      Product | undefined;
    return h(
      'article',
      { class: 'resolution', 'data-doc': entry.id, 'data-rev': entry.rev },
      h('h3', {}, now?.name?.value ?? entry.id),
      h(
        'p',
        {},
        `${timeOf(entry.at)} · ${entry.by.replace(/^resolver:/, 'the automatic ')} resolver, on ${entry.where}`,
      ),
      h('p', { class: 'kept' }, 'Now: ', now ? describe(now) : 'not synced to this till yet'),
      ...entry.losers.map((loser) => h('p', { class: 'discarded' }, 'Replaced: ', describe(loser))),
    );
  }

  async function refresh(): Promise<void> {
    element.setAttribute('aria-busy', 'true');
    const conflicted = await session.db.conflictCount();
    open.textContent =
      conflicted === 0
        ? 'No conflict is open on this till.'
        : `${conflicted} conflicts are open on this till.`;
    let server: Decision[] = [];
    try {
      server = await serverDecisions();
      note.textContent = '';
    } catch (error) {
      note.textContent = `The server's history cannot be read now (${(error as Error).message}): this till's is shown.`;
    }
    const all = [...server, ...(await tillDecisions())].sort((a, b) => (a.at < b.at ? 1 : -1));
    fill(list, ...(await Promise.all(all.map(decision))));
    element.setAttribute('aria-busy', 'false');
  }

  return { element, refresh };
}

/** A product version in a line: its fields and stock count. */
function describe(body: Record<string, unknown>): string {
  const product = body as Partial<Product>;
  const fields = EDITABLE_FIELDS.flatMap((field) => {
    const value = product[field]?.value;
    if (value === undefined) return [];
    return [`${field} ${field === 'price' ? money(value as number) : String(value)}`];
  });
  if (product.stock) fields.push(`stock ${stockOf(product as Product)}`);
  return fields.join(', ') || '(deleted)';
}
