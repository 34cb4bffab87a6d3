// Resolving many conflicted documents at once: those ticked in the list, or all those matching
// the search, each resolved once by the server (`POST /{db}/_resolve`) with the strategy chosen.
import * as api from './api.js';
import { h, plural } from './dom.js';

/** What each built-in strategy does, in words; a server's own strategies are named only. */
const EXPLAINED = {
  couchdb: 'Keep the version apps are shown now, and remove the others.',
  'last-writer-wins': 'Keep the version written last, by its clock stamp (unstamped versions lose).',
  'field-merge': 'Take each field from the version that changed it last, by its field stamps.',
  crdt: 'Merge each field by its type; give the schema as options: {"schema": {"field": "counter"}}.',
};

/**
 * The bar above the list and the tick boxes of its rows. `offer` is `{ strategies, max_ids }`;
 * `state` the list's `{ prefix, selected }`; `refresh` shows the list again afterwards.
 */
export function bulkBar(app, db, offer, state, refresh) {
  const select = h(
    'select',
    { id: 'strategy', on: { change: () => (help.textContent = explain(select.value)) } },
    offer.strategies.map((name) => h('option', { value: name }, name)),
  );
  const help = h('p', { class: 'muted', id: 'strategy-help' }, explain(select.value));
  const options = h('input', {
    id: 'strategy-options',
    type: 'text',
    placeholder: '{}',
    spellcheck: 'false',
  });
  const all = h('input', { id: 'all-matching', type: 'checkbox', on: { change: () => refreshButton() } });
  const button = h('button', { type: 'button', id: 'resolve-many', class: 'button button-primary' });
  const error = h('p', { class: 'form-error', id: 'bulk-error', role: 'alert', hidden: true });
  const everything = state.prefix
    ? `every document whose id starts with “${state.prefix}”`
    : 'every conflicted document';
  const refreshButton = () => {
    const count = all.checked ? 'all matching documents' : plural(state.selected.size, 'document');
    button.textContent = `Resolve ${count}`;
    button.disabled = !all.checked && state.selected.size === 0;
  };
  refreshButton();
  const run = async () => {
    const parsed = parseOptions(options.value);
    if (typeof parsed === 'string') return showError(error, parsed);
    error.hidden = true;
    button.disabled = true;
    button.textContent = 'Resolving…';
    try {
      const request = { strategy: select.value, options: parsed };
      const results = all.checked
        ? await resolveMatching(db, state.prefix, request, offer.max_ids)
        : await resolveIds(db, [...state.selected], request, offer.max_ids);
      const failed = results.some((row) => row.error);
      app.notify(report(results, select.value), failed ? 'error' : 'success', { keepAfterNavigation: true });
      await refresh();
    } catch (failure) {
      if (failure.status === 401) return app.fail(undefined, failure);
      showError(error, api.describeError(failure));
      refreshButton();
    }
  };
  button.addEventListener('click', run);
  const node = h(
    'section',
    { class: 'bulk', id: 'bulk', 'aria-label': 'Resolve several documents at once' },
    h('h2', {}, 'Resolve several at once'),
    h(
      'p',
      { class: 'muted' },
      'Tick documents below, or choose all those matching, then pick how to resolve them.',
    ),
    h(
      'div',
      { class: 'bulk-fields' },
      h('label', {}, 'Strategy ', select),
      h('label', {}, 'Options (JSON, optional) ', options),
    ),
    help,
    h('label', { class: 'bulk-all' }, all, ` Resolve ${everything}, not only those ticked`),
    h('div', { class: 'bar-buttons' }, button),
    error,
  );
  const rowBoxes = [];
  const tick = (id, on) => {
    if (on) state.selected.add(id);
    else state.selected.delete(id);
  };
  const rowBox = (id) => {
    const box = h('input', {
      type: 'checkbox',
      class: 'select-doc',
      'data-id': id,
      'aria-label': `Select ${id}`,
      on: { change: () => (tick(id, box.checked), refreshButton()) },
    });
    rowBoxes.push(box);
    return box;
  };
  const pageBox = () =>
    h('input', {
      type: 'checkbox',
      id: 'select-page',
      'aria-label': 'Select every document on this page',
      on: {
        change: (event) => {
          for (const box of rowBoxes) {
            box.checked = event.target.checked;
            tick(box.dataset.id, box.checked);
          }
          refreshButton();
        },
      },
    });
  return { node, rowBox, pageBox };
}

function explain(strategy) {
  return EXPLAINED[strategy] ?? 'A strategy this server adds: see its documentation.';
}

function showError(node, text) {
  node.textContent = text;
  node.hidden = false;
}

/** The options typed (undefined when none), or a sentence saying what is wrong. */
function parseOptions(text) {
  if (text.trim() === '') return undefined;
  try {
    const value = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  } catch {
    // Said below, in the same words as for any other value.
  }
  return 'The options must be a JSON object, written between { and }.';
}

/** The ids in requests of at most `max` ids each, one after the other. */
async function resolveIds(db, ids, request, max) {
  const results = [];
  for (let at = 0; at < ids.length; at += max) {
    results.push(...(await api.resolveMany(db, { ...request, ids: ids.slice(at, at + max) })));
  }
  return results;
}

/**
 * Every conflicted document whose id starts with `prefix`, a page of the list at a time: the
 * next page starts after the last id sent, so documents left conflicted are not sent twice.
 */
async function resolveMatching(db, prefix, request, max) {
  const results = [];
  let startkey;
  for (;;) {
    const page = await api.conflicts(db, { startkey, limit: max, prefix });
    if (page.rows.length === 0) return results;
    results.push(
      ...(await resolveIds(
        db,
        page.rows.map((row) => row.id),
        request,
        max,
      )),
    );
    if (page.rows.length < max) return results;
    startkey = `${page.rows.at(-1).id}\u0000`;
  }
}

/** What happened, in one notice: how many were resolved, left as they were, or failed and why. */
function report(results, strategy) {
  const resolved = results.filter((row) => row.resolved === true).length;
  const kept = results.filter((row) => row.resolved === false).length;
  const failed = results.filter((row) => row.error);
  const parts = [`Resolved ${plural(resolved, 'document')} with ${strategy}.`];
  if (kept > 0) parts.push(`${plural(kept, 'document')} left as ${kept === 1 ? 'it was' : 'they were'}.`);
  if (failed.length > 0) {
    const why = failed
      .slice(0, 3)
      .map((row) => `${row.id} (${row.reason})`)
      .join(', ');
    parts.push(
      `${plural(failed.length, 'document')} could not be resolved: ${why}${failed.length > 3 ? ', …' : ''}.`,
    );
  }
  return parts.join(' ');
}
