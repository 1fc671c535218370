// What can be done to a task from wherever it shows (a row, the task page, a
// shortcut): complete or reopen it, and delete it with an Undo that puts it
// back where it was.
import { $ } from './dom.js';
import { announce, problemText, toast } from './feedback.js';
import { api } from './http.js';
import { select } from './selection.js';
import { refresh } from './view.js';

/** Completes or reopens the task `el` shows (a row, or the task page's `#detail`). */
export async function toggle(el) {
  const id = el.dataset.id;
  const done = el.dataset.done === 'true';
  const title = el.querySelector('.task-title')?.textContent || $('#f-title')?.value || 'task';
  el.dataset.done = String(!done);
  el.classList.toggle('done', !done);
  try {
    await api('POST', `/tasks/${id}/${done ? 'reopen' : 'complete'}`);
    if (!done) {
      toast(`Completed “${title}”`, { action: 'Undo', onAction: async () => { await api('POST', `/tasks/${id}/reopen`); refresh(); announce('Reopened'); } });
    } else {
      announce(`Reopened “${title}”`);
    }
  } catch (err) {
    toast(problemText(err), { kind: 'error' });
  }
  refresh();
}

/** Deletes a task; answers what it was, for Undo. */
export async function remove(id) {
  const snapshot = await api('GET', `/tasks/${id}`);
  await api('DELETE', `/tasks/${id}`);
  return snapshot;
}

/** Undo a delete: the same task again, at the same place in the list. */
async function restore(snapshot) {
  const body = { title: snapshot.title, description: snapshot.description, priority: snapshot.priority, tags: snapshot.tags, position: snapshot.position };
  if (snapshot.due) body.due = snapshot.due;
  if (snapshot.reminders?.length) body.reminders = snapshot.reminders;
  if (snapshot.recurrence) body.recurrence = snapshot.recurrence;
  if (snapshot.repeat_from) body.repeat_from = snapshot.repeat_from;
  const task = await api('POST', '/tasks', body);
  announce(`Restored “${task.title}”`);
  await refresh();
  return task;
}

/** "Deleted …" with Undo, for a task `remove` answered. */
export function deletedToast(snapshot) {
  toast(`Deleted “${snapshot.title}”`, {
    action: 'Undo',
    timeout: 10000,
    onAction: () => restore(snapshot).catch((e) => toast(problemText(e), { kind: 'error' })),
  });
}

/** Deletes the task of a row, moving the selection to its neighbour. */
export async function deleteRow(li) {
  const next = li.nextElementSibling || li.previousElementSibling;
  li.classList.add('leaving');
  try {
    const snapshot = await remove(li.dataset.id);
    li.remove();
    if (next) select(next);
    deletedToast(snapshot);
  } catch (err) {
    li.classList.remove('leaving');
    toast(problemText(err), { kind: 'error' });
  }
  refresh();
}
