// The first view: the databases the person may read (every one for a server admin), with how
// many of their documents are in conflict.
import * as api from './api.js';
import { h, plural, route } from './dom.js';

// Counting asks the server once per database: a few at a time, not hundreds at once.
const PARALLEL_COUNTS = 6;

export async function databasesView(app, ticket) {
  // `_all_dbs` is for server admins only; everyone else asks for the databases they may read.
  const admin = api.isServerAdmin(app.user());
  const names = admin ? await api.allDbs() : await api.myDbs();
  const counts = await mapLimit(names, PARALLEL_COUNTS, (name) => api.conflictCount(name).catch(() => null));
  const needing = counts.filter((count) => count > 0).length;
  const order = attentionFirst(names, counts);
  app.show(
    ticket,
    h('h1', {}, 'Databases'),
    h('p', { class: 'lead' }, summary(names.length, needing, admin)),
    names.length === 0
      ? null
      : h(
          'ul',
          { class: 'db-list' },
          order.map((i) => item(names[i], counts[i])),
        ),
  );
}

function summary(total, needing, admin) {
  if (total === 0 && admin) return 'There are no databases on this server yet.';
  if (total === 0) return 'You have no databases to review yet. Ask a server admin to give you access.';
  if (needing === 0) return 'No database has conflicts: every document has a single version.';
  const which = needing === 1 ? '1 database has' : `${needing} databases have`;
  return `${which} documents whose versions disagree. Choose one to review them.`;
}

function item(name, count) {
  const badge =
    count === null
      ? h('span', { class: 'badge badge-muted' }, 'could not be counted')
      : count === 0
        ? h('span', { class: 'badge badge-ok' }, 'No conflicts')
        : h('span', { class: 'badge badge-warn' }, `${plural(count, 'document')} with conflicts`);
  return h(
    'li',
    {},
    h(
      'a',
      { class: `db-item${count > 0 ? ' db-item-attention' : ''}`, href: route('db', name), 'data-db': name },
      h('span', { class: 'db-name' }, name),
      badge,
    ),
  );
}

/** Indexes in showing order: databases with conflicts first, the server's own (`_…`) last. */
function attentionFirst(names, counts) {
  const rank = (i) => (counts[i] > 0 ? 0 : names[i].startsWith('_') ? 2 : 1);
  return names.map((_, i) => i).sort((a, b) => rank(a) - rank(b) || a - b);
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
