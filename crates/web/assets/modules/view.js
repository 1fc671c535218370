// The page's main region and how it is brought up to date. Each kind of page
// registers its own refresh (from its fragment under /ui/) and says which live
// events concern it; task actions and the live stream then refresh whatever
// page they run on without knowing its kind.

let current = { refresh: () => Promise.resolve(), concerns: () => false };

/** `refresh()` fetches the region again; `concerns(type, envelope)` is true for events that change it. */
export function showView(view) {
  current = view;
}

export function refresh() {
  return current.refresh();
}

/** Whether a live event (its type and envelope) changes what the page shows. */
export function concerns(type, envelope) {
  return current.concerns(type, envelope);
}
