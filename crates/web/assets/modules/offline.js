// The installed app offline. The service worker (/sw.js) keeps the last loaded
// pages; without a network they are shown from there, for reading only: every
// control that would change something is disabled until the connection is back.
import { $, $$ } from './dom.js';
import { page } from './page.js';

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

export function initOffline() {
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
