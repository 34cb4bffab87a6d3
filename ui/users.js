// The users of `_users`, for server admins: create one, reset a password, edit roles, delete.
// Server admins themselves live in the server's configuration and are not listed here.
import * as api from './api.js';
import { h, plural, replaceChildren } from './dom.js';

export async function usersView(app, ticket) {
  if (!api.isServerAdmin(app.user())) {
    return app.show(
      ticket,
      h('h1', {}, 'Users'),
      h('p', { class: 'lead' }, 'Only server admins can see and manage users.'),
    );
  }
  // `open`: the card whose panel is open, `{ name, kind, typed }`; `error`: that panel's.
  const model = { users: await api.users(), open: null, error: null };
  const list = h('div', { class: 'user-list-area' });
  const lead = h('p', { class: 'lead', id: 'users-summary' });
  /** Redraws the list; `focus` picks the element to focus in it afterwards. */
  const draw = (focus) => {
    lead.textContent = summary(model.users.length);
    replaceChildren(list, userList(app, ticket, model, draw));
    focus?.(list)?.focus();
  };
  const reload = async () => {
    model.users = await api.users();
    draw();
  };
  const create = createForm(app, ticket, reload);
  draw();
  app.show(
    ticket,
    h('h1', {}, 'Users'),
    lead,
    create,
    h('h2', { class: 'section-title' }, 'All users'),
    list,
  );
}

function summary(count) {
  if (count === 0) return 'No users yet. Server admins are set in the server’s configuration.';
  return `${plural(count, 'user')}. Server admins are set in the server’s configuration and are not listed.`;
}

/** "sales, staff , ,sales" → ["sales", "staff"]. */
function parseRoles(text) {
  return [...new Set(text.split(',').map((role) => role.trim()))].filter((role) => role !== '');
}

/** The card of a user by name, without putting the name into a selector unescaped. */
function cardOf(root, name) {
  return [...root.querySelectorAll('.user-card')].find((card) => card.dataset.user === name);
}

function createForm(app, ticket, reload) {
  const field = (id, label, attrs, hint) => {
    const input = h('input', { id, name: id, ...attrs });
    return {
      input,
      node: h(
        'div',
        { class: 'field' },
        h('label', { for: id }, label),
        input,
        hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
      ),
    };
  };
  const name = field('new-user-name', 'User name', {
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
  });
  const password = field('new-user-password', 'Password', {
    type: 'password',
    autocomplete: 'new-password',
    required: true,
  });
  const roles = field(
    'new-user-roles',
    'Roles (comma-separated)',
    { autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'new-user-roles-hint' },
    'For example: sales, staff. Roles that start with _ are reserved for the server.',
  );
  const error = h('p', { class: 'form-error', role: 'alert', id: 'create-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Create user');

  async function onSubmit(event) {
    event.preventDefault();
    const userName = name.input.value.trim();
    submit.disabled = true;
    error.hidden = true;
    try {
      await api.createUser(userName, password.input.value, parseRoles(roles.input.value));
      for (const input of [name.input, password.input, roles.input]) input.value = '';
      app.notify(`Created the user “${userName}”.`, 'success');
    } catch (failure) {
      if (failure.status === 401) return app.fail(ticket, failure);
      error.textContent =
        failure.status === 409 ? `There is already a user named “${userName}”.` : refusal(userName, failure);
      error.hidden = false;
      return name.input.focus();
    } finally {
      submit.disabled = false;
    }
    try {
      await reload();
    } catch (failure) {
      return app.fail(ticket, failure);
    }
    name.input.focus();
  }

  return h(
    'form',
    {
      class: 'card form-card',
      id: 'create-user',
      on: { submit: onSubmit },
      'aria-labelledby': 'create-title',
    },
    h('h2', { id: 'create-title' }, 'Add a user'),
    h('div', { class: 'form-grid' }, name.node, password.node, roles.node),
    error,
    h('div', { class: 'form-buttons' }, submit),
  );
}

function userList(app, ticket, model, draw) {
  if (model.users.length === 0) return h('p', { class: 'muted' }, 'Users you add appear here.');
  return h(
    'ul',
    { class: 'user-list', id: 'user-list' },
    model.users.map((doc) => userCard(app, ticket, model, doc, draw)),
  );
}

function userCard(app, ticket, model, doc, draw) {
  const open = model.open?.name === doc.name ? model.open.kind : null;
  const toggle = (kind) => () => {
    model.open = open === kind ? null : { name: doc.name, kind };
    model.error = null;
    // Into the panel just opened (its first field or button), or back to the button that opened it.
    draw((root) =>
      cardOf(root, doc.name)?.querySelector(
        model.open ? '.panel input, .panel button' : `[data-action="${kind}"]`,
      ),
    );
  };
  const action = (kind, label) =>
    h(
      'button',
      {
        type: 'button',
        class: `button button-small${kind === 'delete' ? ' button-danger' : ''}`,
        'data-action': kind,
        'aria-expanded': open === kind ? 'true' : 'false',
        on: { click: toggle(kind) },
      },
      label,
    );
  const roles = Array.isArray(doc.roles) ? doc.roles : [];
  return h(
    'li',
    { class: 'user-card', 'data-user': doc.name },
    h(
      'div',
      { class: 'user-head' },
      h('span', { class: 'user-name' }, doc.name),
      h(
        'span',
        { class: 'user-roles' },
        roles.length === 0
          ? h('span', { class: 'muted' }, 'no roles')
          : roles.map((role) => h('span', { class: 'tag tag-role' }, role)),
      ),
    ),
    h(
      'div',
      { class: 'user-actions' },
      action('password', 'Reset password'),
      action('roles', 'Edit roles'),
      action('delete', 'Delete'),
    ),
    open ? panel(app, ticket, model, doc, open, draw) : null,
  );
}

/** The open panel of a card: a new password, new roles, or the confirmation of a delete. */
function panel(app, ticket, model, doc, kind, draw) {
  const backTo = (root) => cardOf(root, doc.name)?.querySelector(`[data-action="${kind}"]`);
  const close = () => {
    model.open = null;
    model.error = null;
    draw(backTo);
  };
  const cancel = h('button', { type: 'button', class: 'button', on: { click: close } }, 'Cancel');
  const error = model.error ? h('p', { class: 'form-error', role: 'alert' }, model.error) : null;
  const body =
    kind === 'delete' ? deletePanel(doc, cancel, error) : editPanel(model, doc, kind, cancel, error);
  body.node.addEventListener(kind === 'delete' ? 'click' : 'submit', async (event) => {
    if (kind === 'delete' && event.target.id !== 'confirm-delete') return;
    event.preventDefault();
    for (const button of body.node.querySelectorAll('button')) button.disabled = true;
    await settle(app, ticket, model, doc, body, draw, backTo);
  });
  return body.node;
}

/** Runs a panel's request, then shows the list as it now is, the outcome, and where focus goes. */
async function settle(app, ticket, model, doc, body, draw, backTo) {
  let focus = body.focusAfter ?? backTo;
  try {
    await body.work();
    model.open = null;
    model.error = null;
    app.notify(body.done, 'success');
  } catch (failure) {
    if (failure.status === 401) return app.fail(ticket, failure);
    model.error = refusal(doc.name, failure);
    focus = (root) => cardOf(root, doc.name)?.querySelector('.panel input, .panel button');
  }
  try {
    model.users = await api.users();
  } catch (failure) {
    return app.fail(ticket, failure);
  }
  draw(focus);
}

/** Why a change to a user failed, in words: a refused role says which and why. */
function refusal(name, failure) {
  if (failure.status === 409) {
    return `“${name}” was changed by someone else meanwhile. This list now shows the latest: try again.`;
  }
  if (failure.status === 403 && failure.reason) return `The server refused this: ${failure.reason}`;
  return api.describeError(failure);
}

function deletePanel(doc, cancel, error) {
  const confirm = h(
    'button',
    { type: 'button', class: 'button button-danger-solid', id: 'confirm-delete' },
    `Delete ${doc.name}`,
  );
  const node = h(
    'div',
    { class: 'panel panel-danger', role: 'group', 'aria-label': `Delete ${doc.name}` },
    h(
      'p',
      {},
      `Delete the user “${doc.name}”? They will no longer be able to log in. This cannot be undone.`,
    ),
    error,
    // Cancel first, and focused as the panel opens: a stray Enter deletes nobody.
    h('div', { class: 'form-buttons' }, cancel, confirm),
  );
  return {
    node,
    work: () => api.deleteUser(doc.name, doc._rev),
    done: `Deleted the user “${doc.name}”.`,
    // On to the next user, or to the form to add one when none is left.
    focusAfter: (root) =>
      root.querySelector('.user-card [data-action]') ?? document.getElementById('new-user-name'),
  };
}

function editPanel(model, doc, kind, cancel, error) {
  const password = kind === 'password';
  const id = `${kind}-${doc._id}`;
  const input = h('input', {
    id,
    type: password ? 'password' : 'text',
    autocomplete: password ? 'new-password' : 'off',
    spellcheck: 'false',
    required: password,
    // Roles typed and refused stay as typed; a refused password is typed again.
    value: password ? '' : (model.open.typed ?? (doc.roles ?? []).join(', ')),
  });
  if (!password) input.addEventListener('input', () => (model.open.typed = input.value));
  const label = password ? `New password for ${doc.name}` : `Roles of ${doc.name} (comma-separated)`;
  const node = h(
    'form',
    { class: 'panel' },
    h('label', { for: id }, label),
    input,
    error,
    h(
      'div',
      { class: 'form-buttons' },
      cancel,
      h(
        'button',
        { type: 'submit', class: 'button button-primary' },
        password ? 'Set password' : 'Save roles',
      ),
    ),
  );
  return {
    node,
    work: () =>
      api.updateUser(doc, password ? { password: input.value } : { roles: parseRoles(input.value) }),
    done: password ? `The password of “${doc.name}” is changed.` : `The roles of “${doc.name}” are saved.`,
  };
}
