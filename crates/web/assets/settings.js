// The settings page: password, API tokens, the calendar feed, push devices,
// webhooks, import and export. Everything goes through the REST API with the
// session cookie (the helpers every page script shares, in modules/); lists
// are built with textContent, never as HTML.
import { $ } from './modules/dom.js';
import { announce, ask, problemText } from './modules/feedback.js';
import { ApiError, api } from './modules/http.js';

function item(text, detail, onRemove, label) {
  const li = document.createElement('li');
  const who = document.createElement('span');
  who.className = 'settings-what';
  who.textContent = text;
  const more = document.createElement('span');
  more.className = 'muted';
  more.textContent = detail;
  li.append(who, ' ', more);
  if (onRemove) {
    const b = Object.assign(document.createElement('button'), { type: 'button', className: 'btn ghost small danger', textContent: label });
    b.setAttribute('aria-label', `${label} ${text}`);
    b.addEventListener('click', onRemove);
    li.append(' ', b);
  }
  return li;
}

function showError(id, err) {
  const el = $(id);
  el.textContent = problemText(err);
  el.hidden = false;
}

const day = (iso) => (iso ? new Date(iso).toLocaleDateString() : '');

async function loadTokens() {
  const { items } = await api('GET', '/tokens');
  $('#token-list').replaceChildren(...items.map((t) => item(t.name, `${t.scopes.join(', ')} · made ${day(t.created_at)}${t.last_used_at ? ` · used ${day(t.last_used_at)}` : ''}`, async () => {
    await api('DELETE', `/tokens/${t.id}`);
    announce(`Revoked ${t.name}`);
    loadTokens();
  }, 'Revoke')));
}

async function loadDevices() {
  const { items } = await api('GET', '/push/subscriptions');
  const list = $('#device-list');
  if (!items.length) { list.replaceChildren(item('No devices yet.', '')); return; }
  list.replaceChildren(...items.map((d) => item(d.label || d.service, `${d.service} · since ${day(d.created_at)}`, async () => {
    await api('DELETE', `/push/subscriptions/${d.id}`);
    announce('Device removed');
    loadDevices();
  }, 'Remove')));
}

async function loadWebhooks() {
  const { items } = await api('GET', '/webhooks');
  $('#webhook-list').replaceChildren(...items.map((w) => item(w.url, `${w.status} · ${w.events.join(', ')}`, async () => {
    await api('DELETE', `/webhooks/${w.id}`);
    announce('Webhook removed');
    loadWebhooks();
  }, 'Remove')));
}

async function loadFeed() {
  const feed = await api('GET', '/calendar/feed');
  $('#feed-status').textContent = feed.active
    ? `On since ${day(feed.created_at)}. Its address was shown when it was made; make a new one to see it again (the old one stops working).`
    : 'Off.';
  $('#feed-revoke').hidden = !feed.active;
  $('#feed-create').textContent = feed.active ? 'Make a new address' : 'Create a feed address';
}

function copyButton(button, source) {
  button.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText($(source).textContent); announce('Copied'); } catch { announce('Select the text to copy it'); }
  });
}

/** Follows an import: its progress arrives on the live stream (app.js passes
 * it on); a slow poll covers a page whose stream is not connected. */
async function followImport(id) {
  const status = $('#import-status');
  let ended;
  const over = new Promise((resolve) => { ended = resolve; });
  const onProgress = (e) => {
    if (e.detail.job_id !== id) return;
    if (e.detail.status === 'running') status.textContent = `Importing… ${e.detail.done} of ${e.detail.total}`;
    else ended();
  };
  document.addEventListener('ontask:import', onProgress);
  let job;
  for (;;) {
    job = await api('GET', `/import/jobs/${id}`);
    if (job.status !== 'running') break;
    await Promise.race([over, new Promise((r) => setTimeout(r, 2000))]);
  }
  document.removeEventListener('ontask:import', onProgress);
  showImport(job);
}

function showImport(job) {
  const status = $('#import-status');
  if (job.status === 'failed') { status.textContent = `The import stopped: ${job.error}`; return; }
  const r = job.report;
  const c = r.created;
  const verb = r.dry_run ? 'Would create' : 'Created';
  status.textContent = `${verb} ${c.tasks} tasks, ${c.projects} projects, ${c.sections} sections, ${c.comments} comments`
    + (r.already_imported.tasks ? `; ${r.already_imported.tasks} already imported` : '')
    + (r.not_imported.length ? `; ${r.not_imported.length} lines not imported (line ${r.not_imported[0].line}: ${r.not_imported[0].reason})` : '');
}

$('#profile-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#profile-error').hidden = true;
  try {
    await api('PATCH', '/me', { name: $('#profile-name').value.trim(), timezone: $('#profile-tz').value || null });
    // Every page shows times in the zone chosen here.
    window.location.reload();
  } catch (err) { showError('#profile-error', err); }
});

$('#password-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#pw-error').hidden = true;
  try {
    await api('POST', '/account/password', { current_password: $('#pw-current').value, new_password: $('#pw-new').value });
    e.target.reset();
    announce('Password changed; your other sessions have ended');
  } catch (err) { showError('#pw-error', err); }
});

$('#delete-account-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#delete-error').hidden = true;
  const sure = await ask('Delete your account? Your own projects and tasks are deleted, shared projects you own go to another member, and you cannot sign in again.', 'Delete my account');
  if (!sure) return;
  try {
    await api('DELETE', '/account', { password: $('#delete-password').value });
    window.location.assign('/login');
  } catch (err) { showError('#delete-error', err); }
});

$('#token-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#token-error').hidden = true;
  const scopes = $('#token-write').checked ? ['tasks:read', 'tasks:write'] : ['tasks:read'];
  try {
    const t = await api('POST', '/tokens', { name: $('#token-name').value.trim(), scopes });
    $('#token-value').textContent = t.token;
    $('#token-secret').hidden = false;
    $('#token-name').value = '';
    loadTokens();
  } catch (err) { showError('#token-error', err); }
});
copyButton($('#token-copy'), '#token-value');

$('#feed-create').addEventListener('click', async () => {
  const feed = await api('POST', '/calendar/feed');
  $('#feed-url').textContent = feed.url;
  $('#feed-url-box').hidden = false;
  loadFeed();
});
$('#feed-revoke').addEventListener('click', async () => {
  await api('DELETE', '/calendar/feed');
  $('#feed-url-box').hidden = true;
  announce('Feed turned off');
  loadFeed();
});
copyButton($('#feed-copy'), '#feed-url');

$('#webhook-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#webhook-error').hidden = true;
  try {
    const w = await api('POST', '/webhooks', { url: $('#webhook-url').value.trim() });
    $('#webhook-secret-value').textContent = w.secret;
    $('#webhook-secret').hidden = false;
    $('#webhook-url').value = '';
    loadWebhooks();
  } catch (err) { showError('#webhook-error', err); }
});

$('#import-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData();
  form.append('file', $('#import-file').files[0]);
  if ($('#import-dry').checked) form.append('dry_run', 'true');
  const status = $('#import-status');
  status.textContent = 'Uploading…';
  let job;
  try {
    job = await api('POST', '/import', form);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    status.textContent = err.problem?.detail || err.problem?.title || `The import was refused (${err.status})`;
    return;
  }
  followImport(job.id);
});

Promise.all([loadTokens(), loadDevices(), loadWebhooks(), loadFeed()]).catch((err) => announce(problemText(err)));
