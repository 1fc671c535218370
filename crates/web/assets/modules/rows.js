// The buttons on task rows, wherever rows are (the list, a project, a task's
// subtasks), handled once for the region that holds them.
import { useExample } from './quick-add.js';
import { followFocus, select } from './selection.js';
import { collapse } from './subtree.js';
import { deleteRow, toggle } from './task-actions.js';
import { startEdit } from './title-edit.js';

/** Acts on a click in a region of rows; true when the click was one of theirs. */
export function onRowClick(e) {
  const button = e.target.closest('[data-action]');
  const example = e.target.closest('[data-example]');
  if (example) {
    useExample(example.dataset.example);
    return true;
  }
  if (!button) return false;
  const li = button.closest('li.task');
  if (!li) return false;
  select(li, false);
  if (button.dataset.action === 'toggle') toggle(li);
  if (button.dataset.action === 'edit') startEdit(li);
  if (button.dataset.action === 'delete') deleteRow(li);
  if (button.dataset.action === 'collapse') collapse(li, button.getAttribute('aria-expanded') === 'true');
  return true;
}

export function initRows(region) {
  region.addEventListener('click', onRowClick);
  followFocus(region);
}
