// Small DOM helpers shared by the pages. Text always goes in as text nodes: no innerHTML anywhere.
import { apiPage } from './api.js';

/** h('a', {href, class, 'data-testid', onclick}, ...children) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function span(ms) {
  const m = Math.round(Math.abs(ms) / 60000);
  if (m < 60) return `${m}m`;
  const hrs = Math.round(m / 60);
  return hrs < 48 ? `${hrs}h` : `${Math.round(hrs / 24)}d`;
}

/** "3h" since `iso`. */
export function fmtAge(iso) {
  return iso ? span(Date.now() - new Date(iso).getTime()) : '—';
}

/** "in 4h" or "overdue 2h". */
export function fmtDue(iso) {
  if (!iso) return '—';
  const ms = new Date(iso).getTime() - Date.now();
  return ms >= 0 ? `in ${span(ms)}` : `overdue ${span(ms)}`;
}

/** <time> showing `text`, with the exact time as its tooltip. */
export function time(iso, text = fmtDate(iso)) {
  return iso ? h('time', { datetime: iso, title: fmtDate(iso) }, text) : '—';
}

export function badge(status, props = {}) {
  const s = status || 'unknown';
  return h('span', { class: `badge badge-${s}`, 'data-status': s, ...props }, s.replace(/([A-Z])/g, ' $1').toLowerCase());
}

export function heading(text) {
  document.title = `${text} · Approvals`;
  return h('h1', { tabindex: '-1', id: 'page-title' }, text);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'muted', role: 'status' }, text);
}

/** The API's problem details, shown as they are: title, status, detail, and per-field errors. */
export function problemPanel(error, props = {}) {
  const p = error?.problem ?? { title: String(error?.message ?? error) };
  const errors = p.errors && typeof p.errors === 'object' ? Object.entries(p.errors) : [];
  return h('div', { class: 'problem', role: 'alert', 'data-testid': 'problem-panel', 'data-status': p.status ?? '', ...props },
    h('p', { class: 'problem-title' }, p.title || 'Request failed', p.status ? ` (${p.status})` : ''),
    p.detail && h('p', {}, p.detail),
    errors.length > 0 && h('ul', {}, errors.map(([field, msgs]) => h('li', {}, h('code', {}, field), ': ', [].concat(msgs).join(' ')))),
    p.type && p.type !== 'about:blank' && h('p', { class: 'muted small' }, 'Type: ', h('code', {}, p.type)),
    p.traceId && h('p', { class: 'muted small' }, 'Trace: ', h('code', {}, p.traceId)),
  );
}

/** A polite, self-removing notice in the shared live region. */
export function toast(message, kind = 'ok') {
  const region = document.getElementById('toasts');
  const el = h('div', { class: `toast toast-${kind}`, 'data-testid': 'toast' }, message);
  region.append(el);
  setTimeout(() => el.remove(), 6000);
}

/**
 * A table that turns into cards on narrow screens (each cell carries its column label).
 * columns: [{label, cell: (row) => node|string, class?}]; rowProps: (row) => attributes for <tr>.
 */
export function table(columns, rows, { caption, rowProps = () => ({}), props = {} } = {}) {
  const body = h('tbody');
  const tbl = h('table', { class: 'cards', ...props },
    caption && h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    body);
  tbl.addRows = (more) => body.append(...more.map((r) => h('tr', rowProps(r),
    columns.map((c) => h('td', { 'data-label': c.label, class: c.class }, c.cell(r))))));
  tbl.addRows(rows);
  return tbl;
}

/**
 * Loads a paged list into `container` as a table, with a "Load more" button while the API
 * hands back a continuation token. `expand(item)` may turn one item into several rows.
 */
export async function pagedTable(container, path, columns, { empty, caption, rowProps, props, expand = (x) => [x] } = {}) {
  container.replaceChildren(loading());
  let page;
  try {
    page = await apiPage(path);
  } catch (e) {
    container.replaceChildren(problemPanel(e));
    return;
  }
  const rows = page.items.flatMap(expand);
  if (rows.length === 0 && !page.continuationToken) {
    container.replaceChildren(h('p', { class: 'empty', 'data-testid': 'empty' }, empty));
    return;
  }
  const tbl = table(columns, rows, { caption, rowProps, props });
  const more = h('button', { type: 'button', class: 'secondary', 'data-testid': 'load-more' }, 'Load more');
  const status = h('div', { 'aria-live': 'polite' });
  let token = page.continuationToken;
  more.hidden = !token;
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const next = await apiPage(path, token);
      tbl.addRows(next.items.flatMap(expand));
      token = next.continuationToken;
      more.hidden = !token;
      status.replaceChildren();
    } catch (e) {
      status.replaceChildren(problemPanel(e));
    } finally {
      more.disabled = false;
    }
  });
  container.replaceChildren(tbl, more, status);
}

/** Pretty JSON in a <pre>, or a definition list when every value is a scalar. */
export function dataView(obj) {
  if (!obj || typeof obj !== 'object' || Object.keys(obj).length === 0) return h('p', { class: 'muted' }, 'None');
  const entries = Object.entries(obj);
  if (!Array.isArray(obj) && entries.every(([, v]) => v === null || typeof v !== 'object')) {
    return h('dl', { class: 'kv' }, entries.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null ? '—' : String(v))]));
  }
  return h('pre', { class: 'json' }, JSON.stringify(obj, null, 2));
}

export function workflowLabel(workflow) {
  if (!workflow) return '—';
  if (typeof workflow === 'string') return workflow;
  return `${workflow.name || workflow.id}${workflow.version ? ` v${workflow.version}` : ''}`;
}

/** "model · recordId", and the workflow under it when the row carries one (list rows usually do not). */
export function recordCell(r) {
  // One element per cell: on narrow screens each cell is a two-column grid (label, value).
  return h('span', {}, `${r.model ?? '—'} · ${r.recordId ?? '—'}`, r.workflow ? h('span', { class: 'muted small block' }, workflowLabel(r.workflow)) : '');
}

export function requestTitle(request) {
  return request.title || `${request.model} ${request.recordId}`;
}

/**
 * The stages of `request` that wait on `userId`: the ones the API names in `myStages` (this covers
 * delegates), otherwise pending stages listing the user as an approver.
 */
export function myStages(request, userId) {
  const stages = request.stages ?? [];
  if (Array.isArray(request.myStages)) return stages.filter((s) => request.myStages.includes(s.id));
  return stages.filter((s) => s.status === 'pending' && (s.approvers ?? []).some((a) => (a?.id ?? a) === userId));
}
