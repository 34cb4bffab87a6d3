// The server at work (server admins): its active tasks — compactions, index builds and
// replications — refreshed while shown. The metrics charts and the recent errors of the logs
// are another part of issue 17; their place is the section marked for them below.
import * as api from './api.js';
import { h, replaceKeepingFocus } from './dom.js';
import { refreshWhileShown } from './paging.js';

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
  const refresh = async () => {
    try {
      replaceKeepingFocus(tasks, taskList(await api.activeTasks()));
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
    metricsPlace(),
  );
  refreshWhileShown(app, ticket, refresh);
}

/**
 * Where the metrics charts and the logs' recent errors go once the server has `_stats`: empty
 * until then, and saying so, rather than showing numbers it does not have.
 */
function metricsPlace() {
  return h(
    'section',
    { id: 'server-metrics', 'aria-labelledby': 'metrics-title' },
    h('h2', { id: 'metrics-title', class: 'section-title' }, 'Metrics and recent errors'),
    h('p', { class: 'muted' }, 'This server does not report metrics yet.'),
  );
}

function taskList(tasks) {
  if (tasks.length === 0) return h('p', { class: 'muted', id: 'no-tasks' }, 'Nothing is running right now.');
  const head = ['Task', 'On', 'Progress', 'Started', 'Last update'];
  return h(
    'table',
    { class: 'list-table', id: 'task-list' },
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
    ),
  );
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
