// A project's board: cards move between sections by drag and drop, or with
// each card's "Move to section" menu (the keyboard way).
import { $$ } from './dom.js';
import { announce, problemText, toast } from './feedback.js';
import { api } from './http.js';
import { refreshRegion } from './region.js';

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

export function initBoard(region) {
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
  region.addEventListener('change', (e) => {
    if (e.target.dataset.action !== 'move') return;
    const card = e.target.closest('.board-card');
    moveTask(card.dataset.id, e.target.value, null);
  });
}
