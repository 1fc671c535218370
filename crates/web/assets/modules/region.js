// The region of the project pages (a project's list or board, Upcoming, its
// members, its activity): swapped in whole from its fragment (`data-src`).
import { $, $$, fragment } from './dom.js';
import { focusKey, restoreFocus } from './focus.js';
import { html } from './http.js';
import { serial } from './serial.js';
import { applyCollapsed } from './subtree.js';
import { showView } from './view.js';

/** Reloads the page's region from its fragment, unless a card is being edited or dragged. */
export const refreshRegion = serial(async () => {
  const region = $('#list-region');
  if (!region?.dataset.src) return;
  if (region.querySelector('.editing, .dragging')) return;
  let body;
  try {
    body = await html(region.dataset.src);
  } catch (err) {
    if (err.status === 404) {
      region.replaceChildren(fragment('<div class="empty"><h2>This project is no longer shared with you</h2><p><a href="/">Back to your tasks</a></p></div>'));
      for (const f of $$('#quick-form, #section-form, #invite-form')) f.remove();
      return;
    }
    throw err;
  }
  const key = focusKey();
  region.innerHTML = body;
  applyCollapsed();
  restoreFocus(key);
});

/** Any change to the project on screen (or, on Upcoming, to any project). */
function concerns(type, envelope) {
  const shown = $('#list-region')?.dataset.project;
  return !shown || !envelope.project_id || envelope.project_id === shown;
}

/** Makes the region the page's view: refreshed by task actions and live events. */
export function showRegion() {
  showView({ refresh: refreshRegion, concerns });
}
