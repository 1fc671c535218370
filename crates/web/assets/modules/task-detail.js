// The task page's state: swapping in the task from /ui/tasks/{id} without
// losing what the person is typing, saving a change of fields (with the
// task's version, so a change made elsewhere meanwhile is not overwritten),
// and showing the errors of a refused one next to the field.
import { $, $$, fragment } from './dom.js';
import { announce, problemText, toast } from './feedback.js';
import { focusKey, restoreFocus } from './focus.js';
import { api, html } from './http.js';
import { serial } from './serial.js';

// A refresh that came while the person was editing; it runs once they stop.
let detailStale = false;
// The next refresh swaps even while editing (after a save of one's own).
let forceRefresh = false;
// Fields just saved take the server's value; any other field someone is in the
// middle of changing keeps what they typed across the swap.
const justSaved = new Set();
const SAVED_IDS = {
  title: ['f-title'], description: ['f-description'], tags: ['f-tags'], recurrence: ['f-recurrence'],
  due: ['f-due-date', 'f-due-time', 'f-due-zone'], reminders: ['f-reminder-custom'],
};

function editingDetail() {
  const el = document.activeElement;
  const inDetail = el && $('#detail')?.contains(el) && el.matches('input, textarea, select');
  const descOpen = $('#desc-editor') && !$('#desc-editor').hidden;
  const commentOpen = $$('#detail .comment-edit').some((f) => !f.hidden);
  return inDetail || descOpen || commentOpen;
}

/** The repeat menu shows the task's rule, or "custom" with the rule's own field. */
export function showRecurrence() {
  const preset = $('#f-recurrence-preset');
  if (!preset) return;
  const current = preset.dataset.current;
  const known = [...preset.options].some((o) => o.value === current);
  preset.value = known ? current : 'custom';
  $('#rrule-custom').hidden = known;
}

/** Swaps in the task as it is now, unless the person is editing it (then later). */
export const refreshDetail = serial(async () => {
  const d = $('#detail');
  if (!d) return;
  const forced = forceRefresh;
  forceRefresh = false;
  if (!forced && editingDetail()) { detailStale = true; return; }
  let body;
  try {
    body = await html(`/ui/tasks/${d.dataset.id}`);
  } catch (err) {
    if (err.status === 404) {
      $('#detail-region').replaceChildren(fragment('<div class="empty"><h2>This task was deleted</h2><p><a href="/">Back to your tasks</a></p></div>'));
      return;
    }
    throw err;
  }
  const key = focusKey();
  const dirty = $$('#detail input, #detail textarea')
    .filter((el) => el.id && el.value !== el.defaultValue && !justSaved.has(el.id))
    .map((el) => [el.id, el.value]);
  const descOpen = $('#desc-editor') && !$('#desc-editor').hidden && !justSaved.has('f-description');
  $('#detail-region').innerHTML = body;
  for (const [id, value] of dirty) { const el = document.getElementById(id); if (el) el.value = value; }
  if (descOpen) { $('#desc-editor').hidden = false; $('#desc-view').hidden = true; }
  justSaved.clear();
  detailStale = false;
  showRecurrence();
  restoreFocus(key);
});

/** After a change of one's own: the task as the server has it now, even mid-edit. */
export function reloadDetail() {
  forceRefresh = true;
  return refreshDetail();
}

/** Runs the refresh that waited for the person to stop editing, if one did. */
export function catchUp() {
  if (detailStale && !editingDetail()) refreshDetail();
}

export function clearErrors() {
  for (const p of $$('#detail .field-error')) { p.hidden = true; p.textContent = ''; }
  for (const el of $$('#detail [aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Shows `message` under the field (`#err-{field}`), or as a toast for a field without one. */
export function showError(field, message) {
  const p = $(`#err-${field}`);
  if (!p) { toast(message, { kind: 'error' }); return; }
  p.textContent = message[0].toUpperCase() + message.slice(1);
  p.hidden = false;
  const input = $(`#detail [aria-describedby~="err-${field}"]`);
  input?.setAttribute('aria-invalid', 'true');
}

/** Saves `fields` of the task; `field` is where an error without a field of its own shows. True when saved. */
export async function patch(fields, field) {
  const d = $('#detail');
  clearErrors();
  try {
    const task = await api('PATCH', `/tasks/${d.dataset.id}`, fields, { 'If-Match': `"${d.dataset.version}"` });
    d.dataset.version = task.version;
    announce('Saved');
    for (const name of Object.keys(fields)) for (const id of SAVED_IDS[name] || []) justSaved.add(id);
    if ('description' in fields) $('#desc-editor')?.setAttribute('hidden', '');
    await reloadDetail();
    return true;
  } catch (err) {
    if (err.status === 412) {
      toast('This task was changed elsewhere; here is the latest version.');
      for (const name of Object.keys(fields)) for (const id of SAVED_IDS[name] || []) justSaved.add(id);
      await reloadDetail();
      return false;
    }
    const errors = err.problem?.errors;
    if (errors?.length) for (const e of errors) showError(e.field.replace(/\[\d+\]$/, ''), e.message);
    else showError(field, problemText(err));
    return false;
  }
}

/**
 * Calls `actions[name](button)` for a click on one of the task's own
 * `[data-action=name]` buttons. A subtask's buttons act on the subtask (rows.js).
 */
export function onTaskAction(region, actions) {
  region.addEventListener('click', async (e) => {
    if (e.target.closest('#subtask-list')) return;
    const b = e.target.closest('[data-action]');
    const run = b && Object.hasOwn(actions, b.dataset.action) ? actions[b.dataset.action] : null;
    if (run) await run(b);
  });
}
