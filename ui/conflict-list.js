// The conflicted documents of one database, a page at a time.
import * as api from './api.js';
import { crumbs, h, plural, route } from './dom.js';

const PAGE_SIZE = 50;

/** Shows the first page; the page buttons show the others without leaving the view. */
export async function conflictListView(app, ticket, db) {
  // The start of every page seen so far, so "Previous" can go back without a reverse listing.
  const starts = [undefined];
  const showPage = async (index) => {
    try {
      const page = await api.conflicts(db, { startkey: starts[index], limit: PAGE_SIZE + 1 });
      // One row more than shown: its id is where the next page starts.
      const next = page.rows[PAGE_SIZE];
      if (next) starts[index + 1] = next.id;
      const rows = page.rows.slice(0, PAGE_SIZE);
      app.show(ticket, ...content(db, page.total_rows, rows, { index, hasNext: Boolean(next), showPage }));
    } catch (error) {
      app.fail(ticket, error);
    }
  };
  await showPage(0);
}

function content(db, total, rows, paging) {
  return [
    crumbs(db),
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, db),
      h(
        'a',
        { class: 'button button-small', href: route('db', db, 'security'), id: 'security-link' },
        'Security',
      ),
    ),
    h('p', { class: 'lead' }, summary(db, total)),
    rows.length === 0 ? null : table(db, rows),
    pager(total, rows.length, paging),
  ];
}

function summary(db, total) {
  if (total === 0) return `No conflicts here: every document in “${db}” has a single version.`;
  const which = total === 1 ? '1 document has' : `${total} documents have`;
  return `${which} versions that disagree. Open one to decide what to keep.`;
}

function table(db, rows) {
  return h(
    'table',
    { class: 'list-table', id: 'conflict-list' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Document'), h('th', {}, 'Versions'), h('th', {}))),
    h(
      'tbody',
      {},
      rows.map((row) => {
        const link = route('db', db, 'doc', row.id);
        return h(
          'tr',
          { 'data-id': row.id },
          h('td', {}, h('a', { href: link, class: 'doc-link' }, row.id)),
          h('td', {}, plural(row.conflicts.length + 1, 'version')),
          h('td', { class: 'cell-action' }, h('a', { href: link, class: 'button button-small' }, 'Review')),
        );
      }),
    ),
  );
}

function pager(total, shown, { index, hasNext, showPage }) {
  if (index === 0 && !hasNext) return null;
  const first = index * PAGE_SIZE + 1;
  const previous = h(
    'button',
    { type: 'button', class: 'button', disabled: index === 0, on: { click: () => showPage(index - 1) } },
    '← Previous',
  );
  const next = h(
    'button',
    { type: 'button', class: 'button', disabled: !hasNext, on: { click: () => showPage(index + 1) } },
    'Next →',
  );
  const range = h('span', { class: 'muted' }, `Showing ${first}–${first + shown - 1} of ${total}`);
  return h('div', { class: 'pager' }, previous, range, next);
}
