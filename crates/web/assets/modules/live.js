// Live updates: the person's events on /api/v1/stream (server-sent events).
// Each event refreshes what it changes on this page, so a change made anywhere
// (another tab, the API, the agent, a recurrence) shows without a reload.
import { $ } from './dom.js';
import { onReminder } from './notifications.js';
import { refreshSidebar } from './sidebar.js';
import { concerns, refresh } from './view.js';

const TYPES = [
  'task.created', 'task.updated', 'task.completed', 'task.reopened', 'task.deleted', 'task.moved', 'task.assigned',
  'project.created', 'project.updated', 'project.archived', 'project.unarchived', 'project.deleted',
  'section.created', 'section.updated', 'section.deleted', 'member.added', 'member.role_changed', 'member.removed',
  'comment.added', 'comment.edited', 'comment.deleted', 'reminder.due', 'reminder.sent', 'import.progressed',
];

function onEvent(type, envelope) {
  if (type === 'reminder.sent') { onReminder(envelope.data?.notification || { title: envelope.data?.title || 'Reminder' }); return; }
  if (type === 'reminder.due') return;
  // The settings page shows an import's progress (settings.js).
  if (type === 'import.progressed') { document.dispatchEvent(new CustomEvent('ontask:import', { detail: envelope.data })); return; }
  if (type.startsWith('project.') || type.startsWith('member.')) refreshSidebar();
  if (concerns(type, envelope)) refresh();
}

/** Connects the stream (signed in only); `<body data-live>` and the dot in the top bar show whether it is up. */
export function connect() {
  if (!$('#bell') || !('EventSource' in window)) return;
  const conn = $('#conn');
  const source = new EventSource('/api/v1/stream');
  for (const type of TYPES) {
    source.addEventListener(type, (ev) => {
      let envelope;
      try { envelope = JSON.parse(ev.data); } catch { return; }
      onEvent(type, envelope);
    });
  }
  source.addEventListener('open', () => { conn?.classList.add('on'); document.body.dataset.live = 'on'; });
  source.addEventListener('error', () => { conn?.classList.remove('on'); document.body.dataset.live = 'off'; });
}
