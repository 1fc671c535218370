// The sidebar: projects and views, swapped in again when a project or a
// membership changes; on narrow screens it opens from the top bar's button.
import { $ } from './dom.js';
import { problemText } from './feedback.js';
import { api, html } from './http.js';
import { serial } from './serial.js';

export const refreshSidebar = serial(async () => {
  const nav = $('#sidebar');
  if (!nav) return;
  const body = await html(`/ui/sidebar?current=${encodeURIComponent(nav.dataset.current || '')}`);
  const open = $('#new-project')?.open;
  const archivedOpen = $('#archived-projects')?.open;
  if (nav.contains(document.activeElement) && document.activeElement.matches('input, select')) return;
  nav.innerHTML = body;
  if (open) $('#new-project').open = true;
  if (archivedOpen && $('#archived-projects')) $('#archived-projects').open = true;
});

export function initSidebar() {
  const nav = $('#sidebar');
  if (!nav) return;
  const toggleBtn = $('#nav-toggle');
  toggleBtn?.addEventListener('click', () => {
    const open = !nav.classList.contains('open');
    nav.classList.toggle('open', open);
    toggleBtn.setAttribute('aria-expanded', String(open));
    if (open) nav.querySelector('a')?.focus();
  });
  nav.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && nav.classList.contains('open')) {
      nav.classList.remove('open');
      toggleBtn?.setAttribute('aria-expanded', 'false');
      toggleBtn?.focus();
    }
  });
  nav.addEventListener('submit', async (e) => {
    if (e.target.id !== 'new-project-form') return;
    e.preventDefault();
    const error = $('#np-error');
    error.hidden = true;
    try {
      const p = await api('POST', '/projects', { name: $('#np-name').value.trim(), colour: $('#np-colour').value });
      location.href = `/projects/${p.id}`;
    } catch (err) {
      error.textContent = problemText(err);
      error.hidden = false;
    }
  });
}
