// The bell in the top bar: unread count, the panel of recent notifications,
// and a reminder arriving live (a toast, and a desktop notification when
// allowed).
import { $ } from './dom.js';
import { announce, toast } from './feedback.js';
import { api } from './http.js';
import { enablePush, isPushSubscribed } from './push.js';

// Both absent when signed out.
const bell = $('#bell');
const panel = $('#notif-panel');

function setUnread(n) {
  const badge = $('#bell-count');
  if (!badge) return;
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.hidden = n === 0;
  bell.setAttribute('aria-label', n ? `Notifications, ${n} unread` : 'Notifications');
}

/** "Due 2026-11-23T09:00:00Z" reads better in the person's own words. */
function readableBody(text) {
  const m = /^Due (\d{4}-\d{2}-\d{2})(T[^[\s]+)?/.exec(text || '');
  if (!m) return text;
  const when = m[2] ? new Date(m[1] + m[2]) : new Date(m[1] + 'T00:00:00');
  if (Number.isNaN(when.getTime())) return text;
  return 'Due ' + when.toLocaleString([], m[2] ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'medium' });
}

async function loadNotifications() {
  if (!bell) return;
  const data = await api('GET', '/notifications?limit=20');
  setUnread(data.unread_count);
  const list = $('#notif-list');
  list.replaceChildren();
  if (!data.items.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'Nothing yet. Reminders you set on tasks show up here.';
    list.append(li);
  }
  for (const n of data.items) {
    const li = document.createElement('li');
    if (!n.read_at) li.className = 'unread';
    const a = document.createElement('a');
    a.href = n.task_id ? `/tasks/${n.task_id}` : '/';
    a.textContent = n.title;
    a.addEventListener('click', () => { if (!n.read_at) api('POST', `/notifications/${n.id}/read`).catch(() => {}); });
    const body = document.createElement('span');
    body.className = 'muted';
    body.textContent = readableBody(n.body);
    const when = document.createElement('time');
    when.dateTime = n.created_at;
    when.textContent = new Date(n.created_at).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
    li.append(a, body, when);
    list.append(li);
  }
  $('#notif-enable').hidden = !('Notification' in window) || Notification.permission === 'denied' || isPushSubscribed();
}

function openPanel(open) {
  panel.hidden = !open;
  bell.setAttribute('aria-expanded', String(open));
  if (open) loadNotifications().catch(() => {});
}

/** Escape: closes the panel and gives the focus back to the bell; false when it was not open. */
export function dismissNotifications() {
  if (!panel || panel.hidden) return false;
  openPanel(false);
  bell.focus();
  return true;
}

export function initNotifications() {
  if (!bell) return;
  bell.addEventListener('click', () => openPanel(panel.hidden));
  document.addEventListener('click', (e) => {
    if (!panel.hidden && !e.target.closest('.bell-wrap')) openPanel(false);
  });
  $('#notif-read-all').addEventListener('click', async () => {
    await api('POST', '/notifications/read-all');
    loadNotifications();
    announce('All notifications read');
  });
  $('#notif-enable').addEventListener('click', async () => {
    try {
      const subscribed = await enablePush();
      $('#notif-enable').hidden = subscribed || Notification.permission === 'denied';
    } catch (e) {
      toast(`Notifications could not be turned on: ${e.message}`, { kind: 'error' });
    }
  });
  loadNotifications().catch(() => {});
}

/** A reminder that just fell due (the live stream's `reminder.sent`). */
export function onReminder(n) {
  loadNotifications().catch(() => {});
  const open = () => { if (n.task_id) location.href = `/tasks/${n.task_id}`; };
  toast(`Reminder: ${n.title}`, { action: 'Open', onAction: open, kind: 'reminder', timeout: 15000 });
  if ('Notification' in window && Notification.permission === 'granted') {
    try {
      const shown = new Notification(`Reminder: ${n.title}`, { body: readableBody(n.body), tag: n.id });
      shown.onclick = () => { window.focus(); open(); };
    } catch { /* some browsers only allow this from a service worker */ }
  }
}
