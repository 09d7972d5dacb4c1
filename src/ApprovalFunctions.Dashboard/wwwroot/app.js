// Entry point: hash routing, the top navigation and who is signed in.
import { api } from './api.js';
import { clearToken, currentUser } from './auth.js';
import { h, problemPanel, toast } from './ui.js';
import * as signin from './pages/signin.js';
import * as approvals from './pages/approvals.js';
import * as requests from './pages/requests.js';
import * as detail from './pages/detail.js';
import * as workflows from './pages/workflows.js';
import * as callbacks from './pages/callbacks.js';

const routes = [
  { pattern: /^\/signin$/, page: signin.render, public: true },
  { pattern: /^\/approvals$/, page: approvals.render },
  { pattern: /^\/requests$/, page: requests.render },
  { pattern: /^\/requests\/([^/]+)$/, page: detail.render },
  { pattern: /^\/workflows$/, page: workflows.renderList, admin: true },
  { pattern: /^\/workflows\/([^/]+)$/, page: workflows.renderEditor, admin: true },
  { pattern: /^\/callbacks$/, page: callbacks.render, admin: true },
];

const nav = [
  { href: '#/approvals', label: 'My approvals' },
  { href: '#/requests', label: 'My requests' },
  { href: '#/workflows', label: 'Workflows', admin: true },
  { href: '#/callbacks', label: 'Callbacks', admin: true },
];

// The display name from GET /me, fetched once per token; the JWT claims are the fallback.
let profile = { forUser: null, name: null };

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/approvals';
  const [path, search = ''] = raw.split('?');
  return { path, query: new URLSearchParams(search) };
}

function renderChrome(user, path) {
  const navEl = document.getElementById('nav');
  navEl.replaceChildren(...(user ? nav.filter((n) => !n.admin || user.isAdmin) : []).map((n) =>
    h('a', { href: n.href, 'aria-current': path.startsWith(n.href.slice(1)) ? 'page' : undefined }, n.label)));
  const who = document.getElementById('whoami');
  if (!user) {
    who.replaceChildren(h('a', { href: '#/signin' }, 'Sign in'));
    return;
  }
  const name = profile.forUser === user.id && profile.name ? profile.name : user.name;
  who.replaceChildren(
    h('span', { 'data-testid': 'whoami', title: `${user.id} · tenant ${user.tenantId ?? '?'}` }, name,
      user.roles.length ? h('span', { class: 'muted' }, ` (${user.roles.join(', ')})`) : ''),
    h('button', { type: 'button', class: 'link', 'data-testid': 'signout', onclick: () => { clearToken(); navigate('#/signin'); } }, 'Sign out'));
}

async function loadProfile(user) {
  if (profile.forUser === user.id) return;
  profile = { forUser: user.id, name: null };
  try {
    const me = await api('/me');
    if (me?.name && profile.forUser === user.id) {
      profile.name = me.name;
      renderChrome(currentUser(), parseHash().path);
    }
  } catch {
    // /me is a nicety: the token's claims already say who this is.
  }
}

async function route() {
  const { path, query } = parseHash();
  const user = currentUser();
  const match = routes.map((r) => ({ r, m: path.match(r.pattern) })).find((x) => x.m);
  if (!user && !(match && match.r.public)) {
    navigate(`#/signin?return=${encodeURIComponent(location.hash || '#/approvals')}`);
    return;
  }
  renderChrome(user, path);
  if (user) loadProfile(user);

  const main = document.getElementById('main');
  const view = h('div', { class: 'view' });
  main.replaceChildren(view);
  if (!match) {
    view.append(h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, h('a', { href: '#/approvals' }, 'Go to my approvals')));
  } else if (match.r.admin && !user.isAdmin) {
    view.append(h('h1', { tabindex: '-1' }, 'Admins only'), h('p', {}, 'This page needs the admin role.'));
  } else {
    try {
      await match.r.page(view, { params: match.m.slice(1).map(decodeURIComponent), query, user, navigate });
    } catch (e) {
      view.append(problemPanel(e));
    }
  }
  // Move focus to the new page's heading so keyboard and screen-reader users land on it.
  if (view.isConnected && !view.contains(document.activeElement)) view.querySelector('h1')?.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
window.addEventListener('approvals:unauthorized', () => {
  // Parallel calls can all be refused; the first one sends the user to sign-in.
  if (location.hash.startsWith('#/signin')) return;
  clearToken();
  toast('Your session has expired or the token was refused. Please sign in again.', 'error');
  navigate(`#/signin?return=${encodeURIComponent(location.hash)}`);
});
document.addEventListener('click', (e) => {
  // The skip link must not change the hash route.
  if (e.target.closest?.('[data-skip]')) {
    e.preventDefault();
    document.getElementById('main').focus();
  }
});
route();
