// The page's shell: who is logged in, which view the address (#/…) asks for, and the notice bar.
// Views get an `app` object to show their content, report errors and move between views.
import * as api from './api.js';
import { conflictListView } from './conflict-list.js';
import { databasesView } from './databases.js';
import { docEditorView, newDocView } from './doc-editor.js';
import { documentsView } from './docs.js';
import { historyView } from './history.js';
import { documentView } from './document.js';
import { h, replaceChildren } from './dom.js';
import { findView } from './find.js';
import { loginView } from './login.js';
import { replicationView } from './replication.js';
import { securityView } from './security.js';
import { serverView } from './server.js';
import { usersView } from './users.js';

const view = document.getElementById('view');
const notice = document.getElementById('notice');
const account = document.getElementById('account');
// Links to what only server admins may see.
const adminLinks = ['users-link', 'replication-link', 'server-link'].map((id) => document.getElementById(id));

let user = null;
// Each render gets a number: a slow view that finishes after the person moved on shows nothing.
let generation = 0;
// A notice raised just before navigating (e.g. "Saved") survives that one navigation.
let keepNotice = false;

const app = {
  /** Shows a view's content, unless the person has already moved to another view. */
  show(ticket, ...nodes) {
    if (ticket !== generation) return false;
    replaceChildren(view, ...nodes);
    return true;
  },
  notify(message, kind = 'info', { keepAfterNavigation = false } = {}) {
    keepNotice = keepAfterNavigation;
    notice.className = `notice notice-${kind}`;
    replaceChildren(notice, message);
    notice.hidden = false;
  },
  clearNotice() {
    notice.hidden = true;
    replaceChildren(notice);
  },
  go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  },
  reload: () => render(),
  /** Whether the view of `ticket` is still the one shown (a view refreshing itself stops when not). */
  isCurrent: (ticket) => ticket === generation,
  /** Who is logged in: `{ name, roles }`. */
  user: () => user,
  /**
   * Shows what went wrong in plain words; an ended session goes back to the login form. A view
   * that could not be shown at all (still loading) gives way to a way back.
   */
  fail(ticket, error) {
    if (ticket !== generation) return;
    if (error?.status === 401) {
      setUser(null);
      loginView(app, ++generation, 'Your session has ended. Please log in again.');
      return;
    }
    app.notify(api.describeError(error), 'error');
    if (view.querySelector('.loading')) {
      app.show(ticket, h('p', { class: 'lead' }, 'This page could not be shown.'), backHome());
    }
  },
  loggedIn(userCtx) {
    setUser(userCtx);
    app.clearNotice();
    render();
  },
};

const backHome = () => h('a', { class: 'button', href: '#/' }, '← Back to the databases');

function setUser(userCtx) {
  user = userCtx && userCtx.name !== null ? userCtx : null;
  account.hidden = user === null;
  document.getElementById('account-name').textContent = user ? `Logged in as ${user.name}` : '';
  // Only server admins manage users, replications and the server; it refuses everyone else anyway.
  for (const link of adminLinks) link.hidden = !api.isServerAdmin(user);
}

/** Marks the header link of the current view for screen readers and the eye. */
function markCurrent(name) {
  for (const link of document.querySelectorAll('.nav a')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** Views of the whole server (`#/users`…), and of one database without more (`#/db/x/docs`…). */
const TOP_VIEWS = new Set(['users', 'replication', 'server']);
const DB_VIEWS = new Set(['docs', 'new', 'find']);

/** Each view by route name: `(app, ticket, target)`. */
const VIEWS = {
  users: (ticket) => usersView(app, ticket),
  replication: (ticket) => replicationView(app, ticket),
  server: (ticket) => serverView(app, ticket),
  security: (ticket, { db }) => securityView(app, ticket, db),
  conflicts: (ticket, { db }) => conflictListView(app, ticket, db),
  history: (ticket, { db, id }) => historyView(app, ticket, db, id),
  document: (ticket, { db, id }) => documentView(app, ticket, db, id),
  docs: (ticket, { db }) => documentsView(app, ticket, db),
  editor: (ticket, { db, id }) => docEditorView(app, ticket, db, id),
  new: (ticket, { db }) => newDocView(app, ticket, db),
  find: (ticket, { db }) => findView(app, ticket, db),
  databases: (ticket) => databasesView(app, ticket),
};

function parseRoute(hash) {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  if (parts.length === 1 && TOP_VIEWS.has(parts[0])) return { name: parts[0] };
  if (parts[0] === 'db' && parts.length === 2) return { name: 'conflicts', db: parts[1] };
  if (parts[0] === 'db' && parts[2] === 'security' && parts.length === 3) {
    return { name: 'security', db: parts[1] };
  }
  if (parts[0] === 'db' && parts[2] === 'history' && parts.length <= 4) {
    return { name: 'history', db: parts[1], id: parts[3] };
  }
  if (parts[0] === 'db' && parts[2] === 'doc' && parts.length === 4) {
    return { name: 'document', db: parts[1], id: parts[3] };
  }
  if (parts[0] === 'db' && parts[2] === 'docs' && parts.length === 4) {
    return { name: 'editor', db: parts[1], id: parts[3] };
  }
  if (parts[0] === 'db' && DB_VIEWS.has(parts[2]) && parts.length === 3) {
    return { name: parts[2], db: parts[1] };
  }
  return { name: 'databases' };
}

async function render() {
  const ticket = ++generation;
  if (keepNotice) keepNotice = false;
  else app.clearNotice();
  if (user === null) return loginView(app, ticket);
  const target = parseRoute(location.hash);
  markCurrent(TOP_VIEWS.has(target.name) ? target.name : 'databases');
  // Until the view has its data: what failed to load must not sit under the last view's content.
  if (!view.querySelector('.loading')) app.show(ticket, h('p', { class: 'loading' }, 'Loading…'));
  try {
    await VIEWS[target.name](ticket, target);
  } catch (error) {
    app.fail(ticket, error);
  }
}

async function logOut() {
  try {
    await api.logOut();
  } catch {
    // The cookie is cleared on the next login anyway; leave the person at the login form.
  }
  setUser(null);
  app.notify('You are logged out.', 'info', { keepAfterNavigation: true });
  render();
}

async function start() {
  document.getElementById('logout').addEventListener('click', logOut);
  window.addEventListener('hashchange', render);
  try {
    setUser(await api.session());
  } catch (error) {
    app.notify(api.describeError(error), 'error', { keepAfterNavigation: true });
  }
  render();
}

start();
