// The login form, shown whenever nobody is logged in: the page never shows a bare 401.
import * as api from './api.js';
import { h } from './dom.js';

const WRONG_PASSWORD = 'That user name and password do not match. Please try again.';

/** Shows the form; on success hands the user to `app.loggedIn`. */
export function loginView(app, ticket, message) {
  const name = h('input', { id: 'login-name', name: 'name', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'login-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const error = h('p', { id: 'login-error', class: 'form-error', role: 'alert', hidden: !message }, message);
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Log in');

  async function onSubmit(event) {
    event.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      const answer = await api.logIn(name.value, password.value);
      app.loggedIn({ name: answer.name, roles: answer.roles });
    } catch (failure) {
      error.textContent = failure.status === 401 ? WRONG_PASSWORD : api.describeError(failure);
      error.hidden = false;
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
    }
  }

  const form = h(
    'form',
    { class: 'card login', on: { submit: onSubmit } },
    h('h1', {}, 'Log in'),
    h('p', { class: 'muted' }, 'Log in with your account to review documents whose versions disagree.'),
    h('label', { for: 'login-name' }, 'User name'),
    name,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    error,
    submit,
  );
  if (app.show(ticket, form)) name.focus();
}
