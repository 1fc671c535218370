// The person's preferences on this device, kept in cookies the server reads:
// the time zone (the server shows dues in it, "Today 09:00") and the theme.
import { $ } from './dom.js';
import { announce } from './feedback.js';
import { zone } from './page.js';

function cookie(name) {
  const hit = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
  return hit ? hit.slice(name.length + 1) : null;
}
function setCookie(name, value) {
  document.cookie = `${name}=${value}; path=/; max-age=31536000; samesite=lax`;
}

/** Tells the server the zone; false when it did not know it yet (the page then shows times in another). */
export function rememberZone() {
  const known = cookie('ontask_tz') === zone;
  setCookie('ontask_tz', zone);
  return known;
}

function effectiveTheme() {
  const set = document.documentElement.dataset.theme;
  if (set) return set;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function initThemeToggle() {
  $('#theme-toggle')?.addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    setCookie('ontask_theme', next);
    announce(`${next[0].toUpperCase()}${next.slice(1)} theme`);
  });
}
