// The history of a database's resolved conflicts (or of one document's), newest first, a page at
// a time: who or what resolved each, when, and the versions whose content it discarded.
import * as api from './api.js';
import { valueNode } from './compare.js';
import { bodyOf } from './diff.js';
import { crumbs, dbTabs, h, pager, plural, route } from './dom.js';
import { localTime } from './stamps.js';

const PAGE_SIZE = 20;

/** Shows the newest page; "Older" and "Newer" move through the history without leaving the view. */
export async function historyView(app, ticket, db, id) {
  // Where each page seen so far starts (a history position), so "Newer" can go back.
  const starts = [undefined];
  const showPage = async (index) => {
    try {
      const page = await api.resolutions(db, { doc: id, since: starts[index], limit: PAGE_SIZE + 1 });
      const rows = page.rows.slice(0, PAGE_SIZE);
      const hasOlder = page.rows.length > PAGE_SIZE;
      if (hasOlder) starts[index + 1] = rows.at(-1).seq;
      const paging = {
        index,
        pageSize: PAGE_SIZE,
        shown: rows.length,
        total: page.total_rows,
        hasNext: hasOlder,
        showPage,
        labels: ['← Newer', 'Older →'],
      };
      app.show(ticket, ...content(db, id, page.total_rows, rows, paging));
    } catch (error) {
      app.fail(ticket, error);
    }
  };
  await showPage(0);
}

function content(db, id, total, rows, paging) {
  return [
    crumbs(db, id === undefined ? 'History' : `History of ${id}`),
    h('div', { class: 'view-head' }, h('h1', {}, id === undefined ? db : id)),
    id === undefined ? dbTabs(db, 'history') : null,
    h('p', { class: 'lead', id: 'history-summary' }, summary(id, total)),
    rows.length === 0
      ? null
      : h(
          'ol',
          { class: 'history', id: 'history' },
          rows.map((row) => entry(db, row)),
        ),
    pager(paging),
  ];
}

function summary(id, total) {
  const what = id === undefined ? 'in this database' : 'of this document';
  if (total === 0) return `No conflict ${what} has been resolved yet.`;
  return `${plural(total, 'conflict')} ${what} resolved, the latest first.`;
}

function entry(db, row) {
  return h(
    'li',
    { class: 'history-entry', 'data-seq': row.seq, 'data-id': row.id },
    h(
      'p',
      { class: 'history-head' },
      h('a', { href: route('db', db, 'history', row.id), class: 'doc-link' }, row.id),
      ' resolved ',
      h('time', { datetime: row.at }, localTime(Date.parse(row.at))),
      ' by ',
      h('span', { class: 'history-by' }, whoResolved(row.by)),
    ),
    h('p', { class: 'muted' }, `Kept ${row.kept}; the document is now at ${row.rev}.`),
    losers(row.losers),
  );
}

/** `user:anna` → anna; `resolver:x by user:anna` → anna, with …; `resolver:x` → automatic. */
export function whoResolved(by) {
  const byHand = /^resolver:(.+) by user:(.*)$/.exec(by);
  if (byHand) return `${byHand[2]}, with the ${byHand[1]} strategy`;
  if (by.startsWith('user:')) return by.slice('user:'.length);
  if (by.startsWith('resolver:')) return `the automatic ${by.slice('resolver:'.length)} resolver`;
  return by;
}

/** The versions whose content the resolution discarded, each as its fields. */
function losers(versions) {
  return h(
    'details',
    { class: 'history-losers' },
    h('summary', {}, `${plural(versions.length, 'discarded version')}`),
    h(
      'ul',
      {},
      versions.map((doc) =>
        h(
          'li',
          { class: 'history-loser', 'data-rev': doc._rev },
          h('span', { class: 'rev' }, doc._rev),
          doc._deleted ? h('span', { class: 'tag' }, 'deleted') : valueNode(bodyOf(doc)),
        ),
      ),
    ),
  );
}
