// My requests: what I submitted, with its status.
import { enc } from '../api.js';
import { badge, h, heading, pagedTable, recordCell, requestTitle, time } from '../ui.js';

const statuses = ['pending', 'changesRequested', 'approved', 'rejected', 'expired', 'cancelled', 'quarantined'];

export async function render(view, { query, navigate }) {
  const status = query.get('status') ?? '';
  const select = h('select', {
    id: 'status-filter',
    'data-testid': 'status-filter',
    onchange: () => navigate(select.value ? `#/requests?status=${enc(select.value)}` : '#/requests'),
  }, h('option', { value: '' }, 'Any status'), statuses.map((s) => h('option', { value: s, selected: s === status }, s)));
  const list = h('div');
  view.append(heading('My requests'), h('div', { class: 'filters' }, h('label', { for: 'status-filter' }, 'Status'), select), list);

  await pagedTable(list, `/approvals?requestedByMe=true${status ? `&status=${enc(status)}` : ''}`, columns, {
    caption: 'Requests I submitted',
    empty: 'No requests.',
    rowProps: (r) => ({ 'data-testid': 'request-row', 'data-approval-id': r.id }),
  });
}

const columns = [
  { label: 'Title', cell: (r) => h('a', { href: `#/requests/${enc(r.id)}` }, requestTitle(r)) },
  { label: 'Record', cell: (r) => recordCell(r) },
  { label: 'Status', cell: (r) => badge(r.status) },
  { label: 'Submitted', cell: (r) => time(r.createdAt) },
  { label: 'Decided', cell: (r) => time(r.decidedAt) },
];
