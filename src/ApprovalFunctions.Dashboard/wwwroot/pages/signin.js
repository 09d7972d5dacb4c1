// Sign-in: pick a demo user in Development (the API mints the token), otherwise paste a bearer token.
import { api, ApiError } from '../api.js';
import { currentUser, setToken, userFromToken } from '../auth.js';
import { h, heading, loading, problemPanel } from '../ui.js';

export async function render(view, { query, navigate }) {
  const back = query.get('return');
  const target = back && back.startsWith('#/') && !back.startsWith('#/signin') ? back : '#/approvals';
  const done = () => navigate(target);
  const user = currentUser();
  const devArea = h('div', {}, loading('Looking for development sign-in…'));
  view.append(heading('Sign in'),
    user ? h('p', { class: 'notice' }, `You are signed in as ${user.name} (${user.id}). Signing in again replaces that session.`) : '',
    devArea,
    tokenForm(done));

  let users;
  try {
    const data = await api('/dev/users', { anonymous: true });
    users = Array.isArray(data) ? data : data?.items ?? [];
  } catch (e) {
    // 404 means the host is not in Development: pasting a token is the only way in.
    devArea.replaceChildren(e instanceof ApiError && e.status === 404 ? '' : problemPanel(e));
    return;
  }
  devArea.replaceChildren(devForm(users, done));
  view.querySelector('details.paste')?.removeAttribute('open');
}

function devForm(users, done) {
  const select = h('select', { id: 'dev-user', name: 'userId', required: true, 'data-testid': 'signin-user-picker' },
    users.map((u) => h('option', { value: u.id }, `${u.name || u.id} (${u.id})${u.roles?.length ? ` — ${u.roles.join(', ')}` : ''}`)));
  const problem = h('div');
  const submit = h('button', { type: 'submit', 'data-testid': 'signin-submit' }, 'Sign in');
  return h('form', {
    class: 'panel',
    'data-testid': 'signin-dev',
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      problem.replaceChildren();
      try {
        const { token } = await api('/dev/token', { method: 'POST', body: { userId: select.value }, anonymous: true });
        setToken(token);
        done();
      } catch (err) {
        problem.replaceChildren(problemPanel(err));
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h2', {}, 'Development sign-in'),
  h('p', { class: 'muted' }, 'This host runs in Development: choose a demo user and the API mints a token for it.'),
  h('label', { for: 'dev-user' }, 'Demo user'),
  select,
  h('div', { class: 'actions' }, submit),
  problem);
}

function tokenForm(done) {
  const error = h('p', { class: 'field-error', id: 'token-error', 'aria-live': 'polite' });
  const input = h('textarea', {
    id: 'token', rows: 4, spellcheck: 'false', autocomplete: 'off', required: true,
    'aria-describedby': 'token-error', 'data-testid': 'signin-token',
  });
  return h('details', { class: 'paste panel', open: true },
    h('summary', {}, 'Paste a bearer token'),
    h('form', {
      onsubmit: (e) => {
        e.preventDefault();
        const token = input.value.trim().replace(/^Bearer\s+/i, '');
        if (!userFromToken(token)) {
          input.setAttribute('aria-invalid', 'true');
          error.textContent = 'That is not a readable, unexpired JWT with a subject (sub).';
          input.focus();
          return;
        }
        input.removeAttribute('aria-invalid');
        setToken(token);
        done();
      },
    },
    h('label', { for: 'token' }, 'Bearer token (JWT)'),
    input,
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'signin-token-submit' }, 'Use token'))));
}
