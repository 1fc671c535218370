// The task list's filters, search and sort live in the URL: changing one
// updates the address (so Back and a reload show the same list) and the list.
import { $, $$ } from './dom.js';

/** Highlights the preset view ("Today", "Overdue", ...) whose address is the current one. */
function markPreset() {
  const here = location.pathname + location.search;
  for (const a of $$('.presets a')) {
    if (a.getAttribute('href') === here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Wires the `#filters` form; `refreshList` shows the list for the address. */
export function initFilters(refreshList) {
  const form = $('#filters');
  const apply = (push) => {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) params.set(k, String(v).trim());
    const url = params.toString() ? `/?${params}` : '/';
    if (url !== location.pathname + location.search) history[push ? 'pushState' : 'replaceState'](null, '', url);
    markPreset();
    refreshList();
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); apply(true); });
  form.addEventListener('change', (e) => { if (e.target.id !== 'search') apply(true); });
  let searchTimer;
  $('#search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => apply(false), 200); });
  $('#clear-filters').addEventListener('click', (e) => {
    e.preventDefault();
    form.reset();
    for (const el of form.elements) if (el.name) el.type === 'checkbox' ? (el.checked = false) : (el.value = '');
    history.pushState(null, '', '/');
    markPreset();
    refreshList();
  });
  window.addEventListener('popstate', () => {
    const params = new URLSearchParams(location.search);
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === 'checkbox') el.checked = params.has(el.name);
      else el.value = params.get(el.name) || '';
    }
    markPreset();
    refreshList();
  });
}
