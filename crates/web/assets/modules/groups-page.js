// A project (as a list or a board) and Upcoming (data-page="groups"): task
// rows or cards grouped by section or by day, with quick add.
import { $ } from './dom.js';
import { problemText, toast } from './feedback.js';
import { api } from './http.js';
import { initBoard } from './board.js';
import { initQuick } from './quick-add.js';
import { showRegion } from './region.js';
import { initRows } from './rows.js';
import { initSections } from './sections.js';
import { applyCollapsed } from './subtree.js';

export function initGroups() {
  showRegion();
  const region = $('#list-region');
  initRows(region);
  initQuick();
  if (region.dataset.board) initBoard(region);
  applyCollapsed();
  initSections(region);
  $('#unarchive-project')?.addEventListener('click', async (e) => {
    try {
      await api('POST', `/projects/${e.target.dataset.project}/unarchive`);
      location.reload();
    } catch (err) { toast(problemText(err), { kind: 'error' }); }
  });
}
