// The installable app: the manifest and its icons, the service worker, and the
// offline copy (read-only, with a banner) of pages already loaded. The real
// binary, a fresh data directory, headless Chromium.
import { after, before, describe, test } from 'node:test';
import { api, assert, eventually, launchBrowser, liveReady, newUser, startServer } from './helpers.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('installable app', () => {
  test('every page links a manifest that parses, names its icons, and is served as a manifest', async () => {
    const { context, page } = await newUser(browser, server.url);
    for (const path of ['/', '/login', '/upcoming']) {
      if (path === '/login') await page.context().clearCookies();
      await page.goto(`${server.url}${path}`);
      assert.equal(await page.locator('link[rel="manifest"]').getAttribute('href'), '/manifest.webmanifest', path);
    }
    const res = await page.request.get(`${server.url}/manifest.webmanifest`);
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['content-type'], 'application/manifest+json');
    const manifest = JSON.parse(await res.text());
    assert.equal(manifest.display, 'standalone');
    assert.equal(manifest.start_url, '/');
    assert.match(manifest.theme_color, /^#[0-9a-f]{6}$/);
    assert.ok(manifest.name && manifest.short_name && manifest.background_color);
    const maskable = manifest.icons.filter((i) => i.purpose === 'maskable');
    assert.deepEqual(maskable.map((i) => i.sizes).sort(), ['192x192', '512x512']);
    for (const icon of manifest.icons) {
      const got = await page.request.get(new URL(icon.src, server.url).href);
      assert.equal(got.status(), 200, icon.src);
      assert.equal(got.headers()['content-type'], icon.type, icon.src);
      if (icon.type === 'image/png') {
        // The PNG's own size is the one the manifest gives.
        const png = await got.body();
        const side = png.readUInt32BE(16);
        assert.equal(`${side}x${png.readUInt32BE(20)}`, icon.sizes, icon.src);
      }
    }
    await context.close();
  });

  test('the service worker registers; offline, a loaded list still shows, read-only with a banner', async () => {
    const { context, page } = await newUser(browser, server.url);
    for (const title of ['Water the plants', 'Call the dentist']) {
      assert.equal((await api(page, 'POST', '/tasks', { title })).status, 201);
    }
    await page.reload();
    await liveReady(page);
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    assert.equal(scope, `${server.url}/`);
    // The worker controls the page once it is active; a reload then goes through it and is kept.
    await page.reload();
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await page.locator('#task-list .task-title', { hasText: 'Water the plants' }).waitFor();
    assert.ok(await page.locator('#offline-banner').isHidden());

    await context.setOffline(true);
    await page.reload();
    await page.locator('#task-list .task-title', { hasText: 'Water the plants' }).waitFor();
    await page.locator('#task-list .task-title', { hasText: 'Call the dentist' }).waitFor();
    const banner = page.locator('#offline-banner');
    await banner.waitFor();
    assert.match(await banner.innerText(), /offline/i);
    assert.ok(await page.locator('#quick').isDisabled(), 'quick add is off while offline');
    assert.ok(await page.locator('#task-list li.task').first().getByRole('button').first().isDisabled());

    // A page never loaded says so instead of the browser's error page.
    await page.goto(`${server.url}/assigned`);
    await page.getByRole('heading', { name: 'You are offline' }).waitFor();

    // Back online, the list is live again.
    await context.setOffline(false);
    await page.goto(`${server.url}/`);
    await eventually(async () => assert.ok(await page.locator('#offline-banner').isHidden()));
    assert.ok(await page.locator('#quick').isEnabled());
    await context.close();
  });

  test('signing out forgets the pages kept for offline reading', async () => {
    const { context, page } = await newUser(browser, server.url);
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.reload();
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    const kept = () => page.evaluate(async () => {
      const names = (await caches.keys()).filter((n) => n.startsWith('ontask-pages-'));
      let count = 0;
      for (const name of names) count += (await (await caches.open(name)).keys()).length;
      return count;
    });
    await eventually(async () => assert.ok((await kept()) > 0, 'the list was kept'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await eventually(async () => assert.equal(await kept(), 0));
    await context.close();
  });
});
