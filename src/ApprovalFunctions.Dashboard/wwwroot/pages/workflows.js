// Workflows (admin): the list, versions, a JSON editor that shows validation errors where they
// point, and a preview that runs a sample record through the routing.
import { api, ApiError, enc } from '../api.js';
import { badge, h, heading, loading, pagedTable, problemPanel, time, toast } from '../ui.js';

// Fields the API adds to a published workflow; they are not part of the definition sent back.
const serverFields = ['id', 'workflowId', 'version', 'publishedAt', 'active', 'createdAt', 'updatedAt', 'deactivatedAt', 'tenantId', 'etag'];

const template = {
  name: 'New workflow',
  model: 'account.move',
  event: 'create',
  condition: true,
  priority: 0,
  expiresIn: 'P14D',
  allowSelfApproval: false,
  stages: [{ id: 'manager', name: 'Manager', order: 1, approvers: [{ type: 'manager', levels: 1 }], consensus: { mode: 'any' }, rejection: 'veto' }],
};

export async function renderList(view, { navigate }) {
  const idInput = h('input', { id: 'new-workflow-id', required: true, pattern: '[A-Za-z0-9._-]+', 'data-testid': 'new-workflow-id' });
  const list = h('div');
  view.append(heading('Workflows'),
    h('form', {
      class: 'inline-form',
      onsubmit: (e) => { e.preventDefault(); navigate(`#/workflows/${enc(idInput.value.trim())}`); },
    }, h('label', { for: 'new-workflow-id' }, 'Open or create workflow id'), idInput, h('button', { type: 'submit', 'data-testid': 'new-workflow' }, 'Open')),
    list);
  await pagedTable(list, '/workflows', [
    { label: 'Id', cell: (w) => h('a', { href: `#/workflows/${enc(w.id ?? w.workflowId)}` }, w.id ?? w.workflowId) },
    { label: 'Name', cell: (w) => w.name ?? '—' },
    { label: 'Model', cell: (w) => `${w.model ?? '—'} / ${w.event ?? '—'}` },
    { label: 'Priority', cell: (w) => w.priority ?? 0, class: 'num' },
    { label: 'Version', cell: (w) => w.version ?? '—', class: 'num' },
    { label: 'State', cell: (w) => badge(w.active === false ? 'inactive' : 'active') },
  ], { caption: 'Workflows', empty: 'No workflows yet.', rowProps: (w) => ({ 'data-testid': 'workflow-row', 'data-workflow-id': w.id ?? w.workflowId }) });
}

export async function renderEditor(view, { params: [id], query, user, navigate }) {
  const version = query.get('version');
  view.append(heading(`Workflow ${id}`), loading());
  const [wf, versions] = await Promise.allSettled([
    api(`/workflows/${enc(id)}${version ? `?version=${enc(version)}` : ''}`),
    api(`/workflows/${enc(id)}/versions`),
  ]);
  const isNew = wf.status === 'rejected' && wf.reason instanceof ApiError && wf.reason.status === 404 && !version;
  if (wf.status === 'rejected' && !isNew) {
    view.replaceChildren(heading(`Workflow ${id}`), problemPanel(wf.reason));
    return;
  }
  const definition = isNew ? template : Object.fromEntries(Object.entries(wf.value).filter(([k]) => !serverFields.includes(k)));
  const editor = h('textarea', {
    id: 'workflow-json', class: 'code', rows: 24, spellcheck: 'false', autocomplete: 'off',
    'data-testid': 'workflow-editor', 'aria-describedby': 'workflow-errors-title',
  });
  editor.value = JSON.stringify(definition, null, 2);
  const errors = h('div', { class: 'validation', 'data-testid': 'validation-errors', 'aria-live': 'polite' });

  const publish = async () => {
    const body = parseOrShow(editor, errors);
    if (!body) return;
    // The API never returns callback.secret and publishes a callback without one as unsigned, so an edit
    // round-trip would silently drop the signing: insist the admin types the secret again.
    if (!isNew && wf.value?.callback && body.callback && typeof body.callback === 'object' && !body.callback.secret) {
      errors.replaceChildren(
        h('p', { class: 'problem-title', role: 'alert' }, 'Not published'),
        h('ul', { class: 'errors' }, errorItem(editor, 'callback.secret',
          ['The secret is write-only, so it was not loaded. Type it again: without it the new version would send unsigned callbacks.'],
          findPath(locateJson(editor.value), 'callback.secret'))));
      return;
    }
    try {
      const saved = await api(`/workflows/${enc(id)}`, { method: 'PUT', body });
      toast(`Published ${id}${saved?.version ? ` version ${saved.version}` : ''}.`);
      navigate(`#/workflows/${enc(id)}`);
    } catch (e) {
      showProblem(editor, errors, e);
    }
  };
  const deactivate = async () => {
    if (!confirm(`Deactivate ${id}? Running requests keep their version.`)) return;
    try {
      await api(`/workflows/${enc(id)}`, { method: 'DELETE' });
      toast(`${id} deactivated.`);
      navigate('#/workflows');
    } catch (e) {
      errors.replaceChildren(problemPanel(e));
    }
  };

  view.replaceChildren(
    heading(`Workflow ${id}`),
    isNew
      ? h('p', { class: 'notice' }, 'No workflow has this id yet: edit the template below and publish it.')
      : h('p', { class: 'subtitle' }, `Showing version ${wf.value.version ?? '?'}`, wf.value.active === false ? ' (inactive)' : '',
        wf.value.publishedAt ? [' · published ', time(wf.value.publishedAt)] : ''),
    versionList(id, versions, wf.value?.version),
    h('div', { class: 'editor-layout' },
      h('div', { class: 'editor-main' },
        h('label', { for: 'workflow-json' }, 'Definition (JSON)'),
        h('p', { class: 'muted small' }, 'Publishing creates a new immutable version. callback.secret is write-only: include it to set or change it.'),
        editor,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', 'data-testid': 'validate-button', onclick: () => { if (parseOrShow(editor, errors)) errors.replaceChildren(h('p', { class: 'ok-text' }, 'The JSON is well formed. The API checks the rest when you publish.')); } }, 'Check JSON'),
          h('button', { type: 'button', 'data-testid': 'publish-button', onclick: publish }, 'Publish new version'),
          !isNew && h('button', { type: 'button', class: 'danger', 'data-testid': 'deactivate-button', onclick: deactivate }, 'Deactivate'))),
      h('aside', { class: 'editor-side', 'aria-labelledby': 'workflow-errors-title' },
        h('h2', { id: 'workflow-errors-title' }, 'Problems'), errors)),
    previewSection(definition, user));
}

function versionList(id, versions, current) {
  if (versions.status === 'rejected') {
    // A new workflow has no versions yet (404): nothing to list, nothing to complain about.
    if (versions.reason instanceof ApiError && versions.reason.status === 404) return '';
    return h('p', { class: 'muted small' }, 'Versions unavailable: ', versions.reason.message);
  }
  const items = Array.isArray(versions.value) ? versions.value : versions.value?.items ?? [];
  if (!items.length) return '';
  return h('nav', { 'aria-label': 'Versions', class: 'versions', 'data-testid': 'workflow-versions' },
    h('span', { class: 'muted' }, 'Versions: '),
    [...items].sort((a, b) => b.version - a.version).map((v) => h('a', {
      href: `#/workflows/${enc(id)}?version=${v.version}`,
      'aria-current': v.version === current ? 'page' : undefined,
      title: v.publishedAt ? `published ${v.publishedAt}` : undefined,
    }, `v${v.version}`, v.active ? ' (active)' : '')));
}

/** Parses the editor; on a syntax error shows it and selects the line it points at. */
function parseOrShow(editor, errors) {
  try {
    const value = JSON.parse(editor.value);
    errors.replaceChildren();
    return value;
  } catch (e) {
    const offset = syntaxErrorOffset(editor.value, e.message);
    errors.replaceChildren(h('ul', { class: 'errors' }, errorItem(editor, 'JSON', [e.message], offset)));
    if (offset != null) selectLine(editor, offset);
    return null;
  }
}

function showProblem(editor, errors, e) {
  const fieldErrors = e.problem?.errors && typeof e.problem.errors === 'object' ? Object.entries(e.problem.errors) : [];
  if (!fieldErrors.length) {
    errors.replaceChildren(problemPanel(e));
    return;
  }
  const positions = locateJson(editor.value);
  const items = fieldErrors.map(([path, msgs]) => errorItem(editor, path, [].concat(msgs), findPath(positions, path)));
  errors.replaceChildren(h('p', { class: 'problem-title', role: 'alert', 'data-testid': 'problem-panel', 'data-status': e.status },
    e.problem.title || 'The workflow was refused', ` (${e.status})`), h('ul', { class: 'errors' }, items));
  const first = fieldErrors.map(([path]) => findPath(positions, path)).find((o) => o != null);
  if (first != null) selectLine(editor, first);
}

function errorItem(editor, path, messages, offset) {
  const line = offset == null ? null : editor.value.slice(0, offset).split('\n').length;
  return h('li', { 'data-testid': 'validation-error', 'data-path': path, 'data-line': line ?? '' },
    line == null
      ? h('code', {}, path)
      : h('button', { type: 'button', class: 'link', onclick: () => selectLine(editor, offset), title: 'Select this line in the editor' }, h('code', {}, path), ` (line ${line})`),
    ': ', messages.join(' '));
}

/** Focuses the editor and selects the line holding `offset`, scrolled into view. */
function selectLine(editor, offset) {
  const text = editor.value;
  const start = text.lastIndexOf('\n', Math.max(0, offset - 1)) + 1;
  const nl = text.indexOf('\n', offset);
  const end = nl === -1 ? text.length : nl;
  editor.focus();
  editor.setSelectionRange(start, end);
  const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 20;
  editor.scrollTop = Math.max(0, (text.slice(0, start).split('\n').length - 4) * lineHeight);
}

function syntaxErrorOffset(text, message) {
  const pos = /position (\d+)/.exec(message);
  if (pos) return Number(pos[1]);
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (!lc) return null;
  const lines = text.split('\n').slice(0, Number(lc[1]) - 1);
  return lines.reduce((n, l) => n + l.length + 1, 0) + Number(lc[2]) - 1;
}

/**
 * Where each value starts in well-formed JSON text: 'stages.1.approvers' -> offset (of its key when
 * it has one). Keys are lower-cased because servers may report paths in PascalCase.
 */
export function locateJson(text) {
  const map = new Map();
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\r\n'.includes(text[i])) i++; };
  const str = () => {
    const s = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(s, i));
  };
  const value = (path, keyStart) => {
    ws();
    map.set(path.join('.'), keyStart ?? i);
    if (text[i] === '{') {
      i++; ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        const ks = i;
        const key = str();
        ws(); i++; // ':'
        value([...path, key.toLowerCase()], ks);
        ws();
        if (text[i++] !== ',') return;
      }
    } else if (text[i] === '[') {
      i++; ws();
      if (text[i] === ']') { i++; return; }
      for (let n = 0; ; n++) {
        value([...path, String(n)]);
        ws();
        if (text[i++] !== ',') return;
      }
    } else if (text[i] === '"') {
      str();
    } else {
      while (i < text.length && !',]} \t\r\n'.includes(text[i])) i++;
    }
  };
  try {
    value([]);
  } catch {
    // Best effort: whatever was mapped before the surprise is still useful.
  }
  return map;
}

/** '$.stages[1].approvers', 'Stages[1].Approvers' or '/stages/1/approvers' -> segments. */
export function pathSegments(path) {
  const p = String(path).trim();
  if (p.startsWith('/')) return p.slice(1).split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~').toLowerCase());
  return p.replace(/^\$\.?/, '').split(/[.[\]]/).filter(Boolean).map((s) => s.replace(/^['"]|['"]$/g, '').toLowerCase());
}

/** The offset of the deepest part of `path` present in the text; null when not even its first segment is. */
export function findPath(positions, path) {
  const segments = pathSegments(path);
  for (let n = segments.length; n > 0; n--) {
    const at = positions.get(segments.slice(0, n).join('.'));
    if (at != null) return at;
  }
  return null;
}

function previewSection(definition, user) {
  const field = (id, label, value) => [h('label', { for: id }, label), h('input', { id, value, 'data-testid': id })];
  const record = h('textarea', { id: 'preview-record', class: 'code', rows: 6, spellcheck: 'false', 'data-testid': 'preview-record' });
  record.value = '{\n  "amount": 25000\n}';
  const result = h('div', { 'data-testid': 'preview-result', 'aria-live': 'polite' });
  const run = async (e) => {
    e.preventDefault();
    const form = e.target;
    let parsed;
    try {
      parsed = JSON.parse(record.value);
    } catch (err) {
      result.replaceChildren(h('p', { class: 'field-error' }, `Sample record: ${err.message}`));
      record.focus();
      return;
    }
    result.replaceChildren(loading('Running the routing…'));
    try {
      const res = await api('/workflows/preview', {
        method: 'POST',
        body: { model: form.elements['preview-model'].value, event: form.elements['preview-event'].value, record: parsed, requester: form.elements['preview-requester'].value },
      });
      result.replaceChildren(previewResult(res));
    } catch (err) {
      result.replaceChildren(problemPanel(err));
    }
  };
  return h('section', { class: 'panel', 'aria-labelledby': 'h-preview' },
    h('h2', { id: 'h-preview' }, 'Preview routing'),
    h('p', { class: 'muted small' }, 'Runs a sample record through the active (published) workflows. Nothing is written.'),
    h('form', { class: 'preview-form', onsubmit: run },
      h('div', { class: 'fields' },
        h('div', {}, field('preview-model', 'Model', definition.model ?? '')),
        h('div', {}, field('preview-event', 'Event', definition.event ?? 'create')),
        h('div', {}, field('preview-requester', 'Requester', user.id))),
      h('label', { for: 'preview-record' }, 'Sample record (JSON)'),
      record,
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'preview-button' }, 'Preview'))),
    result);
}

function previewResult(res) {
  const wf = res?.workflow ?? (res?.workflowId ? { id: res.workflowId, version: res.version } : null);
  const name = res?.workflowName ?? wf?.name;
  const candidates = res?.candidates ?? [];
  return h('div', {},
    res?.status && h('p', {}, badge(res.status, { 'data-testid': 'preview-status' }), res.explanation ? ` ${res.explanation}` : ''),
    res?.quarantineReason && h('p', { class: 'error-text' }, res.quarantineReason),
    wf
      ? h('p', {}, 'Workflow: ', h('strong', { 'data-testid': 'preview-workflow' }, name ? `${name} (${wf.id})` : wf.id), wf.version ? ` v${wf.version}` : '')
      : h('p', { class: 'notice', 'data-testid': 'preview-none' }, 'No workflow applies: a request would be answered "notRequired".'),
    candidates.length > 0 && h('details', {}, h('summary', {}, `Candidates considered (${candidates.length})`),
      h('ul', { 'data-testid': 'preview-candidates' }, candidates.map((c) =>
        h('li', {}, `${c.workflowId} v${c.version} (priority ${c.priority}): `, h('strong', {}, c.outcome), c.detail ? ` — ${c.detail}` : '')))),
    wf && h('ol', { class: 'stages', 'data-testid': 'preview-stages' }, (res.stages ?? []).map(previewStage)));
}

function previewStage(s) {
  const skipped = s.skipped ?? s.status === 'skipped';
  const who = (a) => (typeof a === 'string' ? a : a.name && a.name !== a.id ? `${a.name} (${a.id})` : a.id);
  return h('li', { class: 'stage', 'data-testid': 'preview-stage', 'data-stage-id': s.id, 'data-skipped': String(Boolean(skipped)) },
    h('div', { class: 'stage-head' }, h('h3', {}, s.name || s.id), badge(skipped ? 'skipped' : 'runs'), h('span', { class: 'muted' }, `order ${s.order ?? '—'}`)),
    s.condition != null && h('p', { class: 'small' }, 'Condition ', h('code', {}, JSON.stringify(s.condition)), s.conditionResult != null ? ` → ${s.conditionResult}` : ''),
    s.skipReason && h('p', { class: 'small' }, 'Skipped because: ', s.skipReason),
    !skipped && h('p', {}, 'Approvers: ', (s.approvers ?? []).length ? s.approvers.map(who).join(', ') : h('span', { class: 'error-text' }, 'none resolved'),
      s.required != null ? h('span', { class: 'muted' }, ` · ${s.required} required`) : ''),
    (s.excluded ?? []).length > 0 && h('p', { class: 'muted small' }, 'Excluded (self-approval guard): ', s.excluded.map(who).join(', ')),
    s.unassignable && h('p', { class: 'error-text small' }, 'Cannot reach the required approvals', s.note ? `: ${s.note}` : '.'),
    !s.unassignable && s.note && h('p', { class: 'muted small' }, s.note));
}
