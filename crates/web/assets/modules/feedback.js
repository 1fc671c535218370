// Telling the person what happened: a screen-reader announcement, a toast
// (with an optional action such as Undo), the readable text of a failed
// request, and a confirmation asked before a change that cannot be undone.
import { $ } from './dom.js';

export function announce(message) {
  const region = $('#announce');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => { region.textContent = message; }, 40);
}

export function toast(message, { action, onAction, kind = '', timeout = 7000 } = {}) {
  const box = $('#toasts');
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  const text = document.createElement('span');
  text.textContent = message;
  el.append(text);
  if (action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link-btn';
    b.textContent = action;
    b.addEventListener('click', () => { el.remove(); onAction(); });
    el.append(b);
  }
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'icon-btn small';
  close.setAttribute('aria-label', 'Dismiss');
  close.textContent = '×';
  close.addEventListener('click', () => el.remove());
  el.append(close);
  box.append(el);
  setTimeout(() => el.remove(), timeout);
  return el;
}

/** The first failing field's message (problem+json `errors`), else the error's own. */
export function problemText(err) {
  const first = err.problem?.errors?.[0];
  const msg = first ? first.message : err.message;
  return msg ? msg[0].toUpperCase() + msg.slice(1) : 'Something went wrong';
}

/** Asks before a change that cannot be undone; resolves to true when confirmed. */
export function ask(message, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = document.createElement('dialog');
    dialog.className = 'ask';
    const form = document.createElement('form');
    form.method = 'dialog';
    const text = document.createElement('p');
    text.textContent = message;
    const yes = Object.assign(document.createElement('button'), { className: 'btn danger', value: 'yes', textContent: confirmLabel });
    const no = Object.assign(document.createElement('button'), { className: 'btn ghost', value: 'no', textContent: 'Cancel' });
    form.append(text, yes, ' ', no);
    dialog.append(form);
    dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'yes'); });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}
