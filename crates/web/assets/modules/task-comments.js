// A task's comments, on the task page: adding one, editing one in place (with
// its version, so an edit made elsewhere meanwhile is not overwritten),
// deleting one.
import { $ } from './dom.js';
import { announce, problemText } from './feedback.js';
import { api } from './http.js';
import { catchUp, clearErrors, onTaskAction, reloadDetail, showError } from './task-detail.js';

export function initComments(region) {
  region.addEventListener('submit', async (e) => {
    if (e.target.matches('.comment-edit')) {
      e.preventDefault();
      const form = e.target;
      const error = form.querySelector('.field-error');
      const text = form.querySelector('textarea').value.trim();
      if (!text) return;
      try {
        await api('PATCH', `/comments/${form.dataset.comment}`, { body: text }, { 'If-Match': `"${form.dataset.version}"` });
        announce('Comment saved');
        form.hidden = true;
        await reloadDetail();
      } catch (err) {
        error.textContent = err.status === 412 ? 'Someone changed this comment meanwhile; reload to see it.' : problemText(err);
        error.hidden = false;
      }
    } else if (e.target.id === 'comment-form') {
      e.preventDefault();
      const text = $('#f-comment').value.trim();
      if (!text) return;
      try {
        await api('POST', `/tasks/${$('#detail').dataset.id}/comments`, { body: text });
        announce('Comment added');
        await reloadDetail();
        $('#f-comment')?.focus();
      } catch (err) {
        clearErrors();
        showError('comment', problemText(err));
      }
    }
  });
  onTaskAction(region, {
    'edit-comment': (b) => {
      const form = $(`.comment-edit[data-comment="${b.dataset.comment}"]`);
      form.hidden = false;
      form.previousElementSibling.hidden = true;
      form.querySelector('textarea').focus();
    },
    'cancel-comment': (b) => {
      const form = b.closest('.comment-edit');
      form.hidden = true;
      form.previousElementSibling.hidden = false;
      form.querySelector('textarea').value = form.querySelector('textarea').defaultValue;
      catchUp();
    },
    'delete-comment': async (b) => {
      try {
        await api('DELETE', `/comments/${b.dataset.comment}`);
        announce('Comment deleted');
        await reloadDetail();
      } catch (err) { showError('comment', problemText(err)); }
    },
  });
}
