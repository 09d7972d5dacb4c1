// Callbacks (admin): deliveries that gave up, with their last error and a retry button.
import { api, enc, newIdempotencyKey } from '../api.js';
import { badge, h, heading, pagedTable, problemPanel, requestTitle, time, toast, workflowLabel } from '../ui.js';

export async function render(view) {
  const list = h('div');
  view.append(heading('Failed callbacks'),
    h('p', { class: 'muted' }, 'Callbacks the delivery policy gave up on. Retrying delivers the same signed body with the same Idempotency-Key.'),
    list);
  await pagedTable(list, '/callbacks?status=failed', columns, {
    caption: 'Failed callback deliveries',
    empty: 'No failed callbacks.',
    props: { 'data-testid': 'callbacks-table' },
    rowProps: (c) => ({ 'data-testid': 'callback-row', 'data-approval-id': approvalId(c) }),
  });
}

// The API's failed-callback rows carry the request id as `id` (FailedCallbackSummary); `approvalId` is the documented name.
const approvalId = (c) => c.approvalId ?? c.id;

async function retry(e, c) {
  const button = e.currentTarget;
  const cell = button.parentElement;
  button.disabled = true;
  cell.querySelector('[role=alert]')?.remove();
  try {
    await api(`/approvals/${enc(approvalId(c))}/retry`, { method: 'POST', idempotencyKey: newIdempotencyKey() });
    button.textContent = 'Queued';
    toast(`Callback for ${c.recordId ?? approvalId(c)} queued for delivery.`);
  } catch (err) {
    button.disabled = false;
    cell.append(problemPanel(err));
  }
}

const columns = [
  { label: 'Request', cell: (c) => h('a', { href: `#/requests/${enc(approvalId(c))}` }, c.title ? requestTitle(c) : `${c.model ?? ''} ${c.recordId ?? approvalId(c)}`) },
  { label: 'Outcome', cell: (c) => h('span', {}, c.outcome ? badge(c.outcome) : '—', c.workflow ? h('span', { class: 'muted small block' }, workflowLabel(c.workflow)) : '') },
  { label: 'Attempts', cell: (c) => c.attempts ?? '—', class: 'num' },
  { label: 'Last error', cell: (c) => h('span', { class: 'error-text' }, c.lastError ?? '—') },
  { label: 'Last attempt', cell: (c) => time(c.lastAttemptAt) },
  { label: 'Action', cell: (c) => h('button', { type: 'button', class: 'secondary', 'data-testid': 'retry-button', onclick: (e) => retry(e, c) }, 'Retry') },
];
