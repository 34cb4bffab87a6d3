// The conflicted documents of one database, a page at a time, searchable by the start of their
// id; documents ticked (or all those matching) can be resolved at once with a strategy.
import * as api from './api.js';
import { bulkBar } from './bulk.js';
import { crumbs, dbTabs, h, pager, plural, prefixSearch, route } from './dom.js';
import { idPages } from './paging.js';

const PAGE_SIZE = 50;

/** Shows the first page; the page buttons and the search show others without leaving the view. */
export async function conflictListView(app, ticket, db) {
  const offer = await api.strategies(db).catch(() => null);
  const state = { prefix: '', index: 0, selected: new Set() };
  const listing = idPages(PAGE_SIZE, (query) => api.conflicts(db, query));
  const showPage = async (index) => {
    try {
      const { rows, hasNext } = await listing.page(index);
      state.index = index;
      state.selected.clear();
      const paging = {
        index,
        pageSize: PAGE_SIZE,
        shown: rows.length,
        total: listing.total,
        hasNext,
        showPage,
      };
      const bulk =
        offer && rows.length > 0 ? bulkBar(app, db, offer, state, () => search(state.prefix)) : null;
      app.show(ticket, ...content(db, listing.total, rows, { state, paging, search, bulk }));
    } catch (error) {
      app.fail(ticket, error);
    }
  };
  const search = (prefix) => {
    state.prefix = prefix;
    listing.search(prefix);
    return showPage(0);
  };
  await showPage(0);
}

function content(db, total, rows, { state, paging, search, bulk }) {
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
    dbTabs(db, 'conflicts'),
    h('p', { class: 'lead', id: 'list-summary' }, summary(db, total, rows.length, state.prefix)),
    total === 0 ? null : prefixSearch(state.prefix, search),
    bulk?.node ?? null,
    rows.length === 0 ? null : table(db, rows, bulk),
    pager(paging),
  ];
}

function summary(db, total, shown, prefix) {
  if (total === 0) return `No conflicts here: every document in “${db}” has a single version.`;
  if (prefix && shown === 0) return `No conflicted document’s id starts with “${prefix}”.`;
  const which = total === 1 ? '1 document has' : `${total} documents have`;
  const found = prefix
    ? ` Showing those whose id starts with “${prefix}”.`
    : ' Open one to decide what to keep.';
  return `${which} versions that disagree.${found}`;
}

function table(db, rows, bulk) {
  return h(
    'table',
    { class: 'list-table', id: 'conflict-list' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        bulk ? h('th', { class: 'cell-select' }, bulk.pageBox()) : null,
        h('th', {}, 'Document'),
        h('th', {}, 'Versions'),
        h('th', {}),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) => {
        const link = route('db', db, 'doc', row.id);
        return h(
          'tr',
          { 'data-id': row.id },
          bulk ? h('td', { class: 'cell-select' }, bulk.rowBox(row.id)) : null,
          h('td', {}, h('a', { href: link, class: 'doc-link' }, row.id)),
          h('td', { class: 'cell-versions' }, plural(row.conflicts.length + 1, 'version')),
          h('td', { class: 'cell-action' }, h('a', { href: link, class: 'button button-small' }, 'Review')),
        );
      }),
    ),
  );
}
