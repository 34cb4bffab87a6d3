// One database's security: who are its members (they read and write documents) and its admins
// (they also change this page and design documents). Database admins and server admins edit it;
// members see it read-only.
import * as api from './api.js';
import { crumbs, h, replaceChildren } from './dom.js';

const GROUPS = [
  {
    key: 'members',
    title: 'Members',
    about: 'Members may read and write the documents of this database.',
  },
  {
    key: 'admins',
    title: 'Admins',
    about:
      'Admins may also change this page and the database’s design documents. ' +
      'They can read and write documents too, without being members.',
  },
];

const FIELDS = [
  { key: 'names', one: 'user name', label: 'User name', none: 'No user names.' },
  { key: 'roles', one: 'role', label: 'Role', none: 'No roles.' },
];

/** What CouchDB 3 and Settee give a new database: only server admins get in. */
const ADMIN_ONLY = { members: { names: [], roles: ['_admin'] }, admins: { names: [], roles: ['_admin'] } };

export async function securityView(app, ticket, db) {
  const stored = await api.security(db);
  const model = {
    db,
    stored,
    saved: groupsOf(stored),
    draft: groupsOf(stored),
    editable: mayEdit(app.user(), groupsOf(stored)),
    saving: false,
    error: null,
    status: '',
    publicShown: false,
  };
  const root = h('div', { class: 'security' });
  const draw = (focus) => {
    replaceChildren(root, ...page(app, ticket, model, draw));
    if (focus) root.querySelector(focus)?.focus();
  };
  draw();
  app.show(ticket, crumbs(db, 'Security'), root);
}

/** `admins` and `members` as lists of strings, whatever the stored object holds (`{}` too). */
function groupsOf(security) {
  const list = (value) => (Array.isArray(value) ? value.filter((item) => typeof item === 'string') : []);
  const group = (value) => ({ names: list(value?.names), roles: list(value?.roles) });
  return { members: group(security?.members), admins: group(security?.admins) };
}

/** A guess the server has the last word on: a refused save turns editing off. */
function mayEdit(userCtx, groups) {
  if (api.isServerAdmin(userCtx)) return true;
  if (userCtx?.name && groups.admins.names.includes(userCtx.name)) return true;
  return (userCtx?.roles ?? []).some((role) => groups.admins.roles.includes(role));
}

const isPublic = (groups) => groups.members.names.length === 0 && groups.members.roles.length === 0;
const isChanged = (model) => JSON.stringify(model.draft) !== JSON.stringify(model.saved);

function page(app, ticket, model, draw) {
  const changed = () => {
    model.status = isChanged(model) ? 'You have changes that are not saved yet.' : '';
    model.error = null;
  };
  const edit = (change, focus) => {
    change(model.draft);
    changed();
    draw(focus);
  };
  return [
    h('h1', {}, `Security of ${model.db}`),
    h('p', { class: 'lead' }, 'Who may read and change this database.'),
    publicWarning(model),
    model.editable ? null : readOnlyNote(),
    GROUPS.map((group) => groupSection(model, group, edit)),
    h(
      'p',
      { class: 'muted' },
      'New databases start admin-only: their members and admins are the role _admin, ' +
        'so only server admins get in until someone is added here.',
    ),
    model.editable ? actionBar(app, ticket, model, edit, draw) : null,
  ];
}

function publicWarning(model) {
  const shown = model.publicShown;
  model.publicShown = isPublic(model.draft);
  if (!model.publicShown) return null;
  const saved = isPublic(model.saved);
  // Announced as it appears, not again at every redraw while it stays.
  return h(
    'div',
    { class: 'warning', role: shown ? null : 'alert', id: 'public-warning' },
    h('strong', {}, saved ? 'This database is public.' : 'Saving this makes the database public.'),
    ' With no member names and no member roles, anyone — even without signing in — can read and ' +
      'write its documents. Add a user name or a role to Members to keep it private.',
  );
}

function readOnlyNote() {
  return h(
    'p',
    { class: 'note', id: 'read-only' },
    'You can see who has access here, but only this database’s admins and server admins can change it.',
  );
}

function groupSection(model, group, edit) {
  return h(
    'section',
    { class: 'card sec-group', id: `group-${group.key}`, 'aria-labelledby': `group-${group.key}-title` },
    h('h2', { id: `group-${group.key}-title` }, group.title),
    h('p', { class: 'muted' }, group.about),
    h(
      'div',
      { class: 'sec-fields' },
      FIELDS.map((field) => entryList(model, group, field, edit)),
    ),
  );
}

/** One list (e.g. the members' roles): its entries, each removable, and a form to add one. */
function entryList(model, group, field, edit) {
  const entries = model.draft[group.key][field.key];
  const base = `${group.key}-${field.key}`;
  const remove = (i) =>
    edit(
      (draft) => draft[group.key][field.key].splice(i, 1),
      // Focus stays in the list: on the entry that took its place, else the field to add one.
      entries.length > 1
        ? `#${base} .entry:nth-child(${Math.min(i + 1, entries.length - 1)}) button`
        : `#${base}-input`,
    );
  const items = entries.map((entry, i) =>
    h(
      'li',
      { class: 'entry', 'data-entry': entry },
      h('span', { class: 'entry-text' }, entry),
      model.editable
        ? h(
            'button',
            {
              type: 'button',
              class: 'button button-small button-quiet',
              'aria-label': `Remove ${field.one} ${entry} from ${group.title.toLowerCase()}`,
              on: { click: () => remove(i) },
            },
            'Remove',
          )
        : null,
    ),
  );
  return h(
    'div',
    { class: 'sec-field' },
    h('h3', {}, field.key === 'names' ? 'User names' : 'Roles'),
    items.length > 0
      ? h('ul', { class: 'entries', id: base }, items)
      : h('p', { class: 'muted', id: base }, field.none),
    model.editable ? addForm(group, field, base, entries, edit) : null,
  );
}

function addForm(group, field, base, entries, edit) {
  const add = `Add ${field.key === 'names' ? 'name' : 'role'}`;
  const input = h('input', { id: `${base}-input`, autocomplete: 'off', spellcheck: 'false' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const onSubmit = (event) => {
    event.preventDefault();
    const value = input.value.trim();
    const problem =
      value === ''
        ? `Type a ${field.one} first.`
        : entries.includes(value)
          ? `“${value}” is already there.`
          : null;
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      input.focus();
      return;
    }
    edit((draft) => draft[group.key][field.key].push(value), `#${base}-input`);
  };
  return h(
    'form',
    { class: 'add-form', on: { submit: onSubmit } },
    h('label', { for: input.id }, `${field.label} to add to ${group.title.toLowerCase()}`),
    h(
      'div',
      { class: 'add-row' },
      input,
      h(
        'button',
        // Named after its group too: the page has one such button per list.
        { type: 'submit', class: 'button', 'aria-label': `${add} to ${group.title.toLowerCase()}` },
        add,
      ),
    ),
    error,
  );
}

function actionBar(app, ticket, model, edit, draw) {
  const dirty = isChanged(model);
  // Only for server admins: a database admin would lock themselves out with it.
  const restore =
    api.isServerAdmin(app.user()) &&
    h(
      'button',
      {
        type: 'button',
        class: 'button button-quiet',
        id: 'admin-only',
        disabled: model.saving,
        on: {
          click: () => edit((draft) => Object.assign(draft, structuredClone(ADMIN_ONLY)), '#admin-only'),
        },
      },
      'Make it admin-only',
    );
  const save = h(
    'button',
    {
      type: 'button',
      class: 'button button-primary',
      id: 'save-security',
      disabled: !dirty || model.saving,
      on: { click: () => saveSecurity(app, ticket, model, draw) },
    },
    model.saving ? 'Saving…' : 'Save',
  );
  return h(
    'div',
    { class: 'action-bar' },
    h('p', { class: 'choice', id: 'security-status', tabindex: '-1' }, model.status || 'No unsaved changes.'),
    model.error
      ? h('p', { class: 'bar-error', role: 'alert', id: 'security-error' }, api.describeError(model.error))
      : null,
    h('div', { class: 'bar-buttons' }, restore, save),
  );
}

async function saveSecurity(app, ticket, model, draw) {
  model.saving = true;
  model.error = null;
  draw();
  // Fields of the stored object beyond the two groups (an application's own) are kept.
  const { stored, draft } = model;

  const body = {
    ...stored,
    members: { ...stored.members, ...structuredClone(draft.members) },
    admins: { ...stored.admins, ...structuredClone(draft.admins) },
  };
  try {
    await api.saveSecurity(model.db, body);
  } catch (error) {
    model.saving = false;
    if (error.status === 401) return app.fail(ticket, error);
    if (error.status === 403) {
      // Not an admin of this database after all: the page becomes read-only, unsaved edits dropped.
      model.editable = false;
      model.draft = structuredClone(model.saved);
      draw();
      return app.notify(api.describeError(error), 'error');
    }
    model.error = error;
    return draw('#save-security');
  }
  // What was sent is saved; anything edited while it was on its way is still a change.
  Object.assign(model, { stored: body, saved: groupsOf(body), saving: false });
  model.status = isChanged(model) ? 'You have changes that are not saved yet.' : 'Saved.';
  app.notify(`Saved. The security of “${model.db}” is updated.`, 'success');
  draw('#security-status');
}
