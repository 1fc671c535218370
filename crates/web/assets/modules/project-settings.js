// The owner's controls on a project's members page: rename, recolour,
// describe, archive, delete.
import { $ } from './dom.js';
import { announce, problemText, toast } from './feedback.js';
import { api } from './http.js';

export function initProjectSettings(project) {
  const form = $('#project-form');
  form?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const error = $('#ps-error');
    error.hidden = true;
    try {
      await api('PATCH', `/projects/${project}`, {
        name: $('#ps-name').value.trim(),
        colour: $('#ps-colour').value,
        description: $('#ps-description').value,
      });
      announce('Project saved');
      location.reload();
    } catch (err) {
      error.textContent = problemText(err);
      error.hidden = false;
    }
  });
  $('.danger-zone')?.addEventListener('click', async (e) => {
    const b = e.target.closest('[data-action]');
    if (!b) return;
    if (b.dataset.action === 'delete-project') { $('#delete-project-dialog').showModal(); return; }
    const verb = b.dataset.action === 'archive-project' ? 'archive' : 'unarchive';
    try {
      await api('POST', `/projects/${project}/${verb}`);
      location.reload();
    } catch (err) { toast(problemText(err), { kind: 'error' }); }
  });
  const dialog = $('#delete-project-dialog');
  dialog?.addEventListener('close', async () => {
    if (dialog.returnValue !== 'confirm') return;
    const tasks = dialog.querySelector('input[name="tasks"]:checked').value;
    try {
      await api('DELETE', `/projects/${project}?tasks=${tasks}`);
      location.href = '/';
    } catch (err) {
      toast(problemText(err), { kind: 'error' });
    }
  });
}
