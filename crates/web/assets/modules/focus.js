// Swapping in a fresh fragment replaces the elements under the person's focus;
// these keep the focus on the "same" element across the swap.

/** What has the focus now: by id, or by its task row and action. */
export function focusKey() {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const row = el.closest('[data-id]');
  return { id: el.id, row: row?.dataset.id, action: el.dataset?.action, isRow: el.matches('li.task'), el };
}

/** Focuses the element `key` (from `focusKey`) names, if the swap replaced it. */
export function restoreFocus(key) {
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
