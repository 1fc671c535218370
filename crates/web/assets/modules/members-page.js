// A project's members (data-page="members"): roles, handing the project
// over, removing someone, inviting by e-mail, leaving; and, for the owner,
// the project's own settings.
import { $ } from './dom.js';
import { announce, ask, problemText, toast } from './feedback.js';
import { api } from './http.js';
import { initProjectSettings } from './project-settings.js';
import { refreshRegion, showRegion } from './region.js';

export function initMembers() {
  showRegion();
  const region = $('#list-region');
  const project = region.dataset.project;
  region.addEventListener('change', async (e) => {
    if (e.target.dataset.action !== 'role') return;
    try {
      await api('PATCH', `/projects/${project}/members/${e.target.dataset.user}`, { role: e.target.value });
      announce('Role changed');
    } catch (err) {
      toast(problemText(err), { kind: 'error' });
    }
    refreshRegion();
  });
  initProjectSettings(project);
  region.addEventListener('click', async (e) => {
    const handOver = e.target.closest('[data-action="transfer"]');
    if (handOver) {
      if (!await ask(`Make ${handOver.dataset.who} the owner? You stay on as an editor.`, 'Make owner')) return;
      try {
        await api('POST', `/projects/${project}/transfer`, { user_id: handOver.dataset.user });
        location.reload();
      } catch (err) { toast(problemText(err), { kind: 'error' }); }
      return;
    }
    const b = e.target.closest('[data-action="remove-member"]');
    if (!b) return;
    try {
      await api('DELETE', `/projects/${project}/members/${b.dataset.user}`);
      announce('Removed');
    } catch (err) {
      toast(problemText(err), { kind: 'error' });
    }
    refreshRegion();
  });
  const invite = $('#invite-form');
  invite?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const error = $('#invite-error');
    error.hidden = true;
    try {
      const m = await api('POST', `/projects/${project}/members`, { email: $('#invite-email').value.trim(), role: $('#invite-role').value });
      $('#invite-email').value = '';
      announce(`Added ${m.email}`);
      await refreshRegion();
    } catch (err) {
      error.textContent = problemText(err);
      error.hidden = false;
      $('#invite-email').focus();
    }
  });
  $('#leave-project')?.addEventListener('click', async () => {
    try {
      await api('DELETE', `/projects/${project}/members/me`);
      location.href = '/';
    } catch (err) {
      toast(problemText(err), { kind: 'error' });
    }
  });
}
