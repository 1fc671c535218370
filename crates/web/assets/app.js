// ontask's page script: plain JavaScript modules, no build step.
//
// Pages arrive rendered by the server (crates/web). These modules change tasks
// through the REST API (/api/v1, with the session cookie), listen to the user's
// events on /api/v1/stream and swap in freshly rendered fragments (/ui/...), so
// a change made anywhere shows here without a reload. Everything user-written is
// put into the page either as server-escaped HTML or with textContent.
//
// This entry wires the page's modules (assets/modules/, one concern each):
//   shared       dom, http (fetch and problem+json errors), feedback (toasts,
//                announcements, confirmations), focus, serial, page, view
//   every page   preferences, sidebar, notifications, push, live, shortcuts, offline
//   task rows    selection, rows, task-actions, title-edit, subtree, quick-add
//   pages        list-page (+ list-filters), task-page (+ task-detail,
//                task-schedule, task-comments), groups-page (+ region, board,
//                sections), members-page (+ project-settings)
import { initGroups } from './modules/groups-page.js';
import { initList } from './modules/list-page.js';
import { connect } from './modules/live.js';
import { initMembers } from './modules/members-page.js';
import { initNotifications } from './modules/notifications.js';
import { initOffline } from './modules/offline.js';
import { page } from './modules/page.js';
import { initThemeToggle, rememberZone } from './modules/preferences.js';
import { checkPush } from './modules/push.js';
import { showRegion } from './modules/region.js';
import { initShortcuts } from './modules/shortcuts.js';
import { initSidebar } from './modules/sidebar.js';
import { initDetail } from './modules/task-page.js';

const zoneWasKnown = rememberZone();
initThemeToggle();
initNotifications();
initShortcuts();

if (page === 'list') initList(zoneWasKnown);
if (page === 'detail') initDetail(zoneWasKnown);
if (page === 'groups') initGroups();
if (page === 'members') initMembers();
if (page === 'activity') showRegion();
initSidebar();
initOffline();
checkPush().catch(() => {});
connect();
document.documentElement.classList.add('js');
