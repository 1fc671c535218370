// Folding subtasks away under their parent. Which parents are folded is kept
// here (by task id), so it survives the rows being swapped in again.
import { $$ } from './dom.js';
import { announce } from './feedback.js';

const collapsed = new Set();

/** Hides (or shows again) every row below `li` in its subtask tree. */
export function collapse(li, close) {
  if (close) collapsed.add(li.dataset.id); else collapsed.delete(li.dataset.id);
  applyCollapsed();
  announce(close ? 'Subtasks hidden' : 'Subtasks shown');
}

/** Hides the rows under folded parents, in whatever rows the page has now. */
export function applyCollapsed() {
  for (const row of $$('li.task[data-path]')) {
    row.hidden = row.dataset.path.split('/').some((id) => collapsed.has(id));
  }
  for (const b of $$('[data-action="collapse"]')) {
    b.setAttribute('aria-expanded', String(!collapsed.has(b.closest('li.task').dataset.id)));
  }
}
