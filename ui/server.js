// The server at work (server admins): its active tasks — compactions, index builds and
// replications —, live charts of its metrics and the recent warnings and errors of its log, all
// refreshed every 2 seconds while shown, and no more once the person moves on.
import * as api from './api.js';
import { liveChart } from './charts.js';
import { h, replaceKeepingFocus } from './dom.js';
import { CHARTS, metricsWindow } from './metrics.js';
import { refreshWhileShown } from './paging.js';

/** How many of the log's recent warnings and errors are listed (the server keeps 100). */
const RECENT_ERRORS = 50;

const TASK_KINDS = {
  database_compaction: 'Compaction',
  view_compaction: 'Index compaction',
  indexer: 'Index build',
  replication: 'Replication',
};

export async function serverView(app, ticket) {
  if (!api.isServerAdmin(app.user())) {
    return app.show(
      ticket,
      h('h1', {}, 'Server'),
      h('p', { class: 'lead' }, 'Only server admins can see what the server is doing.'),
    );
  }
  const tasks = h('div', { id: 'active-tasks', 'aria-live': 'polite' });
  const metrics = metricsPanel();
  const errors = h('div', { id: 'recent-errors' });
  const refresh = async () => {
    try {
      const [running, stats, system, entries] = await Promise.all([
        api.activeTasks(),
        api.nodeStats(),
        api.nodeSystem(),
        api.recentLogs({ limit: RECENT_ERRORS }),
      ]);
      replaceKeepingFocus(tasks, taskList(running));
      metrics.add(stats, system, Date.now());
      replaceKeepingFocus(errors, errorList(entries));
    } catch (error) {
      app.fail(ticket, error);
    }
  };
  await refresh();
  app.show(
    ticket,
    h('h1', {}, 'Server'),
    h(
      'section',
      { 'aria-labelledby': 'tasks-title' },
      h('h2', { id: 'tasks-title' }, 'Active tasks'),
      h('p', { class: 'hint' }, 'Refreshed every few seconds while this page is shown.'),
      tasks,
    ),
    h(
      'section',
      { id: 'server-metrics', 'aria-labelledby': 'metrics-title' },
      h('h2', { id: 'metrics-title', class: 'section-title' }, 'Metrics'),
      h(
        'p',
        { class: 'hint' },
        'Sampled every 2 seconds while this page is shown; the charts keep the last 5 minutes.',
      ),
      metrics.element,
    ),
    h(
      'section',
      { 'aria-labelledby': 'errors-title' },
      h('h2', { id: 'errors-title', class: 'section-title' }, 'Recent errors'),
      h('p', { class: 'hint' }, "The server log's latest warnings and errors, newest first."),
      errors,
    ),
  );
  refreshWhileShown(app, ticket, refresh);
}

/** The charts, redrawn from the window of samples each time `add` takes one. */
function metricsPanel() {
  const samples = metricsWindow();
  const charts = CHARTS.map((chart) => ({ chart, view: liveChart(chart) }));
  return {
    element: h(
      'div',
      { class: 'charts' },
      charts.map(({ view }) => view.element),
    ),
    add(stats, system, at) {
      samples.add(stats, system, at);
      for (const { chart, view } of charts) view.update(samples.points(chart));
    },
  };
}

function errorList(entries) {
  if (entries.length === 0)
    return h('p', { class: 'muted', id: 'no-errors' }, 'No warnings or errors logged recently.');
  return listTable(
    'error-list',
    ['Time', 'Level', 'Message', 'Request'],
    entries.map((entry) =>
      h(
        'tr',
        { 'data-level': entry.level },
        h('td', { 'data-label': 'Time' }, new Date(entry.time).toLocaleTimeString()),
        h(
          'td',
          { 'data-label': 'Level' },
          h('span', { class: `badge ${entry.level === 'warn' ? 'badge-warn' : 'badge-error'}` }, entry.level),
        ),
        h('td', { 'data-label': 'Message', class: 'cell-wrap' }, message(entry)),
        h('td', { 'data-label': 'Request', class: 'cell-wrap' }, requestOf(entry)),
      ),
    ),
  );
}

function message(entry) {
  return entry.error ? `${entry.message}: ${entry.error}` : entry.message;
}

function requestOf(entry) {
  if (entry.method === undefined) return '—';
  return `${entry.method} ${entry.url ?? ''}${entry.status === undefined ? '' : ` → ${entry.status}`}`;
}

function taskList(tasks) {
  if (tasks.length === 0) return h('p', { class: 'muted', id: 'no-tasks' }, 'Nothing is running right now.');
  return listTable(
    'task-list',
    ['Task', 'On', 'Progress', 'Started', 'Last update'],
    tasks.map((task) =>
      h(
        'tr',
        { 'data-type': task.type },
        h('td', { 'data-label': 'Task' }, TASK_KINDS[task.type] ?? task.type),
        h('td', { 'data-label': 'On', class: 'cell-wrap' }, subject(task)),
        h('td', { 'data-label': 'Progress' }, progress(task)),
        h('td', { 'data-label': 'Started' }, time(task.started_on)),
        h('td', { 'data-label': 'Last update' }, time(task.updated_on)),
      ),
    ),
  );
}

/** A table of `rows` under the column names of `head` (on a phone, each row a card). */
function listTable(id, head, rows) {
  const names = h(
    'tr',
    {},
    head.map((text) => h('th', {}, text)),
  );
  return h('table', { class: 'list-table', id }, h('thead', {}, names), h('tbody', {}, rows));
}

function subject(task) {
  if (task.type === 'replication')
    return `${task.source} → ${task.target}${task.continuous ? ' (continuous)' : ''}`;
  if (task.design_document) return `${task.database}, ${task.design_document}`;
  return task.database ?? '—';
}

function progress(task) {
  if (task.type === 'replication') {
    const percent = typeof task.progress === 'number' ? `${task.progress}%, ` : '';
    return `${percent}${task.docs_written} written of ${task.docs_read} read`;
  }
  if (typeof task.total_changes === 'number')
    return `${task.progress}% (${task.changes_done} of ${task.total_changes} changes)`;
  return typeof task.progress === 'number' ? `${task.progress}%` : '—';
}

/** Seconds since the epoch, as CouchDB gives them, in the browser's time. */
function time(seconds) {
  return typeof seconds === 'number' ? new Date(seconds * 1000).toLocaleTimeString() : '—';
}
