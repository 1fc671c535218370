// Push notifications on this device: reminders and mentions arrive through the
// service worker (sw.js) even with no ontask tab open. The page subscribes
// with the server's VAPID key and registers the subscription with the server.
import { $ } from './dom.js';
import { toast } from './feedback.js';
import { api } from './http.js';

/** This device has a push subscription the server knows (checked at start). */
let pushSubscribed = false;

export function isPushSubscribed() {
  return pushSubscribed;
}

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
export async function enablePush() {
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

/** At start (signed in): whether this device is subscribed, and the daily re-registration. */
export async function checkPush() {
  if (!$('#bell') || !('serviceWorker' in navigator) || !('PushManager' in window)) return;
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
