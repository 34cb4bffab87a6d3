// A database's documents from `_all_docs`, a page at a time by key (never a growing skip), and
// found by the start of their id.
import * as api from './api.js';
import { crumbs, dbTabs, h, pager, plural, prefixSearch, route } from './dom.js';
import { idPages } from './paging.js';

const PAGE_SIZE = 50;

export async function documentsView(app, ticket, db) {
  const listing = idPages(PAGE_SIZE, (query) => api.allDocs(db, query));
  const showPage = async (index) => {
    try {
      const { rows, hasNext } = await listing.page(index);
      // `total_rows` counts the whole database: with a prefix, the matches are not counted.
      const total = listing.prefix ? undefined : listing.total;
      const paging = { index, pageSize: PAGE_SIZE, shown: rows.length, total, hasNext, showPage };
      app.show(ticket, ...content(db, rows, listing, { paging, search }));
    } catch (error) {
      app.fail(ticket, error);
    }
  };
  const search = (prefix) => {
    listing.search(prefix);
    return showPage(0);
  };
  await showPage(0);
}

function content(db, rows, state, { paging, search }) {
  return [
    crumbs(db),
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, db),
      h(
        'div',
        { class: 'head-actions' },
        h(
          'a',
          { class: 'button button-small button-primary', href: route('db', db, 'new'), id: 'new-doc-link' },
          'New document',
        ),
        h(
          'a',
          { class: 'button button-small', href: route('db', db, 'security'), id: 'security-link' },
          'Security',
        ),
      ),
    ),
    dbTabs(db, 'documents'),
    h('p', { class: 'lead', id: 'docs-summary' }, summary(db, state, rows.length)),
    state.total === 0 ? null : prefixSearch(state.prefix, search),
    rows.length === 0 ? null : table(db, rows),
    pager(paging),
  ];
}

function summary(db, { prefix, total }, shown) {
  if (total === 0) return `“${db}” has no documents yet.`;
  if (prefix && shown === 0) return `No document’s id starts with “${prefix}”.`;
  if (prefix) return `Documents whose id starts with “${prefix}”.`;
  return `${plural(total, 'document')}, in id order. Open one to read or edit it.`;
}

function table(db, rows) {
  return h(
    'table',
    { class: 'list-table', id: 'doc-list' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Document'), h('th', {}, 'Revision'))),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          { 'data-id': row.id },
          h(
            'td',
            { 'data-label': 'Document' },
            h('a', { href: route('db', db, 'docs', row.id), class: 'doc-link' }, row.id),
          ),
          h('td', { class: 'cell-rev', 'data-label': 'Revision' }, row.value.rev),
        ),
      ),
    ),
  );
}
