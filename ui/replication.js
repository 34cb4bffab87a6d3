// Replications (server admins): the jobs of `_replicator` with their state, progress and last
// error, the transient ones started by `POST /_replicate`, a form that starts one, and Cancel.
// The lists refresh themselves while shown; credentials typed in the form are never shown back.
import * as api from './api.js';
import { h, pager, replaceKeepingFocus } from './dom.js';
import { refreshWhileShown } from './paging.js';

const PAGE_SIZE = 50;

export async function replicationView(app, ticket) {
  if (!api.isServerAdmin(app.user())) {
    return app.show(
      ticket,
      h('h1', {}, 'Replication'),
      h('p', { class: 'lead' }, 'Only server admins can see and manage replications.'),
    );
  }
  const state = { index: 0 };
  const lists = h('div', { id: 'replication-lists' });
  const refresh = async () => {
    try {
      const [docs, jobs] = await Promise.all([
        api.schedulerDocs({ skip: state.index * PAGE_SIZE, limit: PAGE_SIZE }),
        api.schedulerJobs(),
      ]);
      replaceKeepingFocus(lists, ...listings(app, state, docs, jobs, refresh));
    } catch (error) {
      app.fail(ticket, error);
    }
  };
  await refresh();
  app.show(
    ticket,
    h('h1', {}, 'Replication'),
    h(
      'p',
      { class: 'lead' },
      'Copy a database’s documents to another database, here or on another server, once or continuously.',
    ),
    startForm(app, refresh),
    lists,
  );
  refreshWhileShown(app, ticket, refresh);
}

function listings(app, state, docs, jobs, refresh) {
  const transient = jobs.jobs.filter((job) => job.doc_id === null);
  const showPage = (index) => {
    state.index = index;
    return refresh();
  };
  const paging = {
    index: state.index,
    pageSize: PAGE_SIZE,
    shown: docs.docs.length,
    total: docs.total_rows,
    hasNext: (state.index + 1) * PAGE_SIZE < docs.total_rows,
    showPage,
  };
  return [
    h('h2', { class: 'section-title' }, 'Jobs of _replicator'),
    docs.docs.length === 0
      ? h('p', { class: 'muted', id: 'no-doc-jobs' }, 'No replication job is stored in _replicator.')
      : jobTable('doc-jobs', docs.docs.map(docRow), (row) => cancelDocJob(app, row, refresh)),
    pager(paging),
    h('h2', { class: 'section-title' }, 'Started by POST /_replicate'),
    transient.length === 0
      ? h('p', { class: 'muted', id: 'no-transient-jobs' }, 'No continuous replication was started that way.')
      : jobTable('transient-jobs', transient.map(jobRow), (row) => cancelTransient(app, row, refresh)),
  ];
}

/** A `_scheduler/docs` entry as a row: its state is the scheduler's. */
function docRow(doc) {
  return {
    key: doc.doc_id,
    name: doc.doc_id,
    source: doc.source,
    target: doc.target,
    state: doc.state,
    info: doc.info ?? {},
    error: doc.info?.error,
  };
}

/** A `_scheduler/jobs` entry: its state is its newest event. */
function jobRow(job) {
  const latest = job.history?.[0];
  const state =
    latest?.type === 'started'
      ? 'running'
      : latest?.type === 'crashed'
        ? 'crashing'
        : (latest?.type ?? 'pending');
  const error = job.history?.find((event) => event.type === 'crashed')?.reason;
  return {
    key: job.id,
    name: job.id.split('+')[0].slice(0, 12),
    source: job.source,
    target: job.target,
    state,
    info: job.info ?? {},
    error,
  };
}

function jobTable(id, rows, cancel) {
  const head = ['Job', 'From → to', 'State', 'Progress', 'Last error', ''];
  return h(
    'table',
    { class: 'list-table', id },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        head.map((text) => h('th', {}, text)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          { 'data-job': row.key },
          h('td', { 'data-label': 'Job', class: 'cell-wrap' }, row.name),
          h(
            'td',
            { 'data-label': 'From → to', class: 'cell-wrap' },
            `${row.source ?? '?'} → ${row.target ?? '?'}`,
          ),
          h(
            'td',
            { 'data-label': 'State' },
            h('span', { class: `badge state state-${row.state}` }, row.state),
          ),
          h('td', { 'data-label': 'Progress', class: 'cell-progress' }, progress(row.info)),
          h('td', { 'data-label': 'Last error', class: 'cell-wrap cell-error' }, errorText(row.error)),
          h(
            'td',
            { class: 'cell-action' },
            h(
              'button',
              {
                type: 'button',
                class: 'button button-small',
                'aria-label': `${verb(row)} ${row.name}`,
                'data-focus-key': `cancel:${row.key}`,
                on: { click: () => cancel(row) },
              },
              verb(row),
            ),
          ),
        ),
      ),
    ),
  );
}

/** A finished job is only removed: there is nothing left to cancel. */
const verb = (row) => (row.state === 'completed' || row.state === 'failed' ? 'Remove' : 'Cancel');

function progress(info) {
  if (info.docs_written === undefined) return '—';
  const pending = typeof info.changes_pending === 'number' ? `, ${info.changes_pending} pending` : '';
  return `${info.docs_written} written of ${info.docs_read} read${pending}`;
}

function errorText(error) {
  if (error === undefined || error === null) return '—';
  return typeof error === 'string' ? error : JSON.stringify(error);
}

async function cancelDocJob(app, row, refresh) {
  await settle(
    app,
    () => api.cancelReplicationDoc(row.key),
    `Cancelled the job “${row.name}”: its _replicator document is deleted.`,
  );
  await refresh();
}

async function cancelTransient(app, row, refresh) {
  await settle(app, () => api.cancelTransientReplication(row.key), 'Cancelled the replication.');
  await refresh();
}

async function settle(app, work, done) {
  try {
    await work();
    app.notify(done, 'success');
  } catch (error) {
    app.notify(api.describeError(error), 'error');
  }
}

/** The form: both ends (a name here or a URL), their optional credentials, and how it runs. */
function startForm(app, refresh) {
  const ends = ['source', 'target'].map(endFields);
  const continuous = h('input', { type: 'checkbox', id: 'rep-continuous' });
  const create = h('input', { type: 'checkbox', id: 'rep-create-target' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, id: 'rep-error' });
  const onSubmit = async (event) => {
    event.preventDefault();
    const [source, target] = ends.map((end) => end.value());
    try {
      await api.addReplication({
        source,
        target,
        continuous: continuous.checked,
        create_target: create.checked,
      });
    } catch (failure) {
      error.textContent = api.describeError(failure);
      error.hidden = false;
      return;
    }
    error.hidden = true;
    const [from, to] = ends.map((end) => end.label());
    // The typed passwords leave the page with the request: nothing shows them again.
    for (const end of ends) end.clear();
    app.notify(`Started replicating ${from} to ${to}.`, 'success');
    await refresh();
    ends[0].focus();
  };
  return h(
    'form',
    { class: 'card form-card', id: 'start-replication', on: { submit: onSubmit } },
    h('h2', {}, 'Start a replication'),
    h(
      'div',
      { class: 'form-grid' },
      ends.map((end) => end.node),
    ),
    h('label', { class: 'check' }, continuous, ' Continuous: keep copying new changes until cancelled'),
    h('label', { class: 'check' }, create, ' Create the target database if it is missing'),
    error,
    h(
      'div',
      { class: 'form-buttons' },
      h('button', { type: 'submit', class: 'button button-primary', id: 'rep-start' }, 'Start replication'),
    ),
  );
}

function endFields(side) {
  const title = side === 'source' ? 'Source' : 'Target';
  const input = (suffix, props) =>
    h('input', { id: `rep-${side}${suffix}`, autocomplete: 'off', spellcheck: 'false', ...props });
  const url = input('', { required: true, placeholder: 'a database name, or https://host/db' });
  const user = input('-user', { autocomplete: 'off' });
  const password = input('-password', { type: 'password', autocomplete: 'new-password' });
  const label = (el, text) => h('label', { for: el.id }, text);
  const node = h(
    'fieldset',
    { class: 'field rep-end' },
    h('legend', {}, title),
    label(url, `${title}: database name or URL`),
    url,
    label(user, `${title} user name (optional)`),
    user,
    label(password, `${title} password (optional)`),
    password,
  );
  return {
    node,
    value: () => {
      const where = url.value.trim();
      if (user.value === '') return where;
      return { url: where, auth: { basic: { username: user.value, password: password.value } } };
    },
    label: () => withoutCredentials(url.value.trim()),
    clear: () => {
      url.value = user.value = password.value = '';
    },
    focus: () => url.focus(),
  };
}

/** A URL without the user and password it may carry. */
function withoutCredentials(where) {
  try {
    const parsed = new URL(where);
    parsed.username = parsed.password = '';
    return parsed.href;
  } catch {
    return where;
  }
}
