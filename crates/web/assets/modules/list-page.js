// The task list (`/`, data-page="list"): its rows are swapped in from
// /ui/list when anything changes, keeping the rows that did not change (and
// the one being edited) so their state and the focus survive; new rows are
// marked so they can be seen arriving.
import { $, $$, fragment } from './dom.js';
import { focusKey, restoreFocus } from './focus.js';
import { html } from './http.js';
import { initFilters } from './list-filters.js';
import { initQuick } from './quick-add.js';
import { initRows } from './rows.js';
import { markSelected, rows } from './selection.js';
import { deletedToast } from './task-actions.js';
import { serial } from './serial.js';
import { showView } from './view.js';

// Rows shown before (by task id); any other row is new.
const seen = new Set();

const refreshList = serial(async () => {
  const region = $('#list-region');
  if (!region) return;
  const next = fragment(await html('/ui/list' + location.search)).querySelector('#list');
  const key = focusKey();
  const oldUl = $('#task-list');
  const newUl = next.querySelector('#task-list');
  if (oldUl && newUl) {
    const old = new Map(rows().map((li) => [li.dataset.id, li]));
    const items = [...newUl.children].map((li) => {
      const cur = old.get(li.dataset.id);
      // Keep a row that did not change (or is being edited): its state survives.
      if (cur && (cur.dataset.version === li.dataset.version || cur.classList.contains('editing'))) return cur;
      if (!seen.has(li.dataset.id)) li.classList.add('fresh');
      return li;
    });
    newUl.replaceChildren(...items);
  } else if (newUl) {
    for (const li of newUl.children) if (!seen.has(li.dataset.id)) li.classList.add('fresh');
  }
  region.replaceChildren(next);
  for (const li of rows()) seen.add(li.dataset.id);
  markSelected();
  restoreFocus(key);
});

/** `zoneWasKnown`: false when the server rendered the list before it knew this device's zone. */
export function initList(zoneWasKnown) {
  for (const li of $$('#task-list > li')) seen.add(li.dataset.id);
  // Every change anywhere may move a task into or out of this list.
  showView({ refresh: refreshList, concerns: () => true });
  initRows($('#list-region'));
  initQuick();
  initFilters(refreshList);

  // A task deleted on its own page comes back here with its Undo.
  const pending = sessionStorage.getItem('ontask:deleted');
  if (pending) {
    sessionStorage.removeItem('ontask:deleted');
    try { deletedToast(JSON.parse(pending)); } catch { /* ignore */ }
  }
  if (!zoneWasKnown) refreshList();
}
