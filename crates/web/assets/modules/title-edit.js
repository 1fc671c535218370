// Renaming a task in its row: the title becomes a field; Enter or leaving it
// saves, Escape cancels.
import { announce, problemText, toast } from './feedback.js';
import { api } from './http.js';
import { select } from './selection.js';
import { refresh } from './view.js';

export function startEdit(li) {
  if (!li || li.classList.contains('editing')) return;
  const link = li.querySelector('.task-title');
  const input = document.createElement('input');
  input.className = 'title-edit';
  input.value = link.textContent;
  input.maxLength = 500;
  input.setAttribute('aria-label', 'Task title');
  li.classList.add('editing');
  link.hidden = true;
  link.after(input);
  input.focus();
  input.select();
  let finished = false;
  const finish = async (save) => {
    if (finished) return;
    finished = true;
    const value = input.value.trim();
    const changed = save && value && value !== link.textContent;
    if (changed) link.textContent = value;
    input.remove();
    link.hidden = false;
    li.classList.remove('editing');
    select(li);
    if (changed) {
      try {
        await api('PATCH', `/tasks/${li.dataset.id}`, { title: value });
        announce('Title saved');
      } catch (err) {
        toast(problemText(err), { kind: 'error' });
      }
      refresh();
    }
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); finish(true); }
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); finish(false); }
  });
  input.addEventListener('blur', () => finish(true));
}
