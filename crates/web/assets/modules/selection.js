// The selected task row of the list: the one the keyboard shortcuts act on.
// It follows the focus, and survives the list being swapped in again.
import { $$ } from './dom.js';

let selectedId = null;

export function rows() {
  return $$('#task-list > li.task');
}

export function select(li, focus = true) {
  for (const r of rows()) r.classList.toggle('selected', r === li);
  selectedId = li?.dataset.id || null;
  if (li && focus) {
    li.tabIndex = -1;
    li.focus();
    li.scrollIntoView({ block: 'nearest' });
  }
}

/** The row with the focus, else the one selected last. */
export function selected() {
  const active = document.activeElement?.closest?.('li.task');
  if (active) return active;
  return selectedId ? document.getElementById('task-' + selectedId) : null;
}

/** Marks the selected row again once a swap has replaced it. */
export function markSelected() {
  if (selectedId) document.getElementById('task-' + selectedId)?.classList.add('selected');
}

/** A row that gets the focus (Tab, a click on one of its buttons) becomes the selected one. */
export function followFocus(region) {
  region.addEventListener('focusin', (e) => {
    const li = e.target.closest('li.task');
    if (!li) return;
    selectedId = li.dataset.id;
    for (const r of rows()) r.classList.toggle('selected', r === li);
  });
}
