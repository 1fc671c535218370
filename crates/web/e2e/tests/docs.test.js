// The API reference at /docs in a real browser: Swagger UI renders from files
// the binary serves, under its Content-Security-Policy, without a single
// request to another origin, and "Try it out" calls the API as the signed-in
// person (the session cookie, same origin).
import { after, before, test } from 'node:test';
import { assert, launchBrowser, newUser, startServer } from './helpers.js';

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

test('the API reference renders under its policy, from this origin only, and tries the API', async () => {
  const { context, page, email } = await newUser(browser, server.url);
  const violations = [];
  await page.exposeFunction('reportViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const elsewhere = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol !== 'data:' && url.origin !== server.url) elsewhere.push(r.url());
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  const response = await page.goto(`${server.url}/docs`);
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
  // GET /me (PATCH /me is the profile).
  const me = page.locator('.opblock.opblock-get', { has: page.locator('[data-path="/api/v1/me"]') });
  await me.locator('.opblock-summary').click();
  await me.locator('.try-out__btn').click();
  await me.locator('.execute').click();
  const live = me.locator('.live-responses-table');
  await live.locator('.response-col_status', { hasText: '200' }).waitFor();
  assert.match(await live.innerText(), new RegExp(email.replace(/[.]/g, '\\.')));

  assert.deepEqual(violations, [], 'nothing the policy refuses');
  assert.deepEqual(elsewhere, [], 'no request leaves this origin');
  assert.deepEqual(errors, []);
  await context.close();
});
