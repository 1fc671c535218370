// The settings page: API tokens shown once and revoked, the calendar feed's
// secret address (served as iCalendar without a session), the password, a
// refused webhook, and an import with its report. The real binary, headless Chromium.
import { after, before, describe, test } from 'node:test';
import { PASSWORD, api, assert, eventually, launchBrowser, newUser, startServer } from './helpers.js';

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

const CSV = 'TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE\n'
  + 'section,Errands,,,,,,,,\n'
  + 'task,Buy milk,,1,1,Ann (1),,2030-01-05,en,\n'
  + 'task,Check the date,,4,2,Ann (1),,,en,\n';

describe('settings', () => {
  test('tokens, the calendar feed, the password, webhooks and an import', async () => {
    const { context, page } = await newUser(browser, server.url);
    await page.locator('#sidebar').getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();

    // A token: its secret once, then listed by name, then revoked.
    await page.getByLabel('Token name').fill('Laptop agent');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#token-secret:not([hidden])').waitFor();
    const secret = await page.locator('#token-value').innerText();
    assert.match(secret, /^ot_/);
    await page.locator('#token-list li', { hasText: 'Laptop agent' }).waitFor();
    const viaToken = await page.request.get(`${server.url}/api/v1/tasks`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(viaToken.status(), 200);
    await page.getByRole('button', { name: 'Revoke Laptop agent' }).click();
    await eventually(async () => assert.equal(await page.locator('#token-list li').count(), 0));

    // The feed: an address that serves the tasks with a due date as iCalendar, to anyone holding it.
    await api(page, 'POST', '/tasks', { title: 'Dentist', due: '2030-01-07T10:00[Europe/Berlin]' });
    await page.getByRole('button', { name: 'Create a feed address' }).click();
    await page.locator('#feed-url-box:not([hidden])').waitFor();
    const url = await page.locator('#feed-url').innerText();
    assert.match(url, /\/api\/v1\/calendar\/feed\/.+\.ics$/);
    const feed = await (await browser.newContext()).request.get(url);
    assert.equal(feed.status(), 200);
    assert.match(feed.headers()['content-type'], /text\/calendar/);
    assert.match(await feed.text(), /SUMMARY:Dentist/);
    await eventually(async () => assert.match(await page.locator('#feed-status').innerText(), /On since/));
    await page.getByRole('button', { name: 'Turn the feed off' }).click();
    await eventually(async () => assert.match(await page.locator('#feed-status').innerText(), /Off/));
    assert.equal((await (await browser.newContext()).request.get(url)).status(), 404);

    // A webhook to a private address is refused, with the reason next to the form.
    await page.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/hook');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.locator('#webhook-error:not([hidden])').waitFor();
    assert.match(await page.locator('#webhook-error').innerText(), /private|local|address/i);

    // An import: a dry run reports, the real one creates.
    await page.getByLabel(/Import a Todoist CSV/).setInputFiles({ name: 'todoist.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
    await page.getByLabel('dry run').check();
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await eventually(async () => assert.match(await page.locator('#import-status').innerText(), /Would create 2 tasks/));
    await page.getByLabel('dry run').uncheck();
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await eventually(async () => assert.match(await page.locator('#import-status').innerText(), /^Created 2 tasks, 1 projects, 1 sections/));
    const titles = (await api(page, 'GET', '/tasks?limit=50')).body.items.map((t) => t.title).sort();
    assert.deepEqual(titles, ['Buy milk', 'Check the date', 'Dentist']);

    // The password: the wrong current one is refused; the right one changes it.
    await page.getByLabel('Current password').fill('not it at all');
    await page.getByLabel('New password').fill('a brand new secret');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#pw-error:not([hidden])').waitFor();
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await eventually(async () => assert.equal(await page.getByLabel('Current password').inputValue(), ''));
    const login = await page.request.post(`${server.url}/api/v1/auth/login`, {
      data: JSON.stringify({ email: (await api(page, 'GET', '/me')).body.email, password: 'a brand new secret' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(login.status(), 200);

    // The profile: a name and a zone, which every page then shows times in.
    await page.getByLabel('Name', { exact: true }).fill('Ada');
    await page.getByLabel('Time zone').selectOption('Pacific/Auckland');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await eventually(async () => assert.match(await page.locator('.page-head').innerText(), /Pacific\/Auckland \(from your profile\)/));
    assert.equal(await page.locator('body').getAttribute('data-zone'), 'Pacific/Auckland');
    const me = (await api(page, 'GET', '/me')).body;
    assert.equal(me.name, 'Ada');
    assert.equal(me.timezone, 'Pacific/Auckland');

    // Deleting the account asks first, then signs out for good.
    const email = (await api(page, 'GET', '/me')).body.email;
    await page.getByLabel('Your password').fill('a brand new secret');
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api(page, 'GET', '/me')).status, 200, 'cancelled: nothing happened');
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete my account' }).click();
    // (The live stream, refused now, may send the page to sign-in first: both go to /login.)
    await eventually(async () => assert.match(page.url(), /\/login/));
    const again = await page.request.post(`${server.url}/api/v1/auth/login`, {
      data: JSON.stringify({ email, password: 'a brand new secret' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(again.status(), 401);
    await context.close();
  });

  test('the token of a reset link moves from the fragment into the form, and a bad one is refused there', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('E-mail').fill('nobody@example.com');
    await page.getByRole('button', { name: 'Send a reset link' }).click();
    await page.getByText('an e-mail with a reset link is on its way').waitFor();

    const fake = `otr_${'0'.repeat(64)}`;
    await page.goto(`${server.url}/reset-password#${fake}`);
    assert.equal(await page.locator('#reset-token').inputValue(), fake);
    assert.equal(new URL(page.url()).hash, '', 'the token leaves the address bar');
    await page.getByLabel('New password').fill('a long new password');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.locator('.form-error', { hasText: /not a valid reset token/ }).waitFor();
    await context.close();
  });
});
