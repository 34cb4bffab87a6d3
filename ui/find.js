// A Mango query (`_find`) on a database: a selector, the fields to show, a sort and a page size;
// its results a page at a time, each next page asked for with the bookmark of the one before.
import * as api from './api.js';
import { crumbs, dbTabs, h, pager, replaceChildren, route } from './dom.js';
import { parseJsonObject } from './editing.js';

const DEFAULT_SELECTOR = '{\n  "_id": { "$gt": null }\n}';
const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;

export function findView(app, ticket, db) {
  const fields = {
    selector: h('textarea', { id: 'find-selector', rows: '6', spellcheck: 'false', class: 'json-area' }),
    fields: h('input', {
      id: 'find-fields',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'e.g. _id, name, price',
    }),
    sort: h('input', {
      id: 'find-sort',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'e.g. [{"price": "asc"}]',
    }),
    limit: h('input', {
      id: 'find-limit',
      type: 'number',
      min: '1',
      max: String(MAX_LIMIT),
      value: String(DEFAULT_LIMIT),
    }),
  };
  fields.selector.value = DEFAULT_SELECTOR;
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, id: 'find-error' });
  const results = h('div', { id: 'find-results', 'aria-live': 'polite' });
  const run = async (query, bookmarks, index) => {
    let answer;
    try {
      answer = await api.find(db, { ...query, ...(bookmarks[index] ? { bookmark: bookmarks[index] } : {}) });
    } catch (failure) {
      if (failure.status === 401) return app.fail(ticket, failure);
      return showError(error, api.describeError(failure));
    }
    error.hidden = true;
    // A full page may have more after it: the bookmark says where they start.
    const hasNext = answer.docs.length === query.limit;
    if (hasNext) bookmarks[index + 1] = answer.bookmark;
    const paging = {
      index,
      pageSize: query.limit,
      shown: answer.docs.length,
      hasNext,
      showPage: (i) => run(query, bookmarks, i),
    };
    replaceChildren(results, ...resultList(db, answer, paging));
  };
  const onSubmit = (event) => {
    event.preventDefault();
    const query = readQuery(fields, error);
    if (query) run(query, [undefined], 0);
  };
  const form = h(
    'form',
    { class: 'card find-form', id: 'find-form', on: { submit: onSubmit } },
    field(fields.selector, 'Selector (JSON)', 'Which documents: a Mango selector, as in CouchDB.'),
    h(
      'div',
      { class: 'form-grid' },
      field(fields.fields, 'Fields', 'Comma-separated; empty for whole documents.'),
      field(fields.sort, 'Sort (JSON)', 'A JSON array; sorting needs an index on those fields.'),
      field(fields.limit, 'Results per page'),
    ),
    error,
    h(
      'div',
      { class: 'form-buttons' },
      h('button', { type: 'submit', class: 'button button-primary', id: 'run-find' }, 'Run query'),
    ),
  );
  // Ctrl+Enter runs the query from the selector's text, where Enter makes a new line.
  fields.selector.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  app.show(ticket, crumbs(db, 'Find'), h('h1', {}, db), dbTabs(db, 'find'), form, results);
}

function field(input, label, hint) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: input.id }, label),
    input,
    hint ? h('p', { class: 'hint' }, hint) : null,
  );
}

function showError(error, text) {
  error.textContent = text;
  error.hidden = false;
}

/** The query the form describes, or undefined after saying what is wrong with it. */
function readQuery(fields, error) {
  const selector = parseJsonObject(fields.selector.value, 'The selector');
  if (typeof selector === 'string') return showError(error, selector);
  const limit = Number(fields.limit.value);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return showError(error, `Results per page must be a whole number from 1 to ${MAX_LIMIT}.`);
  }
  const query = { selector, limit };
  const names = fields.fields.value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length > 0) query.fields = names;
  if (fields.sort.value.trim() !== '') {
    let sort;
    try {
      sort = JSON.parse(fields.sort.value);
    } catch (failure) {
      return showError(error, `The sort is not valid JSON: ${failure.message}`);
    }
    if (!Array.isArray(sort))
      return showError(error, 'The sort must be a JSON array, written between [ and ].');
    query.sort = sort;
  }
  return query;
}

function resultList(db, answer, paging) {
  const { docs } = answer;
  const warning = answer.warning ? h('p', { class: 'note', id: 'find-warning' }, answer.warning) : null;
  if (docs.length === 0) {
    const text = paging.index === 0 ? 'No document matches this query.' : 'No more documents match.';
    return [warning, h('p', { class: 'lead', id: 'find-summary' }, text), pager(paging)];
  }
  return [
    warning,
    h(
      'table',
      { class: 'list-table', id: 'find-list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Document'), h('th', {}, 'Fields'))),
      h(
        'tbody',
        {},
        docs.map((doc) =>
          h(
            'tr',
            { 'data-id': doc._id ?? '' },
            h(
              'td',
              { 'data-label': 'Document' },
              doc._id === undefined
                ? h('span', { class: 'muted' }, '(no _id field asked for)')
                : h('a', { class: 'doc-link', href: route('db', db, 'docs', doc._id) }, doc._id),
            ),
            h(
              'td',
              { 'data-label': 'Fields' },
              h('code', { class: 'json-inline' }, JSON.stringify(withoutId(doc))),
            ),
          ),
        ),
      ),
    ),
    pager(paging),
  ];
}

function withoutId(doc) {
  const { _id, ...rest } = doc;
  return rest;
}
