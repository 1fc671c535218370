// Quick add: one line ("Pay rent tomorrow 9am #home ##Household") becomes a
// task, with a live preview of what was understood, rendered by the server.
import { $ } from './dom.js';
import { announce, problemText } from './feedback.js';
import { html, postJson } from './http.js';
import { zone } from './page.js';
import { refresh } from './view.js';

let previewSeq = 0;
async function updatePreview() {
  const quick = $('#quick');
  const box = $('#quick-preview');
  const seq = ++previewSeq;
  const text = quick.value;
  if (!text.trim()) { box.replaceChildren(); return; }
  try {
    const body = await html(`/ui/quick-preview?text=${encodeURIComponent(text)}&tz=${encodeURIComponent(zone)}`);
    if (seq === previewSeq) box.innerHTML = body;
  } catch { /* the preview is a nicety */ }
}

/** Puts an example (from an empty list's suggestions) into the field, previewed. */
export function useExample(text) {
  const q = $('#quick');
  q.value = text;
  q.focus();
  updatePreview();
}

export function initQuick() {
  const quick = $('#quick');
  if (!quick) return;
  let timer;
  quick.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(updatePreview, 120); });
  $('#quick-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = quick.value.trim();
    if (!text) { quick.focus(); return; }
    try {
      const form = $('#quick-form');
      const body = { text, timezone: zone };
      if (form.dataset.project) body.project_id = form.dataset.project;
      // Through the page's own endpoint: it understands ##Project.
      const task = await postJson('/ui/quick', body);
      quick.value = '';
      $('#quick-preview').replaceChildren();
      announce(`Added “${task.title}”`);
      await refresh();
    } catch (err) {
      const p = document.createElement('p');
      p.className = 'preview-error';
      p.textContent = problemText(err);
      $('#quick-preview').replaceChildren(p);
    }
  });
}
