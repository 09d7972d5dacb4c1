// My approvals: stages waiting on me (including as a delegate), and the ones I already decided.
import { enc } from '../api.js';
import { badge, fmtAge, fmtDue, h, heading, myStages, pagedTable, recordCell, requestTitle, time } from '../ui.js';

export async function render(view, { query, user }) {
  const done = query.get('tab') === 'done';
  const tab = (href, label, current) => h('a', { href, class: 'tab', 'aria-current': current ? 'page' : undefined, 'data-testid': `tab-${label.toLowerCase()}` }, label);
  const list = h('div', { 'data-testid': done ? 'done-list' : 'pending-list' });
  view.append(heading('My approvals'),
    h('nav', { class: 'tabs', 'aria-label': 'Approval lists' }, tab('#/approvals', 'Pending', !done), tab('#/approvals?tab=done', 'Done', done)),
    list);

  if (!done) {
    await pagedTable(list, '/approvals?pendingMyApprovals=true', pendingColumns, {
      caption: 'Stages waiting on me',
      empty: 'Nothing is waiting on you.',
      // One row per stage of mine; when the API says the request waits on me without saying which
      // stage (a delegate, no myStages), offer every pending stage.
      expand: (r) => {
        // A flat index summary ({stageId, stageName, remaining, dueAt}) instead of a request object.
        if (!r.stages && r.stageId) {
          return [{ r, stage: { id: r.stageId, name: r.stageName, remaining: r.remaining, dueAt: r.dueAt, activatedAt: r.activatedAt } }];
        }
        const mine = myStages(r, user.id);
        const stages = mine.length ? mine : (r.stages ?? []).filter((s) => s.status === 'pending');
        return (stages.length ? stages : [null]).map((stage) => ({ r, stage }));
      },
      rowProps: ({ r, stage }) => ({ 'data-testid': 'approval-row', 'data-approval-id': r.id, 'data-stage-id': stage?.id }),
    });
  } else {
    await pagedTable(list, '/approvals?pendingMyApprovals=false', doneColumns(user), {
      caption: 'Approvals I decided',
      empty: 'You have not decided anything yet.',
      rowProps: (r) => ({ 'data-testid': 'done-row', 'data-approval-id': r.id }),
    });
  }
}

const link = (r, stage) => h('a', { href: `#/requests/${enc(r.id)}${stage ? `?stage=${enc(stage.id)}` : ''}` }, requestTitle(r));

// Inbox rows are flat index summaries (no workflow, no remaining count): the record is what the API always has.
const pendingColumns = [
  { label: 'Title', cell: ({ r, stage }) => link(r, stage) },
  { label: 'Record', cell: ({ r }) => recordCell(r) },
  { label: 'Stage', cell: ({ r, stage }) => h('span', {}, stage ? stage.name || stage.id : '—',
    r.onBehalfOf ? h('span', { class: 'muted small block' }, `for ${r.onBehalfOf}`) : '',
    stage?.remaining != null ? h('span', { class: 'muted small block' }, `${stage.remaining} remaining`) : '') },
  { label: 'Age', cell: ({ r, stage }) => time(stage?.activatedAt ?? r.createdAt, fmtAge(stage?.activatedAt ?? r.createdAt)) },
  {
    label: 'Due',
    cell: ({ r, stage }) => {
      const due = stage?.dueAt ?? r.expiresAt;
      return due ? h('span', { class: new Date(due) < new Date() ? 'overdue' : '' }, time(due, fmtDue(due))) : '—';
    },
  },
];

function doneColumns(user) {
  const mine = (r) => (r.stages ?? []).flatMap((s) => s.responses ?? []).filter((x) => x.user === user.id || x.onBehalfOf === user.id).at(-1)
    ?? (r.decision ? { decision: r.decision, at: r.respondedAt ?? r.decidedAt } : undefined);
  return [
    { label: 'Title', cell: (r) => link(r) },
    { label: 'Record', cell: (r) => recordCell(r) },
    { label: 'My decision', cell: (r) => mine(r)?.decision ?? '—' },
    { label: 'Decided', cell: (r) => time(mine(r)?.at) },
    { label: 'Status', cell: (r) => badge(r.status) },
  ];
}
