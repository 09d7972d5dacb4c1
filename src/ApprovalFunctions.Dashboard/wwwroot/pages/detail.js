// Request detail: the record and context, every stage with its approvers and responses, the ledger
// timeline with its chain check, and the approval panel for the stages that wait on me.
import { api, enc, newIdempotencyKey } from '../api.js';
import { badge, dataView, fmtDate, h, heading, loading, myStages, problemPanel, requestTitle, time, toast, workflowLabel } from '../ui.js';

const openStatuses = ['pending', 'changesRequested'];

export async function render(view, { params: [id], query, user, navigate }) {
  view.append(loading());
  const [request, history] = await Promise.allSettled([api(`/approvals/${enc(id)}`), api(`/approvals/${enc(id)}/history`)]);
  if (request.status === 'rejected') {
    view.replaceChildren(heading('Request'), problemPanel(request.reason));
    return;
  }
  const r = request.value;
  const reload = () => navigate(location.hash);
  // A delegate reaches a stage from "My approvals" with ?stage=…; the API still decides who may act.
  const mine = new Set(myStages(r, user.id).map((s) => s.id));
  if (query.get('stage')) mine.add(query.get('stage'));

  view.replaceChildren(
    heading(requestTitle(r)),
    h('p', { class: 'subtitle' }, badge(r.status, { 'data-testid': 'outcome-badge' }), ' ', `${r.model} · ${r.recordId}`),
    summary(r),
    r.quarantineReason ? h('p', { class: 'problem' }, 'Quarantined: ', r.quarantineReason) : '',
    r.description ? h('p', { class: 'description' }, r.description) : '',
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', 'aria-labelledby': 'h-record' }, h('h2', { id: 'h-record' }, 'Record'), dataView(r.record)),
      h('section', { class: 'panel', 'aria-labelledby': 'h-context' }, h('h2', { id: 'h-context' }, 'Context'), dataView(r.context),
        r.subjects?.length ? h('p', {}, 'Subjects: ', r.subjects.join(', ')) : '')),
    h('section', { 'aria-labelledby': 'h-stages' }, h('h2', { id: 'h-stages' }, 'Stages'),
      h('ol', { class: 'stages', 'data-testid': 'stage-list' },
        [...(r.stages ?? [])].sort((a, b) => (a.order ?? 0) - (b.order ?? 0)).map((s) =>
          stageItem(r, s, user, openStatuses.includes(r.status) && s.status === 'pending' && mine.has(s.id), reload)))),
    r.callback && r.callback.status !== 'none' ? callbackSection(r, user, reload) : '',
    historySection(history));
}

function summary(r) {
  const row = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
  return h('dl', { class: 'kv summary' },
    row('Requester', r.requester ?? '—'),
    row('Workflow', workflowLabel(r.workflow)),
    row('Iteration', r.iteration ?? 1),
    row('Submitted', time(r.createdAt)),
    row('Expires', time(r.expiresAt)),
    row('Decided', time(r.decidedAt)));
}

function stageItem(r, s, user, canDecide, reload) {
  const who = (id) => (id === user.id ? `${id} (you)` : id);
  // A stage that never became active (waiting, or cancelled/skipped before its turn) has no approvers or
  // counts yet; "0 required, 0 remaining" would only confuse.
  const started = (s.approvers ?? []).length > 0 || (s.required ?? 0) > 0 || (s.responses ?? []).length > 0;
  return h('li', { class: 'stage', 'data-testid': 'stage', 'data-stage-id': s.id },
    h('div', { class: 'stage-head' },
      h('h3', {}, s.name || s.id),
      badge(s.status, { 'data-testid': 'stage-status' }),
      h('span', { class: 'muted' }, `order ${s.order ?? '—'}`)),
    h('p', { class: 'muted small' },
      // A waiting stage has not resolved its approvers yet: its counts are meaningless until it starts.
      s.status === 'waiting' ? 'Starts when the earlier stages are approved; its approvers are resolved then.'
        : !started ? 'This stage did not start.'
          : s.required != null ? `${s.required} required, ${s.remaining ?? '?'} remaining` : '',
      s.escalationLevel ? ` · escalated (level ${s.escalationLevel})` : '',
      s.dueAt ? [' · due ', time(s.dueAt)] : ''),
    s.note ? h('p', { class: 'muted small' }, s.note) : '',
    !started ? ''
      : h('p', {}, 'Approvers: ', (s.approvers ?? []).length ? (s.approvers ?? []).map((a) => who(a?.id ?? a)).join(', ') : '—'),
    (s.responses ?? []).length
      ? h('ul', { class: 'responses', 'data-testid': 'responses' }, s.responses.map((x) => h('li', { 'data-testid': 'response', 'data-decision': x.decision },
        h('strong', {}, who(x.user)), x.onBehalfOf ? ` for ${x.onBehalfOf}` : '', ' ',
        badge(x.decision === 'approve' ? 'approved' : x.decision === 'reject' ? 'rejected' : x.decision), ' ',
        time(x.at), x.comment ? h('blockquote', {}, x.comment) : '')))
      : h('p', { class: 'muted small' }, 'No responses yet.'),
    canDecide && approvalPanel(r, s, reload));
}

const decisions = [
  { action: 'approve', label: 'Approve', commentRequired: false, kind: 'primary' },
  { action: 'request-changes', label: 'Request changes', commentRequired: true, kind: 'secondary' },
  { action: 'reject', label: 'Reject', commentRequired: true, kind: 'danger' },
  { action: 'comment', label: 'Comment', commentRequired: true, kind: 'secondary' },
];

function approvalPanel(r, s, reload) {
  const boxId = `comment-${s.id}`;
  const hint = h('p', { class: 'field-error', id: `${boxId}-error`, 'aria-live': 'polite' });
  const box = h('textarea', { id: boxId, rows: 3, 'data-testid': 'comment-box', 'aria-describedby': `${boxId}-error ${boxId}-help` });
  const problem = h('div');
  // The same decision with the same comment reuses its Idempotency-Key, so retrying after a lost
  // answer cannot count twice.
  let pending = { signature: null, key: null };

  const buttons = decisions.map((d) => h('button', {
    type: 'button',
    class: d.kind,
    'data-testid': `${d.action}-button`,
    onclick: async () => {
      const comment = box.value.trim();
      problem.replaceChildren();
      if (d.commentRequired && !comment) {
        box.setAttribute('aria-invalid', 'true');
        hint.textContent = `Write a comment to ${d.label.toLowerCase()}.`;
        box.focus();
        return;
      }
      box.removeAttribute('aria-invalid');
      hint.textContent = '';
      const signature = `${d.action}\n${comment}`;
      if (pending.signature !== signature) pending = { signature, key: newIdempotencyKey() };
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await api(`/approvals/${enc(r.id)}/stages/${enc(s.id)}/${d.action}`, {
          method: 'POST', body: comment ? { comment } : {}, idempotencyKey: pending.key,
        });
        toast(d.action === 'comment' ? 'Comment added.' : `${d.label}: recorded.`);
        reload();
      } catch (e) {
        problem.replaceChildren(problemPanel(e));
        problem.querySelector('[role=alert]')?.setAttribute('tabindex', '-1');
        problem.firstChild?.focus();
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    },
  }, d.label));

  return h('section', { class: 'approval-panel', 'data-testid': 'approval-panel', 'aria-label': `Your decision on ${s.name || s.id}` },
    h('label', { for: boxId }, 'Comment'),
    h('p', { class: 'muted small', id: `${boxId}-help` }, 'Required to reject, request changes or comment.'),
    box, hint,
    h('div', { class: 'actions' }, buttons),
    problem);
}

function callbackSection(r, user, reload) {
  const cb = r.callback;
  const retry = user.isAdmin && cb.status === 'failed' && h('button', {
    type: 'button', class: 'secondary', 'data-testid': 'retry-button',
    onclick: async (e) => {
      e.target.disabled = true;
      try {
        await api(`/approvals/${enc(r.id)}/retry`, { method: 'POST', idempotencyKey: newIdempotencyKey() });
        toast('Callback queued for delivery.');
        reload();
      } catch (err) {
        e.target.after(problemPanel(err));
        e.target.disabled = false;
      }
    },
  }, 'Retry delivery');
  return h('section', { class: 'panel', 'aria-labelledby': 'h-callback' },
    h('h2', { id: 'h-callback' }, 'Callback'),
    h('p', {}, badge(cb.status, { 'data-testid': 'callback-status' }), ` · ${cb.attempts ?? 0} attempt(s)`),
    cb.lastError && h('p', { class: 'error-text' }, cb.lastError),
    retry);
}

function historySection(result) {
  const section = h('section', { 'aria-labelledby': 'h-history' }, h('h2', { id: 'h-history' }, 'Ledger'));
  if (result.status === 'rejected') {
    section.append(problemPanel(result.reason));
    return section;
  }
  const data = result.value ?? {};
  const entries = Array.isArray(data) ? data : data.items ?? data.entries ?? [];
  const verified = data.chainVerified ?? data.verified ?? null;
  const known = ['sequence', 'at', 'timestamp', 'type', 'action', 'kind', 'actor', 'onBehalfOf', 'stageId', 'comment', 'detail', 'iteration', 'hash', 'previousHash'];
  section.append(
    h('p', {
      class: `chain ${verified === true ? 'chain-ok' : verified === false ? 'chain-bad' : ''}`,
      'data-testid': 'chain-verified',
      'data-verified': String(verified),
    }, verified === true ? '✓ Chain verified' : verified === false ? '✗ Chain does NOT verify: the ledger was altered' : 'Chain not checked'),
    verified === false && data.problem ? h('p', { class: 'error-text small' }, data.problem) : '',
    h('ol', { class: 'timeline', 'data-testid': 'ledger-timeline' }, entries.map((e, i) => {
      const type = e.type ?? e.action ?? e.kind ?? 'entry';
      const extra = Object.fromEntries(Object.entries(e).filter(([k, v]) => !known.includes(k) && v !== null));
      return h('li', { 'data-testid': 'ledger-entry', 'data-type': type },
        h('div', {}, h('strong', {}, type),
          e.stageId ? ` · stage ${e.stageId}` : '', e.actor ? ` · by ${e.actor}` : '', e.onBehalfOf ? ` for ${e.onBehalfOf}` : '', e.iteration > 1 ? ` · iteration ${e.iteration}` : '',
          ' · ', h('time', { datetime: e.at ?? e.timestamp }, fmtDate(e.at ?? e.timestamp))),
        e.detail && detailView(e.detail),
        e.comment && h('blockquote', {}, e.comment),
        Object.keys(extra).length > 0 && h('details', {}, h('summary', {}, 'Data'), h('pre', { class: 'json' }, JSON.stringify(extra, null, 2))),
        e.hash && h('p', { class: 'hash muted small', title: e.hash }, `#${e.sequence ?? i + 1} hash ${String(e.hash).slice(0, 16)}…`));
    })));
  return section;
}

/** A ledger entry's detail: the engine writes small JSON objects; show them as "key: value", anything else as text. */
function detailView(detail) {
  let parsed = null;
  if (typeof detail === 'string' && detail.startsWith('{')) {
    try {
      parsed = JSON.parse(detail);
    } catch {
      parsed = null;
    }
  } else if (detail && typeof detail === 'object') {
    parsed = detail;
  }
  if (!parsed || Array.isArray(parsed)) return h('p', { class: 'small' }, String(detail));
  return h('p', { class: 'small detail' }, Object.entries(parsed).map(([k, v], i) => [
    i ? ' · ' : '', h('span', { class: 'muted' }, `${k}: `), Array.isArray(v) ? v.join(', ') : v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)]));
}
