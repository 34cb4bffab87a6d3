/**
 * The ledger: every sale of every till, newest first. Nothing here is ever edited — giving a
 * sale back records a correction that names it, and puts its items back in stock.
 */
import { fill, h, timeOf } from './dom.js';
import { correctSale, type Entry, listCorrections, listSales, money } from './model.js';
import type { Session, View } from './session.js';

export function salesView(session: Session): View {
  const summary = h('p', { id: 'sales-summary' });
  const body = h('tbody');
  const element = h(
    'section',
    { class: 'sales' },
    h('h2', {}, 'Sales'),
    summary,
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...['Time', 'Till', 'Items', 'Total', ''].map((text) => h('th', {}, text)))),
      body,
    ),
  );

  function row(sale: Entry, correction: Entry | undefined): HTMLTableRowElement {
    const items = sale.lines.map((line) => `${line.qty} × ${line.name}`).join(', ');
    const action = correction
      ? h('span', { class: 'given-back' }, `Given back by ${correction.till}`)
      : h('button', { onclick: () => void giveBack(sale) }, 'Give back');
    return h(
      'tr',
      { 'data-id': sale._id, 'data-till': sale.till, class: correction ? 'corrected' : null },
      h('td', {}, timeOf(sale.at)),
      h('td', {}, sale.till),
      h('td', {}, items),
      h('td', { class: 'amount' }, money(sale.total)),
      h('td', {}, action),
    );
  }

  async function giveBack(sale: Entry): Promise<void> {
    await correctSale(session.db, session.till, sale, 'Given back at the till');
  }

  async function refresh(): Promise<void> {
    const [sales, corrections] = await Promise.all([listSales(session.db), listCorrections(session.db)]);
    const correctionOf = new Map(corrections.map((correction) => [correction.sale, correction]));
    const kept = sales.filter((sale) => !correctionOf.has(sale._id));
    const takings = kept.reduce((total, sale) => total + sale.total, 0);
    summary.textContent = `${sales.length} sales, ${corrections.length} given back · takings ${money(takings)}`;
    fill(body, ...sales.map((sale) => row(sale, correctionOf.get(sale._id))));
  }

  return { element, refresh };
}
