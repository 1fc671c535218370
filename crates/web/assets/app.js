// ontask's page script: plain JavaScript, no build step.
//
// Pages arrive rendered by the server (crates/web). This module changes tasks
// through the REST API (/api/v1, with the session cookie), listens to the user's
// events on /api/v1/stream and swaps in freshly rendered fragments (/ui/...), so
// a change made anywhere shows here without a reload. Everything user-written is
// put into the page either as server-escaped HTML or with textContent.

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const page = document.body.dataset.page;
// The profile's zone when the person chose one, else this device's.
const zone = document.body.dataset.zone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

// ---------------------------------------------------------------- preferences

function cookie(name) {
  const hit = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
  return hit ? hit.slice(name.length + 1) : null;
}
function setCookie(name, value) {
  document.cookie = `${name}=${value}; path=/; max-age=31536000; samesite=lax`;
}
// The server shows dues in this zone ("Today 09:00").
const zoneWasKnown = cookie('ontask_tz') === zone;
setCookie('ontask_tz', zone);

function effectiveTheme() {
  const set = document.documentElement.dataset.theme;
  if (set) return set;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}
$('#theme-toggle')?.addEventListener('click', () => {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  setCookie('ontask_theme', next);
  announce(`${next[0].toUpperCase()}${next.slice(1)} theme`);
});

// ---------------------------------------------------------------- plumbing

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `request failed (${status})`);
    this.status = status;
    this.problem = problem;
  }
}

function signedOut() {
  location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
  return new ApiError(401, { detail: 'signed out' });
}

async function api(method, path, body, headers = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, init);
  if (res.status === 401) throw signedOut();
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

async function html(url, init = {}) {
  const res = await fetch(url, { credentials: 'same-origin', ...init, headers: { Accept: 'text/html', ...(init.headers || {}) } });
  if (res.status === 401) throw signedOut();
  if (!res.ok) throw new ApiError(res.status, null);
  return res.text();
}

/** POSTs JSON to one of the page's own endpoints (/ui/...); errors as from `api`. */
async function postJson(url, body) {
  const res = await fetch(url, {
    method: 'POST', credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (res.status === 401) throw signedOut();
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function fragment(text) {
  const t = document.createElement('template');
  t.innerHTML = text;
  return t.content;
}

function announce(message) {
  const region = $('#announce');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => { region.textContent = message; }, 40);
}

function toast(message, { action, onAction, kind = '', timeout = 7000 } = {}) {
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

function problemText(err) {
  const first = err.problem?.errors?.[0];
  const msg = first ? first.message : err.message;
  return msg ? msg[0].toUpperCase() + msg.slice(1) : 'Something went wrong';
}

/** Runs `fn` at most once at a time; calls made meanwhile run once more after. */
function serial(fn) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do { again = false; await fn(); } while (again);
      } catch (e) {
        if (e.status !== 401) console.warn(e);
      } finally {
        running = null;
      }
    })();
    return running;
  };
  return run;
}

/** Keeps focus on the "same" element across a swap (by id, or by row and action). */
function focusKey() {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const row = el.closest('[data-id]');
  return { id: el.id, row: row?.dataset.id, action: el.dataset?.action, isRow: el.matches('li.task'), el };
}
function restoreFocus(key) {
  if (!key || document.activeElement === key.el) return;
  if (key.el.isConnected) { key.el.focus({ preventScroll: true }); return; }
  let target = key.id ? document.getElementById(key.id) : null;
  if (!target && key.row) {
    const row = document.querySelector(`[data-id="${CSS.escape(key.row)}"]`);
    target = key.isRow ? row : row?.querySelector(`[data-action="${key.action}"]`) || row;
  }
  if (target) {
    if (target.matches('li.task')) target.tabIndex = -1;
    target.focus({ preventScroll: true });
  }
}

// ---------------------------------------------------------------- the list

let selectedId = null;
const seen = new Set($$('#task-list > li').map((li) => li.dataset.id));

function rows() {
  return $$('#task-list > li.task');
}

function select(li, focus = true) {
  for (const r of rows()) r.classList.toggle('selected', r === li);
  selectedId = li?.dataset.id || null;
  if (li && focus) {
    li.tabIndex = -1;
    li.focus();
    li.scrollIntoView({ block: 'nearest' });
  }
}

function selected() {
  const active = document.activeElement?.closest?.('li.task');
  if (active) return active;
  return selectedId ? document.getElementById('task-' + selectedId) : null;
}

const refreshList = serial(async () => {
  const region = $('#list-region');
  if (!region) return;
  const next = fragment(await html('/ui/list' + location.search)).querySelector('#list');
  const key = focusKey();
  const oldUl = $('#task-list');
  const newUl = next.querySelector('#task-list');
  if (oldUl && newUl) {
    const old = new Map(rows().map((li) => [li.dataset.id, li]));
    const items = [...newUl.children].map((li) => {
      const cur = old.get(li.dataset.id);
      // Keep a row that did not change (or is being edited): its state survives.
      if (cur && (cur.dataset.version === li.dataset.version || cur.classList.contains('editing'))) return cur;
      if (!seen.has(li.dataset.id)) li.classList.add('fresh');
      return li;
    });
    newUl.replaceChildren(...items);
  } else if (newUl) {
    for (const li of newUl.children) if (!seen.has(li.dataset.id)) li.classList.add('fresh');
  }
  region.replaceChildren(next);
  for (const li of rows()) seen.add(li.dataset.id);
  if (selectedId) document.getElementById('task-' + selectedId)?.classList.add('selected');
  restoreFocus(key);
});

async function toggle(el) {
  const id = el.dataset.id;
  const done = el.dataset.done === 'true';
  const title = el.querySelector('.task-title')?.textContent || $('#f-title')?.value || 'task';
  el.dataset.done = String(!done);
  el.classList.toggle('done', !done);
  try {
    await api('POST', `/tasks/${id}/${done ? 'reopen' : 'complete'}`);
    if (!done) {
      toast(`Completed “${title}”`, { action: 'Undo', onAction: async () => { await api('POST', `/tasks/${id}/reopen`); refresh(); announce('Reopened'); } });
    } else {
      announce(`Reopened “${title}”`);
    }
  } catch (err) {
    toast(problemText(err), { kind: 'error' });
  }
  refresh();
}

function refresh() {
  if (page === 'list') return refreshList();
  if (page === 'detail') return refreshDetail();
  if (page === 'groups' || page === 'members' || page === 'activity') return refreshRegion();
  return Promise.resolve();
}

async function remove(id) {
  const snapshot = await api('GET', `/tasks/${id}`);
  await api('DELETE', `/tasks/${id}`);
  return snapshot;
}

/** Undo a delete: the same task again, at the same place in the list. */
async function restore(snapshot) {
  const body = { title: snapshot.title, description: snapshot.description, priority: snapshot.priority, tags: snapshot.tags, position: snapshot.position };
  if (snapshot.due) body.due = snapshot.due;
  if (snapshot.reminders?.length) body.reminders = snapshot.reminders;
  if (snapshot.recurrence) body.recurrence = snapshot.recurrence;
  if (snapshot.repeat_from) body.repeat_from = snapshot.repeat_from;
  const task = await api('POST', '/tasks', body);
  announce(`Restored “${task.title}”`);
  await refresh();
  return task;
}

function deletedToast(snapshot) {
  toast(`Deleted “${snapshot.title}”`, {
    action: 'Undo',
    timeout: 10000,
    onAction: () => restore(snapshot).catch((e) => toast(problemText(e), { kind: 'error' })),
  });
}

async function deleteRow(li) {
  const next = li.nextElementSibling || li.previousElementSibling;
  li.classList.add('leaving');
  try {
    const snapshot = await remove(li.dataset.id);
    li.remove();
    if (next) select(next);
    deletedToast(snapshot);
  } catch (err) {
    li.classList.remove('leaving');
    toast(problemText(err), { kind: 'error' });
  }
  refresh();
}

function startEdit(li) {
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

/** The buttons on task rows, wherever rows are (the list, a project, subtasks). */
function onRowClick(e) {
  const button = e.target.closest('[data-action]');
  const example = e.target.closest('[data-example]');
  if (example) {
    const q = $('#quick');
    q.value = example.dataset.example;
    q.focus();
    updatePreview();
    return true;
  }
  if (!button) return false;
  const li = button.closest('li.task');
  if (!li) return false;
  select(li, false);
  if (button.dataset.action === 'toggle') toggle(li);
  if (button.dataset.action === 'edit') startEdit(li);
  if (button.dataset.action === 'delete') deleteRow(li);
  if (button.dataset.action === 'collapse') collapse(li, button.getAttribute('aria-expanded') === 'true');
  return true;
}

function initRows(region) {
  region.addEventListener('click', onRowClick);
  region.addEventListener('focusin', (e) => {
    const li = e.target.closest('li.task');
    if (!li) return;
    selectedId = li.dataset.id;
    for (const r of rows()) r.classList.toggle('selected', r === li);
  });
}

// Collapsed parents, kept across fragment swaps (by task id).
const collapsed = new Set();

/** Hides (or shows again) every row below `li` in its subtask tree. */
function collapse(li, close) {
  if (close) collapsed.add(li.dataset.id); else collapsed.delete(li.dataset.id);
  applyCollapsed();
  announce(close ? 'Subtasks hidden' : 'Subtasks shown');
}

function applyCollapsed() {
  for (const row of $$('li.task[data-path]')) {
    row.hidden = row.dataset.path.split('/').some((id) => collapsed.has(id));
  }
  for (const b of $$('[data-action="collapse"]')) {
    b.setAttribute('aria-expanded', String(!collapsed.has(b.closest('li.task').dataset.id)));
  }
}

function initQuick() {
  // Quick add with a live preview of what was understood.
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

function initList() {
  const region = $('#list-region');
  initRows(region);
  initQuick();

  // Filters, search and sort live in the URL.
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

  const pending = sessionStorage.getItem('ontask:deleted');
  if (pending) {
    sessionStorage.removeItem('ontask:deleted');
    try { deletedToast(JSON.parse(pending)); } catch { /* ignore */ }
  }
  if (!zoneWasKnown) refreshList();
}

function markPreset() {
  const here = location.pathname + location.search;
  for (const a of $$('.presets a')) {
    if (a.getAttribute('href') === here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

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

// ---------------------------------------------------------------- a task

let detailStale = false;

function editingDetail() {
  const el = document.activeElement;
  const inDetail = el && $('#detail')?.contains(el) && el.matches('input, textarea, select');
  const descOpen = $('#desc-editor') && !$('#desc-editor').hidden;
  const commentOpen = $$('#detail .comment-edit').some((f) => !f.hidden);
  return inDetail || descOpen || commentOpen;
}

// Fields just saved take the server's value; any other field someone is in the
// middle of changing keeps what they typed across the swap.
const justSaved = new Set();
let forceRefresh = false;
const SAVED_IDS = {
  title: ['f-title'], description: ['f-description'], tags: ['f-tags'], recurrence: ['f-recurrence'],
  due: ['f-due-date', 'f-due-time', 'f-due-zone'], reminders: ['f-reminder-custom'],
};

const refreshDetail = serial(async () => {
  const d = $('#detail');
  if (!d) return;
  const forced = forceRefresh;
  forceRefresh = false;
  if (!forced && editingDetail()) { detailStale = true; return; }
  let body;
  try {
    body = await html(`/ui/tasks/${d.dataset.id}`);
  } catch (err) {
    if (err.status === 404) {
      $('#detail-region').replaceChildren(fragment('<div class="empty"><h2>This task was deleted</h2><p><a href="/">Back to your tasks</a></p></div>'));
      return;
    }
    throw err;
  }
  const key = focusKey();
  const dirty = $$('#detail input, #detail textarea')
    .filter((el) => el.id && el.value !== el.defaultValue && !justSaved.has(el.id))
    .map((el) => [el.id, el.value]);
  const descOpen = $('#desc-editor') && !$('#desc-editor').hidden && !justSaved.has('f-description');
  $('#detail-region').innerHTML = body;
  for (const [id, value] of dirty) { const el = document.getElementById(id); if (el) el.value = value; }
  if (descOpen) { $('#desc-editor').hidden = false; $('#desc-view').hidden = true; }
  justSaved.clear();
  detailStale = false;
  initDetailState();
  restoreFocus(key);
});

function clearErrors() {
  for (const p of $$('#detail .field-error')) { p.hidden = true; p.textContent = ''; }
  for (const el of $$('#detail [aria-invalid]')) el.removeAttribute('aria-invalid');
}

function showError(field, message) {
  const p = $(`#err-${field}`);
  if (!p) { toast(message, { kind: 'error' }); return; }
  p.textContent = message[0].toUpperCase() + message.slice(1);
  p.hidden = false;
  const input = $(`#detail [aria-describedby~="err-${field}"]`);
  input?.setAttribute('aria-invalid', 'true');
}

async function patch(fields, field) {
  const d = $('#detail');
  clearErrors();
  try {
    const task = await api('PATCH', `/tasks/${d.dataset.id}`, fields, { 'If-Match': `"${d.dataset.version}"` });
    d.dataset.version = task.version;
    announce('Saved');
    for (const name of Object.keys(fields)) for (const id of SAVED_IDS[name] || []) justSaved.add(id);
    if ('description' in fields) $('#desc-editor')?.setAttribute('hidden', '');
    forceRefresh = true;
    await refreshDetail();
    return true;
  } catch (err) {
    if (err.status === 412) {
      toast('This task was changed elsewhere; here is the latest version.');
      for (const name of Object.keys(fields)) for (const id of SAVED_IDS[name] || []) justSaved.add(id);
      forceRefresh = true;
      await refreshDetail();
      return false;
    }
    const errors = err.problem?.errors;
    if (errors?.length) for (const e of errors) showError(e.field.replace(/\[\d+\]$/, ''), e.message);
    else showError(field, problemText(err));
    return false;
  }
}

function currentReminders() {
  return $$('#reminders [data-action="remove-reminder"]').map((b) => b.dataset.value);
}

function initDetailState() {
  const preset = $('#f-recurrence-preset');
  if (!preset) return;
  const current = preset.dataset.current;
  const known = [...preset.options].some((o) => o.value === current);
  preset.value = known ? current : 'custom';
  $('#rrule-custom').hidden = known;
}

function initDetail() {
  initDetailState();
  const region = $('#detail-region');
  region.addEventListener('change', (e) => {
    const t = e.target;
    if (t.id === 'f-title') { if (t.value.trim() && t.value !== t.defaultValue) patch({ title: t.value.trim() }, 'title'); }
    else if (t.id === 'f-priority') patch({ priority: t.value }, 'priority');
    else if (t.id === 'f-project') patch({ project_id: t.value }, 'project_id');
    else if (t.id === 'f-section') patch({ section_id: t.value || null }, 'section_id');
    else if (t.id === 'f-assignee') patch({ assignee_id: t.value || null }, 'assignee_id');
    else if (t.id === 'f-tags') patch({ tags: t.value.split(/[,\s]+/).map((s) => s.replace(/^#/, '')).filter(Boolean) }, 'tags');
    else if (t.id === 'f-recurrence-preset') {
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
    if (e.key === 'Enter' && e.target.matches('#f-title, #f-tags')) { e.preventDefault(); e.target.blur(); }
    if (e.key === 'Enter' && e.target.id === 'f-recurrence') { e.preventDefault(); $('[data-action="save-rrule"]').click(); }
    if (e.key === 'Enter' && e.target.id === 'f-reminder-custom') { e.preventDefault(); $('[data-action="add-reminder"]').click(); }
  });
  region.addEventListener('focusout', () => {
    setTimeout(() => { if (detailStale && !editingDetail()) refreshDetail(); }, 0);
  });
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
        forceRefresh = true;
        await refreshDetail();
      } catch (err) {
        error.textContent = err.status === 412 ? 'Someone changed this comment meanwhile; reload to see it.' : problemText(err);
        error.hidden = false;
      }
      return;
    }
    if (e.target.id === 'comment-form') {
      e.preventDefault();
      const text = $('#f-comment').value.trim();
      if (!text) return;
      try {
        await api('POST', `/tasks/${$('#detail').dataset.id}/comments`, { body: text });
        announce('Comment added');
        forceRefresh = true;
        await refreshDetail();
        $('#f-comment')?.focus();
      } catch (err) {
        clearErrors();
        showError('comment', problemText(err));
      }
      return;
    }
    if (e.target.id !== 'subtask-form') return;
    e.preventDefault();
    const input = $('#f-subtask');
    const title = input.value.trim();
    if (!title) return;
    try {
      await api('POST', '/tasks', { title, parent_id: $('#detail').dataset.id });
      announce(`Added subtask “${title}”`);
      forceRefresh = true;
      await refreshDetail();
      $('#f-subtask')?.focus();
    } catch (err) {
      clearErrors();
      showError('subtask', problemText(err));
    }
  });
  region.addEventListener('click', async (e) => {
    // A subtask's own buttons act on the subtask, not on this task.
    if (e.target.closest('#subtask-list')) { onRowClick(e); return; }
    const b = e.target.closest('[data-action]');
    if (!b) return;
    const d = $('#detail');
    switch (b.dataset.action) {
      case 'edit-comment': {
        const form = $(`.comment-edit[data-comment="${b.dataset.comment}"]`);
        form.hidden = false;
        form.previousElementSibling.hidden = true;
        form.querySelector('textarea').focus();
        break;
      }
      case 'cancel-comment': {
        const form = b.closest('.comment-edit');
        form.hidden = true;
        form.previousElementSibling.hidden = false;
        form.querySelector('textarea').value = form.querySelector('textarea').defaultValue;
        if (detailStale) refreshDetail();
        break;
      }
      case 'delete-comment':
        try {
          await api('DELETE', `/comments/${b.dataset.comment}`);
          announce('Comment deleted');
          forceRefresh = true;
          await refreshDetail();
        } catch (err) { showError('comment', problemText(err)); }
        break;
      case 'toggle': toggle(d); break;
      case 'edit-desc':
        $('#desc-editor').hidden = false;
        $('#desc-view').hidden = true;
        $('#f-description').focus();
        break;
      case 'cancel-desc':
        $('#f-description').value = $('#f-description').defaultValue;
        $('#desc-editor').hidden = true;
        $('#desc-view').hidden = false;
        refreshDetail();
        break;
      case 'save-desc': await patch({ description: $('#f-description').value }, 'description'); break;
      case 'preview-desc': {
        const box = $('#desc-preview');
        box.innerHTML = await html('/ui/markdown', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ text: $('#f-description').value }),
        });
        box.hidden = false;
        break;
      }
      case 'save-due': {
        const date = $('#f-due-date').value;
        const time = $('#f-due-time').value;
        const tz = $('#f-due-zone').value.trim() || $('#f-due-zone').dataset.default || zone;
        if (!date) { clearErrors(); showError('due', 'pick a date first'); return; }
        patch({ due: time ? `${date}T${time}[${tz}]` : date }, 'due');
        break;
      }
      case 'clear-due': patch({ due: null }, 'due'); break;
      case 'skip-occurrence':
        try {
          const task = await api('POST', `/tasks/${d.dataset.id}/skip`, undefined, { 'If-Match': `"${d.dataset.version}"` });
          d.dataset.version = task.version;
          announce(`Skipped; next due ${task.due}`);
          forceRefresh = true;
          await refreshDetail();
        } catch (err) { clearErrors(); showError('recurrence', problemText(err)); }
        break;
      case 'save-rrule': patch({ recurrence: $('#f-recurrence').value.trim() || null }, 'recurrence'); break;
      case 'add-reminder': {
        let value = $('#f-reminder').value;
        if (value === 'custom') {
          value = $('#f-reminder-custom').value.trim();
          if (!value) { clearErrors(); showError('reminders', 'type a reminder first'); return; }
          // A local date and time ("2026-12-01T09:00") becomes an instant.
          if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$/.test(value)) value = new Date(value.replace(' ', 'T')).toISOString();
        }
        patch({ reminders: [...currentReminders(), value] }, 'reminders');
        break;
      }
      case 'remove-reminder': patch({ reminders: currentReminders().filter((r) => r !== b.dataset.value) }, 'reminders'); break;
      case 'delete':
        try {
          const snapshot = await remove(d.dataset.id);
          sessionStorage.setItem('ontask:deleted', JSON.stringify(snapshot));
          location.href = '/';
        } catch (err) {
          toast(problemText(err), { kind: 'error' });
        }
        break;
      default:
    }
  });
  if (!zoneWasKnown) refreshDetail();
}


// ---------------------------------------------------------------- projects

/** Reloads the page's region (a project's list or board, Upcoming, members) from its fragment. */
const refreshRegion = serial(async () => {
  const region = $('#list-region');
  if (!region?.dataset.src) return;
  if (region.querySelector('.editing, .dragging')) return;
  let body;
  try {
    body = await html(region.dataset.src);
  } catch (err) {
    if (err.status === 404) {
      region.replaceChildren(fragment('<div class="empty"><h2>This project is no longer shared with you</h2><p><a href="/">Back to your tasks</a></p></div>'));
      for (const f of $$('#quick-form, #section-form, #invite-form')) f.remove();
      return;
    }
    throw err;
  }
  const key = focusKey();
  region.innerHTML = body;
  applyCollapsed();
  restoreFocus(key);
});

/** The position that puts a card between two others (manual order ascends). */
function between(before, after) {
  if (before === null && after === null) return null;
  if (after === null) return before + 1024;
  if (before === null) return after - 1024;
  return after - before > 1 ? before + Math.floor((after - before) / 2) : before + 1;
}

async function moveTask(id, sectionId, position) {
  const body = { section_id: sectionId || null };
  if (position !== null && position !== undefined) body.position = position;
  try {
    await api('PATCH', `/tasks/${id}`, body);
    announce('Moved');
  } catch (err) {
    toast(problemText(err), { kind: 'error' });
  }
  await refreshRegion();
}

function initBoard(region) {
  let dragged = null;
  region.addEventListener('dragstart', (e) => {
    const card = e.target.closest?.('.board-card[draggable="true"]');
    if (!card) return;
    dragged = card;
    card.classList.add('dragging');
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', card.dataset.id);
  });
  region.addEventListener('dragend', () => {
    dragged?.classList.remove('dragging');
    for (const ul of $$('.cards.drop-target')) ul.classList.remove('drop-target');
    dragged = null;
  });
  // The card the pointer is above, in the list it is over: the drop goes before it.
  const nextCard = (ul, y) => $$('.board-card', ul)
    .filter((c) => c !== dragged)
    .find((c) => { const r = c.getBoundingClientRect(); return y < r.top + r.height / 2; }) || null;
  region.addEventListener('dragover', (e) => {
    const ul = e.target.closest?.('.cards');
    if (!ul || !dragged) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    for (const other of $$('.cards.drop-target')) if (other !== ul) other.classList.remove('drop-target');
    ul.classList.add('drop-target');
  });
  region.addEventListener('drop', (e) => {
    const ul = e.target.closest?.('.cards');
    if (!ul || !dragged) return;
    e.preventDefault();
    const card = dragged;
    const next = nextCard(ul, e.clientY);
    const prev = next ? next.previousElementSibling === card ? card.previousElementSibling : next.previousElementSibling
      : $$('.board-card', ul).filter((c) => c !== card).pop() || null;
    const pos = (el) => (el && el !== card ? Number(el.dataset.position) : null);
    const position = between(pos(prev), pos(next));
    ul.insertBefore(card, next);
    card.classList.remove('dragging');
    ul.classList.remove('drop-target');
    dragged = null;
    moveTask(card.dataset.id, ul.dataset.section, position);
  });
  // The keyboard way: each card's "Move to section" list.
  region.addEventListener('change', (e) => {
    if (e.target.dataset.action !== 'move') return;
    const card = e.target.closest('.board-card');
    moveTask(card.dataset.id, e.target.value, null);
  });
}

function initGroups() {
  const region = $('#list-region');
  initRows(region);
  initQuick();
  if (region.dataset.board) initBoard(region);
  applyCollapsed();
  region.addEventListener('click', (e) => {
    const b = e.target.closest('[data-action="rename-section"], [data-action="delete-section"]');
    if (!b) return;
    const tools = b.closest('.section-tools');
    if (b.dataset.action === 'rename-section') renameSection(tools);
    else deleteSection(tools);
  });
  $('#unarchive-project')?.addEventListener('click', async (e) => {
    try {
      await api('POST', `/projects/${e.target.dataset.project}/unarchive`);
      location.reload();
    } catch (err) { toast(problemText(err), { kind: 'error' }); }
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

/** Asks before a change that cannot be undone; resolves to true when confirmed. */
function ask(message, confirmLabel) {
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

/** Renames a section in place: its heading becomes a field; Enter saves, Escape cancels. */
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

/** The owner's controls: rename, recolour, describe, archive, delete. */
function initProjectSettings(project) {
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

function initMembers() {
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

// ---------------------------------------------------------------- sidebar

const refreshSidebar = serial(async () => {
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

function initSidebar() {
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

// ---------------------------------------------------------------- notifications

const bell = $('#bell');
const panel = $('#notif-panel');

function setUnread(n) {
  const badge = $('#bell-count');
  if (!badge) return;
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.hidden = n === 0;
  bell.setAttribute('aria-label', n ? `Notifications, ${n} unread` : 'Notifications');
}

async function loadNotifications() {
  if (!bell) return;
  const data = await api('GET', '/notifications?limit=20');
  setUnread(data.unread_count);
  const list = $('#notif-list');
  list.replaceChildren();
  if (!data.items.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'Nothing yet. Reminders you set on tasks show up here.';
    list.append(li);
  }
  for (const n of data.items) {
    const li = document.createElement('li');
    if (!n.read_at) li.className = 'unread';
    const a = document.createElement('a');
    a.href = n.task_id ? `/tasks/${n.task_id}` : '/';
    a.textContent = n.title;
    a.addEventListener('click', () => { if (!n.read_at) api('POST', `/notifications/${n.id}/read`).catch(() => {}); });
    const body = document.createElement('span');
    body.className = 'muted';
    body.textContent = readableBody(n.body);
    const when = document.createElement('time');
    when.dateTime = n.created_at;
    when.textContent = new Date(n.created_at).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
    li.append(a, body, when);
    list.append(li);
  }
  $('#notif-enable').hidden = !('Notification' in window) || Notification.permission === 'denied' || pushSubscribed;
}

// ---------------------------------------------------------------- push

/** This device has a push subscription the server knows (checked at start). */
let pushSubscribed = false;

function fromBase64url(text) {
  const raw = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** "Chrome on Linux": what the person reads in their list of devices. */
function deviceLabel() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : 'A browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS'
    : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

/**
 * "Allow notifications on this device": asks the browser, subscribes through
 * the service worker with the server's VAPID key, and registers the
 * subscription, so reminders and mentions arrive with no tab open. True once
 * this device is subscribed.
 */
async function enablePush() {
  const answer = await Notification.requestPermission();
  if (answer !== 'granted') return false;
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) {
    toast('Reminders will appear as desktop notifications while ontask is open (this browser has no push).');
    return false;
  }
  const { public_key: key } = await api('GET', '/push/vapid-public-key');
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription()
    || await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64url(key) });
  await api('POST', '/push/subscriptions', { ...subscription.toJSON(), label: deviceLabel() });
  localStorage.setItem('ontask-push-registered', new Date().toISOString().slice(0, 10));
  pushSubscribed = true;
  toast('Reminders and mentions will arrive on this device, also when no ontask tab is open.');
  return true;
}

async function checkPush() {
  if (!bell || !('serviceWorker' in navigator) || !('PushManager' in window)) return;
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = await registration?.pushManager.getSubscription();
  pushSubscribed = Boolean(subscription) && Notification.permission === 'granted';
  if (pushSubscribed) $('#notif-enable').hidden = true;
  // Once a day, tell the server again: it forgets a device the push service
  // refused (404/410), and some browsers renew subscriptions silently.
  const day = new Date().toISOString().slice(0, 10);
  if (pushSubscribed && localStorage.getItem('ontask-push-registered') !== day) {
    try {
      await api('POST', '/push/subscriptions', { ...subscription.toJSON(), label: deviceLabel() });
      localStorage.setItem('ontask-push-registered', day);
    } catch { /* push may be off on this server now; try again tomorrow */ }
  }
}

/** "Due 2026-11-23T09:00:00Z" reads better in the person's own words. */
function readableBody(text) {
  const m = /^Due (\d{4}-\d{2}-\d{2})(T[^[\s]+)?/.exec(text || '');
  if (!m) return text;
  const when = m[2] ? new Date(m[1] + m[2]) : new Date(m[1] + 'T00:00:00');
  if (Number.isNaN(when.getTime())) return text;
  return 'Due ' + when.toLocaleString([], m[2] ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'medium' });
}

function openPanel(open) {
  panel.hidden = !open;
  bell.setAttribute('aria-expanded', String(open));
  if (open) loadNotifications().catch(() => {});
}

if (bell) {
  bell.addEventListener('click', () => openPanel(panel.hidden));
  document.addEventListener('click', (e) => {
    if (!panel.hidden && !e.target.closest('.bell-wrap')) openPanel(false);
  });
  $('#notif-read-all').addEventListener('click', async () => {
    await api('POST', '/notifications/read-all');
    loadNotifications();
    announce('All notifications read');
  });
  $('#notif-enable').addEventListener('click', async () => {
    try {
      const subscribed = await enablePush();
      $('#notif-enable').hidden = subscribed || Notification.permission === 'denied';
    } catch (e) {
      toast(`Notifications could not be turned on: ${e.message}`, { kind: 'error' });
    }
  });
  loadNotifications().catch(() => {});
}

function onReminder(n) {
  loadNotifications().catch(() => {});
  const open = () => { if (n.task_id) location.href = `/tasks/${n.task_id}`; };
  toast(`Reminder: ${n.title}`, { action: 'Open', onAction: open, kind: 'reminder', timeout: 15000 });
  if ('Notification' in window && Notification.permission === 'granted') {
    try {
      const shown = new Notification(`Reminder: ${n.title}`, { body: readableBody(n.body), tag: n.id });
      shown.onclick = () => { window.focus(); open(); };
    } catch { /* some browsers only allow this from a service worker */ }
  }
}

// ---------------------------------------------------------------- live

function connect() {
  if (!bell || !('EventSource' in window)) return;
  const conn = $('#conn');
  const source = new EventSource('/api/v1/stream');
  const types = [
    'task.created', 'task.updated', 'task.completed', 'task.reopened', 'task.deleted', 'task.moved', 'task.assigned',
    'project.created', 'project.updated', 'project.archived', 'project.unarchived', 'project.deleted',
    'section.created', 'section.updated', 'section.deleted', 'member.added', 'member.role_changed', 'member.removed',
    'comment.added', 'comment.edited', 'comment.deleted', 'reminder.due', 'reminder.sent', 'import.progressed',
  ];
  for (const type of types) {
    source.addEventListener(type, (ev) => {
      let envelope;
      try { envelope = JSON.parse(ev.data); } catch { return; }
      if (type === 'reminder.sent') { onReminder(envelope.data?.notification || { title: envelope.data?.title || 'Reminder' }); return; }
      if (type === 'reminder.due') return;
      // The settings page shows an import's progress (settings.js).
      if (type === 'import.progressed') { document.dispatchEvent(new CustomEvent('ontask:import', { detail: envelope.data })); return; }
      if (type.startsWith('project.') || type.startsWith('member.')) refreshSidebar();
      // Another member's change to the project on screen (or one of its tasks).
      const shown = $('#list-region')?.dataset.project;
      if ((page === 'groups' || page === 'members' || page === 'activity') && (!shown || !envelope.project_id || envelope.project_id === shown)) refreshRegion();
      if (page === 'list') refreshList();
      if (page === 'detail') {
        const d = $('#detail');
        const mine = envelope.task_id === d?.dataset.id || $(`#subtask-list [data-id="${CSS.escape(envelope.task_id || '')}"]`);
        if (mine || type.startsWith('section.') || type.startsWith('member.')) refreshDetail();
      }
    });
  }
  source.addEventListener('open', () => { conn?.classList.add('on'); document.body.dataset.live = 'on'; });
  source.addEventListener('error', () => { conn?.classList.remove('on'); document.body.dataset.live = 'off'; });
}

// ---------------------------------------------------------------- keyboard

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const typing = e.target.closest?.('input, textarea, select, [contenteditable="true"]');
  if (e.key === 'Escape') {
    if (panel && !panel.hidden) { openPanel(false); bell.focus(); return; }
    if (typing) e.target.blur();
    return;
  }
  if (typing || e.target.closest?.('dialog')) return;
  if (e.key === '?') { e.preventDefault(); $('#shortcuts')?.showModal(); return; }
  if (page === 'detail') {
    if (e.key === 'x') { e.preventDefault(); toggle($('#detail')); }
    if (e.key === 'e') { e.preventDefault(); $('#f-title')?.focus(); }
    return;
  }
  if (page !== 'list') return;
  const list = rows();
  const cur = selected();
  const at = cur ? list.indexOf(cur) : -1;
  switch (e.key) {
    case 'n': e.preventDefault(); $('#quick').focus(); break;
    case '/': e.preventDefault(); $('#search').focus(); $('#search').select(); break;
    case 'j': case 'ArrowDown':
      if (e.key === 'ArrowDown' && !cur) return;
      e.preventDefault(); if (list.length) select(list[Math.min(at + 1, list.length - 1)]); break;
    case 'k': case 'ArrowUp':
      if (e.key === 'ArrowUp' && !cur) return;
      e.preventDefault(); if (list.length) select(list[Math.max(at - 1, 0)]); break;
    case 'x': if (cur) { e.preventDefault(); toggle(cur); } break;
    case 'e': if (cur) { e.preventDefault(); startEdit(cur); } break;
    case 'Delete': if (cur) { e.preventDefault(); deleteRow(cur); } break;
    case 'Enter':
      if (cur && e.target === cur) { e.preventDefault(); location.href = cur.querySelector('.task-title').href; }
      break;
    default:
  }
});
$('#shortcuts-btn')?.addEventListener('click', () => $('#shortcuts').showModal());

// ---------------------------------------------------------------- installed app, offline

// The service worker (/sw.js) keeps the last loaded pages; without a network
// they are shown from there, for reading only: every control that would change
// something is disabled until the connection is back.
function setOffline(offline) {
  document.body.dataset.offline = offline ? 'on' : 'off';
  const banner = $('#offline-banner');
  if (banner) banner.hidden = !offline;
  for (const el of $$('form :is(input, textarea, select, button), main button, main input, main select, main textarea, #chat-toggle')) {
    if (offline && !el.disabled) {
      el.disabled = true;
      el.dataset.offlineDisabled = '';
    } else if (!offline && 'offlineDisabled' in el.dataset) {
      el.disabled = false;
      delete el.dataset.offlineDisabled;
    }
  }
}

function initOffline() {
  addEventListener('offline', () => setOffline(true));
  addEventListener('online', () => setOffline(false));
  if (!navigator.onLine) setOffline(true);
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('service worker not registered', e));
  // Nothing of a person's stays on the device once they sign out (or before someone signs in).
  const forget = () => navigator.serviceWorker.controller?.postMessage('forget-pages');
  $('form.signout')?.addEventListener('submit', forget);
  if (page === 'auth') forget();
}

// ---------------------------------------------------------------- start

if (page === 'list') initList();
if (page === 'detail') initDetail();
if (page === 'groups') initGroups();
if (page === 'members') initMembers();
initSidebar();
initOffline();
checkPush().catch(() => {});
connect();
document.documentElement.classList.add('js');

// For the settings page's module (assets/settings.js), which runs beside this one.
export { $, api, announce, ask, problemText };
