// The chat panel: talks to the agent at POST /api/v1/chat and reads the answer
// as server-sent events, so each tool call shows while it runs and the reply
// text appears as the model writes it. Changes the agent makes reach the task
// list through the page's own event stream (app.js), like any other change.
// Everything from the server or the person is put in with textContent.
import { $ } from './modules/dom.js';

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const KEY = 'ontask_chat_conversation';

const toggle = $('#chat-toggle');
const panel = $('#chat-panel');
const log = $('#chat-log');
const form = $('#chat-form');
const input = $('#chat-input');
const notice = $('#chat-notice');

let conversation = sessionStorage.getItem(KEY);
// The current turn's tool calls by id (models may reuse ids across turns).
let calls = new Map();
let busy = false;
let loaded = false;

function setConversation(id) {
  conversation = id;
  if (id) sessionStorage.setItem(KEY, id);
  else sessionStorage.removeItem(KEY);
}

function scrollDown() {
  log.scrollTop = log.scrollHeight;
}

function bubble(role, text = '') {
  if (role === 'user') calls = new Map();
  const li = document.createElement('li');
  li.className = `chat-msg chat-${role}`;
  li.textContent = text;
  log.append(li);
  scrollDown();
  return li;
}

const STATUS = { started: 'running…', ok: 'done', error: 'failed', proposed: 'needs your confirmation' };

function toolItem(call) {
  let li = calls.get(call.id);
  if (!li) {
    li = document.createElement('li');
    li.className = 'chat-tool';
    li.dataset.callId = call.id;
    calls.set(call.id, li);
    const name = document.createElement('code');
    name.className = 'chat-tool-name';
    const status = document.createElement('span');
    status.className = 'chat-tool-status';
    li.append(name, ' ', status);
    log.append(li);
  }
  li.dataset.status = call.status;
  $('.chat-tool-name', li).textContent = call.name;
  $('.chat-tool-status', li).textContent = call.status === 'error' && call.error ? `failed: ${call.error}` : STATUS[call.status] || call.status;
  li.title = JSON.stringify(call.arguments ?? {});
  scrollDown();
  return li;
}

function pendingButtons(action) {
  const li = document.createElement('li');
  li.className = 'chat-confirm';
  const yes = document.createElement('button');
  yes.type = 'button';
  yes.className = 'btn small primary';
  yes.textContent = 'Apply';
  const no = document.createElement('button');
  no.type = 'button';
  no.className = 'btn small';
  no.textContent = 'Cancel';
  yes.addEventListener('click', () => { li.remove(); send({ confirm: action.id }, 'Apply'); });
  no.addEventListener('click', () => { li.remove(); send({ message: 'no' }, 'no'); });
  li.append(yes, no);
  log.append(li);
  scrollDown();
}

function showNotice(text) {
  notice.hidden = !text;
  notice.textContent = text || '';
}

/** Reads `event:`/`data:` blocks from a streamed response. */
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trimStart();
      }
      if (data) yield [name, JSON.parse(data)];
    }
  }
}

async function send(body, shown) {
  if (busy) return;
  busy = true;
  form.setAttribute('aria-busy', 'true');
  if (shown) bubble('user', shown);
  let reply = null;
  try {
    const response = await fetch('/api/v1/chat', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ ...body, conversation_id: conversation || undefined, timezone: zone }),
    });
    if (response.status === 404 && conversation) {
      // The conversation is gone (another account, a fresh database): start over.
      setConversation(null);
      busy = false;
      return send(body);
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      bubble('error', problem?.detail || `The assistant is unavailable (${response.status}).`);
      return;
    }
    for await (const [name, data] of events(response)) {
      if (name === 'conversation') setConversation(data.conversation_id);
      else if (name === 'tool_call' || name === 'tool_result') {
        toolItem(data);
        // Text the model wrote before calling tools stays where it was.
        reply = null;
      }
      else if (name === 'delta') {
        reply ??= bubble('assistant');
        reply.textContent += data.text;
        scrollDown();
      } else if (name === 'done') {
        reply ??= bubble('assistant');
        reply.textContent = data.reply;
        showNotice(data.notice);
        if (data.pending_action) pendingButtons(data.pending_action);
      } else if (name === 'error') {
        bubble('error', data.detail || 'The assistant failed.');
      }
    }
  } catch (e) {
    bubble('error', `The assistant could not be reached: ${e.message}`);
  } finally {
    busy = false;
    form.removeAttribute('aria-busy');
  }
}

/** Shows the stored conversation when the panel opens the first time. */
async function restore() {
  if (loaded || !conversation) return;
  loaded = true;
  const response = await fetch(`/api/v1/conversations/${encodeURIComponent(conversation)}`, { credentials: 'same-origin' });
  if (!response.ok) {
    setConversation(null);
    return;
  }
  const c = await response.json();
  for (const m of c.messages) {
    if (m.role === 'user') bubble('user', m.content);
    if (m.role === 'assistant') {
      for (const call of m.tool_calls || []) toolItem(call);
      if (m.content) bubble('assistant', m.content);
    }
  }
  if (c.pending_action) pendingButtons(c.pending_action);
}

function open(show) {
  panel.hidden = !show;
  toggle.setAttribute('aria-expanded', String(show));
  if (show) {
    restore().catch(() => {});
    input.focus();
  }
}

if (toggle && panel) {
  toggle.addEventListener('click', () => open(panel.hidden));
  $('#chat-close').addEventListener('click', () => { open(false); toggle.focus(); });
  $('#chat-new').addEventListener('click', () => {
    setConversation(null);
    log.replaceChildren();
    showNotice('');
    input.focus();
  });
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { open(false); toggle.focus(); }
    // Keep the list's single-key shortcuts (n, x, j, ...) out of the chat.
    e.stopPropagation();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = '';
    send({ message: text }, text);
  });
}
