// The first view: the databases the person may read (every one for a server admin), a page at a
// time in name order, each with its documents, size, update sequence and conflicts. Server admins
// also create databases here, and delete one once they have typed its name.
import * as api from './api.js';
import { formatBytes, h, pager, plural, replaceChildren, route } from './dom.js';
import { keysetPages, mapLimit } from './paging.js';

const PAGE_SIZE = 20;
// Counting conflicts asks the server once per database shown: a few at a time.
const PARALLEL_COUNTS = 6;

export async function databasesView(app, ticket) {
  const admin = api.isServerAdmin(app.user());
  const pages = keysetPages(PAGE_SIZE, admin ? adminPage : await memberPages(), (row) => row.name);
  const model = { admin, confirming: null };
  const showPage = async (index) => {
    try {
      const page = await pages.page(index);
      const counts = await mapLimit(page.rows, PARALLEL_COUNTS, (row) =>
        api.conflictCount(row.name).catch(() => null),
      );
      const rows = page.rows.map((row, i) => ({ ...row, conflicts: counts[i] }));
      const paging = { index, pageSize: PAGE_SIZE, shown: rows.length, hasNext: page.hasNext, showPage };
      app.show(ticket, ...content(app, model, rows, paging));
    } catch (error) {
      app.fail(ticket, error);
    }
  };
  await showPage(0);
}

/** A page of `_dbs_info` for server admins: names and info in one request. */
async function adminPage(startkey, limit) {
  const rows = await api.dbsInfo({ startkey, limit });
  return rows.map((row) => ({ name: row.key, info: row.info }));
}

/**
 * Everyone else's pages: the names `/_my_dbs` gives (sorted, as `_all_dbs`), each page's info
 * read per database shown, never for the whole list.
 */
async function memberPages() {
  const names = await api.myDbs();
  return async (startkey, limit) => {
    const from = startkey === undefined ? 0 : names.findIndex((name) => name >= startkey);
    const shown = from < 0 ? [] : names.slice(from, from + limit);
    const infos = await mapLimit(shown, PARALLEL_COUNTS, (name) => api.dbInfo(name).catch(() => null));
    return shown.map((name, i) => ({ name, info: infos[i] }));
  };
}

function content(app, model, rows, paging) {
  const needing = rows.filter((row) => row.conflicts > 0).length;
  const paged = paging.index > 0 || paging.hasNext;
  const area = h('div', { id: 'db-table' });
  const draw = (focus) => {
    replaceChildren(area, rows.length === 0 ? null : table(app, model, rows, draw));
    if (focus) area.querySelector(focus)?.focus();
  };
  draw();
  return [
    h('h1', {}, 'Databases'),
    h('p', { class: 'lead', id: 'db-summary' }, summary(rows.length, needing, model.admin, paged)),
    model.admin ? createForm(app) : null,
    area,
    pager(paging),
  ];
}

function summary(shown, needing, admin, paged) {
  if (shown === 0 && admin) return 'There are no databases on this server yet.';
  if (shown === 0) return 'You have no databases to review yet. Ask a server admin to give you access.';
  const where = paged ? ' on this page' : '';
  if (needing === 0) return `No database${where} has conflicts: every document has a single version.`;
  const which = needing === 1 ? '1 database has' : `${needing} databases have`;
  return `${which} documents whose versions disagree${where}. Choose one to review them.`;
}

function table(app, model, rows, draw) {
  const head = ['Database', 'Documents', 'Size', 'Update seq', 'Conflicts', model.admin ? '' : null];
  return h(
    'table',
    { class: 'list-table db-table', id: 'databases' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        head.filter((text) => text !== null).map((text) => h('th', {}, text)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) => [
        dbRow(model, row, draw),
        model.confirming === row.name ? confirmRow(app, model, row.name, draw) : null,
      ]),
    ),
  );
}

function dbRow(model, { name, info, conflicts }, draw) {
  const cell = (label, ...children) => h('td', { 'data-label': label }, ...children);
  const open = () => {
    model.confirming = name;
    draw('#confirm-db-name');
  };
  return h(
    'tr',
    { 'data-db-row': name },
    cell('Database', h('a', { class: 'db-name doc-link', href: route('db', name, 'docs') }, name)),
    cell('Documents', info ? String(info.doc_count) : '—'),
    cell('Size', formatBytes(info?.sizes?.file)),
    cell('Update seq', info ? seqLabel(info.update_seq) : '—'),
    cell('Conflicts', conflictLink(name, conflicts)),
    model.admin
      ? h(
          'td',
          { class: 'cell-action' },
          // The server's own databases (`_users`, `_replicator`) hold its users and jobs: kept.
          name.startsWith('_')
            ? null
            : h(
                'button',
                {
                  type: 'button',
                  class: 'button button-small button-danger',
                  'aria-label': `Delete database ${name}`,
                  'data-focus-key': `delete:${name}`,
                  on: { click: open },
                },
                'Delete',
              ),
        )
      : null,
  );
}

/** CouchDB's sequences are opaque strings beginning with a number; Settee's are numbers. */
function seqLabel(seq) {
  return typeof seq === 'string' ? seq.split('-')[0] : String(seq);
}

/** The database's conflicts, a link to review them. */
function conflictLink(name, count) {
  const badge =
    count === null
      ? h('span', { class: 'badge badge-muted' }, 'could not be counted')
      : count === 0
        ? h('span', { class: 'badge badge-ok' }, 'No conflicts')
        : h('span', { class: 'badge badge-warn' }, `${plural(count, 'document')} with conflicts`);
  return h(
    'a',
    { class: `db-item${count > 0 ? ' db-item-attention' : ''}`, href: route('db', name), 'data-db': name },
    badge,
  );
}

/**
 * The confirmation of a delete, under the database's row: only the database's name typed in full
 * arms the button. Escape or Cancel closes it, and focus goes back to the row's Delete.
 */
function confirmRow(app, model, name, draw) {
  const input = h('input', { id: 'confirm-db-name', autocomplete: 'off', spellcheck: 'false' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const confirm = h(
    'button',
    { type: 'submit', class: 'button button-danger-solid', id: 'confirm-delete-db', disabled: true },
    `Delete ${name}`,
  );
  const close = () => {
    model.confirming = null;
    draw(`[data-focus-key="${CSS.escape(`delete:${name}`)}"]`);
  };
  input.addEventListener('input', () => (confirm.disabled = input.value !== name));
  const onSubmit = async (event) => {
    event.preventDefault();
    if (input.value !== name) return;
    confirm.disabled = true;
    try {
      await api.deleteDb(name);
    } catch (failure) {
      error.textContent = api.describeError(failure);
      error.hidden = false;
      confirm.disabled = false;
      return;
    }
    app.notify(`Deleted the database “${name}”.`, 'success', { keepAfterNavigation: true });
    app.reload();
  };
  const form = h(
    'form',
    {
      class: 'panel panel-danger',
      role: 'group',
      'aria-label': `Delete database ${name}`,
      on: { submit: onSubmit, keydown: (event) => event.key === 'Escape' && close() },
    },
    h('p', {}, `Delete the database “${name}” and every document in it? This cannot be undone.`),
    h('label', { for: input.id }, `Type ${name} to confirm`),
    input,
    error,
    h(
      'div',
      { class: 'form-buttons' },
      h('button', { type: 'button', class: 'button', on: { click: close } }, 'Cancel'),
      confirm,
    ),
  );
  return h('tr', { class: 'confirm-row' }, h('td', { colspan: '6' }, form));
}

/** Server admins create a database by name; the server says which names are allowed. */
function createForm(app) {
  const input = h('input', { id: 'new-db-name', autocomplete: 'off', spellcheck: 'false', required: true });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const onSubmit = async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    try {
      await api.createDb(name);
    } catch (failure) {
      error.textContent =
        failure.status === 412 ? `A database named “${name}” already exists.` : api.describeError(failure);
      error.hidden = false;
      input.focus();
      return;
    }
    app.notify(`Created the database “${name}”.`, 'success', { keepAfterNavigation: true });
    app.go(route('db', name, 'docs'));
  };
  return h(
    'form',
    { class: 'add-form create-db', id: 'create-db', on: { submit: onSubmit } },
    h('label', { for: input.id }, 'New database name'),
    h(
      'div',
      { class: 'add-row' },
      input,
      h('button', { type: 'submit', class: 'button' }, 'Create database'),
    ),
    h('p', { class: 'hint' }, 'Lowercase letters, digits and _ $ ( ) + - /, starting with a letter.'),
    error,
  );
}
