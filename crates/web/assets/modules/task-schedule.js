// When a task is due, how it repeats and when it reminds, on the task page.
import { $, $$ } from './dom.js';
import { announce, problemText } from './feedback.js';
import { api } from './http.js';
import { zone } from './page.js';
import { clearErrors, onTaskAction, patch, reloadDetail, showError } from './task-detail.js';

function currentReminders() {
  return $$('#reminders [data-action="remove-reminder"]').map((b) => b.dataset.value);
}

export function initSchedule(region) {
  region.addEventListener('change', (e) => {
    const t = e.target;
    if (t.id === 'f-recurrence-preset') {
      if (t.value === 'custom') { $('#rrule-custom').hidden = false; $('#f-recurrence').focus(); }
      else patch({ recurrence: t.value || null }, 'recurrence');
    } else if (t.id === 'f-repeat-from') {
      patch({ repeat_from: t.checked ? 'completion' : 'due' }, 'repeat_from');
    } else if (t.id === 'f-reminder') {
      $('#reminder-custom-row').hidden = t.value !== 'custom';
      if (t.value === 'custom') $('#f-reminder-custom').focus();
    }
  });
  region.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target.id === 'f-recurrence') { e.preventDefault(); $('[data-action="save-rrule"]').click(); }
    if (e.key === 'Enter' && e.target.id === 'f-reminder-custom') { e.preventDefault(); $('[data-action="add-reminder"]').click(); }
  });
  onTaskAction(region, {
    'save-due': () => {
      const date = $('#f-due-date').value;
      const time = $('#f-due-time').value;
      const tz = $('#f-due-zone').value.trim() || $('#f-due-zone').dataset.default || zone;
      if (!date) { clearErrors(); showError('due', 'pick a date first'); return; }
      patch({ due: time ? `${date}T${time}[${tz}]` : date }, 'due');
    },
    'clear-due': () => { patch({ due: null }, 'due'); },
    'skip-occurrence': async () => {
      const d = $('#detail');
      try {
        const task = await api('POST', `/tasks/${d.dataset.id}/skip`, undefined, { 'If-Match': `"${d.dataset.version}"` });
        d.dataset.version = task.version;
        announce(`Skipped; next due ${task.due}`);
        await reloadDetail();
      } catch (err) { clearErrors(); showError('recurrence', problemText(err)); }
    },
    'save-rrule': () => { patch({ recurrence: $('#f-recurrence').value.trim() || null }, 'recurrence'); },
    'add-reminder': () => {
      let value = $('#f-reminder').value;
      if (value === 'custom') {
        value = $('#f-reminder-custom').value.trim();
        if (!value) { clearErrors(); showError('reminders', 'type a reminder first'); return; }
        // A local date and time ("2026-12-01T09:00") becomes an instant.
        if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$/.test(value)) value = new Date(value.replace(' ', 'T')).toISOString();
      }
      patch({ reminders: [...currentReminders(), value] }, 'reminders');
    },
    'remove-reminder': (b) => { patch({ reminders: currentReminders().filter((r) => r !== b.dataset.value) }, 'reminders'); },
  });
}
