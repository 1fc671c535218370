// The task page (`/tasks/{id}`, data-page="detail"): each field saves when it
// changes; the description is edited in Markdown with a preview; subtasks are
// rows like the list's. Comments and the schedule have modules of their own.
import { $ } from './dom.js';
import { announce, problemText, toast } from './feedback.js';
import { api, html } from './http.js';
import { onRowClick } from './rows.js';
import { remove, toggle } from './task-actions.js';
import { initComments } from './task-comments.js';
import { catchUp, clearErrors, onTaskAction, patch, refreshDetail, reloadDetail, showError, showRecurrence } from './task-detail.js';
import { initSchedule } from './task-schedule.js';
import { showView } from './view.js';

/** A live event about this task, one of its subtasks, or what its menus offer. */
function concerns(type, envelope) {
  const mine = envelope.task_id === $('#detail')?.dataset.id || $(`#subtask-list [data-id="${CSS.escape(envelope.task_id || '')}"]`);
  return Boolean(mine) || type.startsWith('section.') || type.startsWith('member.');
}

function initFields(region) {
  region.addEventListener('change', (e) => {
    const t = e.target;
    if (t.id === 'f-title') { if (t.value.trim() && t.value !== t.defaultValue) patch({ title: t.value.trim() }, 'title'); }
    else if (t.id === 'f-priority') patch({ priority: t.value }, 'priority');
    else if (t.id === 'f-project') patch({ project_id: t.value }, 'project_id');
    else if (t.id === 'f-section') patch({ section_id: t.value || null }, 'section_id');
    else if (t.id === 'f-assignee') patch({ assignee_id: t.value || null }, 'assignee_id');
    else if (t.id === 'f-tags') patch({ tags: t.value.split(/[,\s]+/).map((s) => s.replace(/^#/, '')).filter(Boolean) }, 'tags');
  });
  region.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target.matches('#f-title, #f-tags')) { e.preventDefault(); e.target.blur(); }
  });
}

function initDescription(region) {
  onTaskAction(region, {
    'edit-desc': () => {
      $('#desc-editor').hidden = false;
      $('#desc-view').hidden = true;
      $('#f-description').focus();
    },
    'cancel-desc': () => {
      $('#f-description').value = $('#f-description').defaultValue;
      $('#desc-editor').hidden = true;
      $('#desc-view').hidden = false;
      refreshDetail();
    },
    'save-desc': () => patch({ description: $('#f-description').value }, 'description'),
    'preview-desc': async () => {
      const box = $('#desc-preview');
      box.innerHTML = await html('/ui/markdown', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ text: $('#f-description').value }),
      });
      box.hidden = false;
    },
  });
}

function initSubtasks(region) {
  // A subtask's own buttons act on the subtask, not on this task.
  region.addEventListener('click', (e) => { if (e.target.closest('#subtask-list')) onRowClick(e); });
  region.addEventListener('submit', async (e) => {
    if (e.target.id !== 'subtask-form') return;
    e.preventDefault();
    const input = $('#f-subtask');
    const title = input.value.trim();
    if (!title) return;
    try {
      await api('POST', '/tasks', { title, parent_id: $('#detail').dataset.id });
      announce(`Added subtask “${title}”`);
      await reloadDetail();
      $('#f-subtask')?.focus();
    } catch (err) {
      clearErrors();
      showError('subtask', problemText(err));
    }
  });
}

/** `zoneWasKnown`: false when the server rendered the page before it knew this device's zone. */
export function initDetail(zoneWasKnown) {
  showView({ refresh: refreshDetail, concerns });
  showRecurrence();
  const region = $('#detail-region');
  initFields(region);
  initDescription(region);
  initSchedule(region);
  initComments(region);
  initSubtasks(region);
  onTaskAction(region, {
    toggle: () => { toggle($('#detail')); },
    delete: async () => {
      try {
        const snapshot = await remove($('#detail').dataset.id);
        // The list shows the Undo (list-page.js).
        sessionStorage.setItem('ontask:deleted', JSON.stringify(snapshot));
        location.href = '/';
      } catch (err) {
        toast(problemText(err), { kind: 'error' });
      }
    },
  });
  region.addEventListener('focusout', () => { setTimeout(catchUp, 0); });
  if (!zoneWasKnown) refreshDetail();
}
