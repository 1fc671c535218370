// A project's sections: adding one, renaming one in place (its heading becomes
// a field; Enter saves, Escape cancels), deleting one after asking.
import { $ } from './dom.js';
import { announce, ask, problemText, toast } from './feedback.js';
import { api } from './http.js';
import { refreshRegion } from './region.js';

function renameSection(tools) {
  const head = tools.closest('.group-head');
  const heading = head.querySelector('h2');
  const input = document.createElement('input');
  input.value = tools.dataset.name;
  input.maxLength = 120;
  input.setAttribute('aria-label', 'Section name');
  head.classList.add('editing');
  heading.hidden = true;
  tools.hidden = true;
  head.prepend(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const name = input.value.trim();
    if (save && name && name !== tools.dataset.name) {
      try {
        await api('PATCH', `/sections/${tools.dataset.section}`, { name });
        announce(`Renamed to “${name}”`);
      } catch (err) { toast(problemText(err), { kind: 'error' }); }
    }
    head.classList.remove('editing');
    input.remove();
    heading.hidden = false;
    tools.hidden = false;
    refreshRegion();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); finish(true); }
    if (e.key === 'Escape') { e.preventDefault(); finish(false); }
  });
  input.addEventListener('blur', () => finish(true));
}

async function deleteSection(tools) {
  if (!await ask(`Delete the section “${tools.dataset.name}”? Its tasks stay in the project, in no section.`, 'Delete section')) return;
  try {
    await api('DELETE', `/sections/${tools.dataset.section}`);
    announce(`Deleted section “${tools.dataset.name}”`);
  } catch (err) { toast(problemText(err), { kind: 'error' }); }
  refreshRegion();
}

export function initSections(region) {
  region.addEventListener('click', (e) => {
    const b = e.target.closest('[data-action="rename-section"], [data-action="delete-section"]');
    if (!b) return;
    const tools = b.closest('.section-tools');
    if (b.dataset.action === 'rename-section') renameSection(tools);
    else deleteSection(tools);
  });
  const sectionForm = $('#section-form');
  sectionForm?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#f-section-name');
    const error = $('#section-error');
    error.hidden = true;
    try {
      const section = await api('POST', `/projects/${sectionForm.dataset.project}/sections`, { name: input.value.trim() });
      input.value = '';
      announce(`Added section “${section.name}”`);
      await refreshRegion();
    } catch (err) {
      error.textContent = problemText(err);
      error.hidden = false;
    }
  });
}
