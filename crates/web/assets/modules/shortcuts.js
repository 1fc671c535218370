// Single-key shortcuts (the `?` dialog lists them): on the list, moving the
// selection and acting on the selected task; on a task's page, completing and
// editing it. Keys typed into a field, or with a modifier, are left alone.
import { $ } from './dom.js';
import { dismissNotifications } from './notifications.js';
import { page } from './page.js';
import { rows, select, selected } from './selection.js';
import { deleteRow, toggle } from './task-actions.js';
import { startEdit } from './title-edit.js';

function onTaskPage(e) {
  if (e.key === 'x') { e.preventDefault(); toggle($('#detail')); }
  if (e.key === 'e') { e.preventDefault(); $('#f-title')?.focus(); }
}

function onList(e) {
  const list = rows();
  const cur = selected();
  const at = cur ? list.indexOf(cur) : -1;
  switch (e.key) {
    case 'n': e.preventDefault(); $('#quick').focus(); break;
    case '/': e.preventDefault(); $('#search').focus(); $('#search').select(); break;
    case 'j': case 'ArrowDown':
      if (e.key === 'ArrowDown' && !cur) return;
      e.preventDefault(); if (list.length) select(list[Math.min(at + 1, list.length - 1)]); break;
    case 'k': case 'ArrowUp':
      if (e.key === 'ArrowUp' && !cur) return;
      e.preventDefault(); if (list.length) select(list[Math.max(at - 1, 0)]); break;
    case 'x': if (cur) { e.preventDefault(); toggle(cur); } break;
    case 'e': if (cur) { e.preventDefault(); startEdit(cur); } break;
    case 'Delete': if (cur) { e.preventDefault(); deleteRow(cur); } break;
    case 'Enter':
      if (cur && e.target === cur) { e.preventDefault(); location.href = cur.querySelector('.task-title').href; }
      break;
    default:
  }
}

export function initShortcuts() {
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target.closest?.('input, textarea, select, [contenteditable="true"]');
    if (e.key === 'Escape') {
      if (dismissNotifications()) return;
      if (typing) e.target.blur();
      return;
    }
    if (typing || e.target.closest?.('dialog')) return;
    if (e.key === '?') { e.preventDefault(); $('#shortcuts')?.showModal(); return; }
    if (page === 'detail') onTaskPage(e);
    else if (page === 'list') onList(e);
  });
  $('#shortcuts-btn')?.addEventListener('click', () => $('#shortcuts').showModal());
}
