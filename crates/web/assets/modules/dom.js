// Finding elements and parsing server-rendered HTML, for every page script.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Server-escaped HTML (a fragment from /ui/...) as nodes, not yet in the page. */
export function fragment(text) {
  const t = document.createElement('template');
  t.innerHTML = text;
  return t.content;
}
