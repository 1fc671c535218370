// End-to-end tests of the web UI: the real `ontask serve` binary, a fresh data
// directory, headless Chromium. Each test signs up its own person.
import { after, before, describe, test } from 'node:test';
import {
  api, assert, eventually, launchBrowser, liveReady, newUser, PASSWORD, rowTitles, screenshot, startServer,
} from './helpers.js';

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

const row = (page, title) => page.locator('#task-list > li', { has: page.locator('.task-title', { hasText: title }) });

async function quickAdd(page, text) {
  await page.locator('#quick').fill(text);
  await page.locator('#quick').press('Enter');
  await eventually(async () => assert.equal(await page.locator('#quick').inputValue(), ''));
}

describe('accounts', () => {
  test('sign up, sign out and sign in, with errors next to the field', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    assert.match(page.url(), /\/login$/, 'signed-out visitors are sent to sign in');
    await screenshot(page, 'sign-in');

    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('E-mail').fill('not-an-email');
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    const emailError = page.locator('#email-error');
    const passwordError = page.locator('#password-error');
    await emailError.or(passwordError).first().waitFor();
    assert.ok((await emailError.count()) + (await passwordError.count()) >= 1);
    if (await passwordError.count()) assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');

    const email = `ada-${Date.now()}@example.com`;
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${server.url}/`);
    await page.getByRole('heading', { name: 'Nothing to do yet' }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login$/);

    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await page.locator('#password-error').innerText(), /invalid e-mail or password/i);
    assert.equal(await page.getByLabel('E-mail').inputValue(), email, 'the e-mail is kept');

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/`);

    // The same e-mail cannot register twice; the error sits next to the e-mail.
    const other = await browser.newContext();
    const second = await other.newPage();
    await second.goto(`${server.url}/signup`);
    await second.getByLabel('E-mail').fill(email);
    await second.getByLabel('Password').fill(PASSWORD);
    await second.getByRole('button', { name: 'Create account' }).click();
    assert.match(await second.locator('#email-error').innerText(), /already exists/);
    await other.close();
    await context.close();
  });
});

describe('tasks', () => {
  test('quick add understands each kind of token and previews it', async () => {
    const { context, page } = await newUser(browser, server.url);
    await page.locator('#quick').fill('Pay rent tomorrow 9am !high #home every month remind me 15m before');
    const chips = page.locator('#quick-preview .chips');
    await eventually(async () => {
      const text = await chips.innerText();
      assert.match(text, /Pay rent/);
      assert.match(text, /Tomorrow 09:00/);
      assert.match(text, /High/);
      assert.match(text, /#home/);
      assert.match(text, /Monthly/);
      assert.match(text, /15 minutes before/);
    });
    await screenshot(page, 'quick-add-preview');
    await page.locator('#quick').press('Enter');
    const r = row(page, 'Pay rent');
    await r.waitFor();
    const meta = await r.locator('.meta').innerText();
    assert.match(meta, /High/);
    assert.match(meta, /Tomorrow 09:00/);
    assert.match(meta, /Monthly/);
    assert.match(meta, /#home/);

    const { body } = await api(page, 'GET', '/tasks');
    const task = body.items.find((t) => t.title === 'Pay rent');
    assert.equal(task.priority, 'high');
    assert.deepEqual(task.tags, ['home']);
    assert.equal(task.recurrence, 'FREQ=MONTHLY');
    assert.deepEqual(task.reminders, ['PT15M']);
    assert.match(task.due, /T09:00:00\+0[12]:00\[Europe\/Berlin\]$/);

    // The REST endpoint's preview says what it understood without creating.
    const preview = await api(page, 'POST', '/tasks/quick?preview=true', { text: 'Call mom friday 5pm !urgent #family', timezone: 'Europe/Berlin' });
    assert.equal(preview.status, 200);
    assert.equal(preview.body.title, 'Call mom');
    assert.equal(preview.body.priority, 'urgent');
    assert.deepEqual(preview.body.tags, ['family']);
    assert.match(preview.body.due, /T17:00:00/);
    assert.equal((await api(page, 'GET', '/tasks')).body.items.length, 1, 'a preview creates nothing');

    // Words it cannot read stay in the title; a missing title is explained.
    await page.locator('#quick').fill('!high #home');
    await page.locator('#quick-preview .preview-error').waitFor();
    await context.close();
  });

  test('edit a title inline and on the task page; fields, markdown and history', async () => {
    const { context, page } = await newUser(browser, server.url);
    await quickAdd(page, 'Write report');
    const r = row(page, 'Write report');
    await r.waitFor();

    // Inline, with the "e" shortcut.
    await r.locator('[data-action="toggle"]').focus();
    await page.keyboard.press('Escape');
    await r.click({ position: { x: 300, y: 10 } });
    await page.keyboard.press('e');
    const input = r.locator('input.title-edit');
    await input.fill('Write the quarterly report');
    await input.press('Enter');
    await row(page, 'Write the quarterly report').waitFor();
    await eventually(async () => assert.ok((await api(page, 'GET', '/tasks')).body.items.some((t) => t.title === 'Write the quarterly report')));

    // Escape cancels an edit.
    await row(page, 'Write the quarterly report').locator('[data-action="edit"]').click();
    await row(page, 'Write the quarterly report').locator('input.title-edit').fill('Something else');
    await page.keyboard.press('Escape');
    assert.deepEqual(await rowTitles(page), ['Write the quarterly report']);

    // The task page.
    await row(page, 'Write the quarterly report').locator('.task-title').click();
    await page.waitForURL(/\/tasks\//);
    await liveReady(page);
    await page.getByLabel('Priority').selectOption('urgent');
    await eventually(async () => assert.match(await page.locator('#f-priority').inputValue(), /urgent/));
    await page.locator('#f-due-date').fill('2030-03-04');
    await page.locator('#f-due-time').fill('14:30');
    await page.locator('#f-due-zone').fill('America/New_York');
    await page.getByRole('button', { name: 'Set due' }).click();
    await eventually(async () => assert.match(await page.locator('legend').innerText(), /2030/));

    await page.getByLabel('Repeat').selectOption('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR');
    await eventually(async () => assert.match(await page.locator('#rrule-help').innerText(), /Every weekday/));
    // A custom rule that is not RRULE is refused next to the field.
    await page.getByLabel('Repeat').selectOption('custom');
    await page.locator('#f-recurrence').fill('every blue moon');
    await page.locator('[data-action="save-rrule"]').click();
    await page.locator('#err-recurrence:not([hidden])').waitFor();
    assert.match(await page.locator('#err-recurrence').innerText(), /RRULE/);
    await page.locator('#f-recurrence').fill('FREQ=MONTHLY;BYMONTHDAY=1');
    await page.locator('[data-action="save-rrule"]').click();
    await eventually(async () => assert.match(await page.locator('#rrule-help').innerText(), /Monthly/));

    await page.getByLabel('New reminder').selectOption('P1D');
    await page.locator('[data-action="add-reminder"]').click();
    await eventually(async () => assert.match(await page.locator('#reminders').innerText(), /1 day before/));

    await page.getByLabel('Tags').fill('work, q1');
    await page.getByLabel('Tags').press('Enter');
    await eventually(async () => assert.match(await page.getByLabel('Tags').inputValue(), /^(q1, work|work, q1)$/));

    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await page.getByLabel('Description (Markdown)').fill('Numbers from **finance**\n\n- [x] draft\n- [ ] review');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#desc-view strong', { hasText: 'finance' }).waitFor();

    const title = page.locator('#f-title');
    await title.fill('Write the Q1 report');
    await title.press('Enter');
    await eventually(async () => assert.match(await page.locator('#timeline').innerText(), /title/));

    const { body } = await api(page, 'GET', `/tasks/${await page.locator('#detail').getAttribute('data-id')}`);
    assert.equal(body.title, 'Write the Q1 report');
    assert.equal(body.priority, 'urgent');
    assert.equal(body.due, '2030-03-04T14:30:00-05:00[America/New_York]');
    assert.equal(body.recurrence, 'FREQ=MONTHLY;BYMONTHDAY=1');
    assert.deepEqual(body.reminders, ['P1D']);
    assert.deepEqual(body.tags.sort(), ['q1', 'work']);
    const history = await page.locator('#timeline li').allInnerTexts();
    assert.ok(history.length >= 7, `history has every change: ${history.join(' | ')}`);
    assert.match(history.at(-1), /Created/);
    await screenshot(page, 'task-detail');

    // Skipping this occurrence moves the due to the next one (the 1st of April) and keeps the task open.
    await page.getByRole('button', { name: 'Skip this occurrence' }).click();
    await eventually(async () => assert.equal(await page.locator('#f-due-date').inputValue(), '2030-04-01'));
    assert.equal(await page.locator('#f-due-time').inputValue(), '14:30');
    assert.equal((await api(page, 'GET', `/tasks/${body.id}`)).body.status, 'open');

    // Counting from completion is one checkbox, said in the rule's words.
    await page.getByLabel('Count each next one from when it is done').check();
    await eventually(async () => assert.match(await page.locator('#rrule-help').innerText(), /after each completion/));
    assert.equal((await api(page, 'GET', `/tasks/${body.id}`)).body.repeat_from, 'completion');
    await context.close();
  });

  test('complete with one click, undo, and reopen from Completed', async () => {
    const { context, page } = await newUser(browser, server.url);
    await quickAdd(page, 'Water plants');
    await quickAdd(page, 'Feed cat');
    await row(page, 'Water plants').locator('[data-action="toggle"]').click();
    await eventually(async () => assert.deepEqual(await rowTitles(page), ['Feed cat']));
    assert.equal((await api(page, 'GET', '/tasks?status=completed')).body.items[0].title, 'Water plants');

    await page.locator('.toast', { hasText: 'Completed “Water plants”' }).getByRole('button', { name: 'Undo' }).click();
    await eventually(async () => assert.deepEqual((await rowTitles(page)).sort(), ['Feed cat', 'Water plants']));

    // x completes the selected task.
    await row(page, 'Feed cat').locator('.task-title').focus();
    await page.keyboard.press('Escape');
    await page.keyboard.press('j');
    const selected = await page.locator('#task-list > li.selected .task-title').innerText();
    await page.keyboard.press('x');
    await eventually(async () => assert.ok(!(await rowTitles(page)).includes(selected)));

    await page.getByRole('link', { name: 'Completed' }).click();
    await row(page, selected).waitFor();
    assert.equal(await row(page, selected).locator('[data-action="toggle"]').getAttribute('aria-pressed'), 'true');
    await row(page, selected).locator('[data-action="toggle"]').click();
    await eventually(async () => assert.deepEqual(await rowTitles(page), []));
    await page.getByRole('heading', { name: 'Nothing completed yet' }).waitFor();
    await context.close();
  });

  test('filter, search and sort, kept in the URL; overdue and today marked', async () => {
    const { context, page } = await newUser(browser, server.url);
    const today = new Date().toLocaleDateString('en-CA', { timeZone: 'Europe/Berlin' });
    for (const t of [
      { title: 'Buy milk', tags: ['errands'], priority: 'low' },
      { title: 'Renew passport', priority: 'high', due: '2020-01-01' },
      { title: 'Call the bank', priority: 'high', due: today },
      { title: 'Plan holiday', description: 'somewhere with milk and honey', tags: ['fun'] },
    ]) assert.equal((await api(page, 'POST', '/tasks', t)).status, 201);
    await page.reload();
    await eventually(async () => assert.equal((await rowTitles(page)).length, 4));

    assert.match(await row(page, 'Renew passport').getAttribute('class'), /is-overdue/);
    assert.match(await row(page, 'Call the bank').getAttribute('class'), /is-today/);
    assert.match(await row(page, 'Renew passport').locator('time').innerText(), /2020/);

    await page.getByText('Filter & sort').click();
    await page.getByLabel('Priority').selectOption('high');
    await eventually(async () => assert.deepEqual((await rowTitles(page)).sort(), ['Call the bank', 'Renew passport']));
    assert.match(page.url(), /priority=high/);

    await page.getByLabel('Sort by').selectOption('due');
    await eventually(async () => assert.deepEqual(await rowTitles(page), ['Renew passport', 'Call the bank']));
    await page.getByLabel('Order').selectOption('desc');
    await eventually(async () => assert.deepEqual(await rowTitles(page), ['Call the bank', 'Renew passport']));

    await page.reload();
    assert.deepEqual(await rowTitles(page), ['Call the bank', 'Renew passport'], 'the view survives a reload');
    assert.equal(await page.getByLabel('Priority').inputValue(), 'high');

    await page.getByLabel('Only overdue').check();
    await eventually(async () => assert.deepEqual(await rowTitles(page), ['Renew passport']));
    await page.getByRole('link', { name: 'Clear' }).click();
    await eventually(async () => assert.equal((await rowTitles(page)).length, 4));

    await page.getByLabel('Tag').fill('errands');
    await page.getByLabel('Tag').press('Enter');
    await eventually(async () => assert.deepEqual(await rowTitles(page), ['Buy milk']));
    await page.getByRole('link', { name: 'Clear' }).click();

    await page.getByLabel('Due until').fill(today);
    await page.getByLabel('Due until').dispatchEvent('change');
    await eventually(async () => assert.deepEqual((await rowTitles(page)).sort(), ['Call the bank', 'Renew passport']));
    await page.getByRole('link', { name: 'Clear' }).click();

    // Search, from the "/" shortcut; it covers descriptions too.
    await page.locator('body').click({ position: { x: 5, y: 400 } });
    await page.keyboard.press('/');
    await page.keyboard.type('milk');
    await eventually(async () => assert.deepEqual((await rowTitles(page)).sort(), ['Buy milk', 'Plan holiday']));
    assert.match(page.url(), /q=milk/);
    await page.locator('#search').fill('zebra');
    await page.getByRole('heading', { name: 'No tasks match this view' }).waitFor();

    await page.goto(`${server.url}/?overdue=1`);
    assert.deepEqual(await rowTitles(page), ['Renew passport']);
    await context.close();
  });

  test('delete with undo', async () => {
    const { context, page } = await newUser(browser, server.url);
    await quickAdd(page, 'Old idea #someday !low');
    await quickAdd(page, 'Keep this');
    await row(page, 'Old idea').locator('[data-action="delete"]').click();
    await eventually(async () => assert.deepEqual(await rowTitles(page), ['Keep this']));
    assert.equal((await api(page, 'GET', '/tasks')).body.items.length, 1);

    await page.locator('.toast', { hasText: 'Deleted “Old idea”' }).getByRole('button', { name: 'Undo' }).click();
    await eventually(async () => assert.deepEqual(await rowTitles(page), ['Keep this', 'Old idea']));
    const restored = (await api(page, 'GET', '/tasks')).body.items.find((t) => t.title === 'Old idea');
    assert.deepEqual(restored.tags, ['someday']);
    assert.equal(restored.priority, 'low');

    // From the task page: deleting returns to the list, which offers the undo.
    await row(page, 'Keep this').locator('.task-title').click();
    await page.waitForURL(/\/tasks\//);
    await page.getByRole('button', { name: 'Delete task' }).click();
    await page.waitForURL(`${server.url}/`);
    await page.locator('.toast', { hasText: 'Deleted “Keep this”' }).getByRole('button', { name: 'Undo' }).click();
    await row(page, 'Keep this').waitFor();
    await context.close();
  });
});

describe('live', () => {
  test('changes in another tab and through the API appear without reload', async () => {
    const { context, page: a } = await newUser(browser, server.url);
    const b = await context.newPage();
    await b.goto(`${server.url}/`);
    await liveReady(b);

    await quickAdd(a, 'Shared shopping list #home');
    await row(b, 'Shared shopping list').waitFor();

    const id = await row(b, 'Shared shopping list').getAttribute('data-id');
    assert.equal((await api(a, 'PATCH', `/tasks/${id}`, { title: 'Shopping list' })).status, 200);
    await row(b, 'Shopping list').waitFor();
    await eventually(async () => assert.deepEqual(await rowTitles(b), ['Shopping list']));

    // A task page follows its task too.
    await b.goto(`${server.url}/tasks/${id}`);
    await liveReady(b);
    await api(a, 'PATCH', `/tasks/${id}`, { priority: 'urgent' });
    await eventually(async () => assert.equal(await b.getByLabel('Priority').inputValue(), 'urgent'));
    await api(a, 'POST', `/tasks/${id}/complete`);
    await eventually(async () => assert.equal(await b.locator('#detail').getAttribute('data-done'), 'true'));
    await api(a, 'DELETE', `/tasks/${id}`);
    await b.getByRole('heading', { name: 'This task was deleted' }).waitFor();
    await context.close();
  });

  test('a reminder appears while the page is open, in the bell and as a browser notification', async () => {
    const { context, page } = await newUser(browser, server.url);
    // Record browser notifications instead of showing them.
    await context.addInitScript(() => {
      window.__shown = [];
      window.Notification = class {
        static permission = 'granted';
        static requestPermission() { return Promise.resolve('granted'); }
        constructor(title, options) { window.__shown.push({ title, body: options?.body }); }
      };
    });
    await page.reload();
    await liveReady(page);
    assert.equal(await page.locator('#bell-count').isHidden(), true, 'nothing unread yet');

    const at = new Date(Date.now() + 2000).toISOString().replace(/\.\d+Z$/, 'Z');
    const created = await api(page, 'POST', '/tasks', { title: 'Stretch', due: new Date(Date.now() + 3600e3).toISOString().replace(/\.\d+Z$/, 'Z'), reminders: [at] });
    assert.equal(created.status, 201);

    await page.locator('.toast.reminder', { hasText: 'Reminder: Stretch' }).waitFor({ timeout: 30000 });
    await eventually(async () => assert.equal(await page.locator('#bell-count').innerText(), '1'));
    await eventually(async () => assert.deepEqual(await page.evaluate(() => window.__shown.map((n) => n.title)), ['Reminder: Stretch']));

    await page.locator('#bell').click();
    await page.locator('#notif-list li.unread', { hasText: 'Stretch' }).waitFor();
    await screenshot(page, 'notifications');
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await eventually(async () => assert.equal(await page.locator('#bell-count').isHidden(), true));
    await context.close();
  });
});

describe('safety and reach', () => {
  test('markup in a title and a description is shown as text, never run', async () => {
    const { context, page } = await newUser(browser, server.url);
    await page.addInitScript(() => { window.__xss = 0; });
    const dialogs = [];
    page.removeAllListeners('dialog');
    page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
    const evil = '<img src=x onerror="window.__xss=1;alert(1)">';
    await quickAdd(page, `${evil} <script>window.__xss=2</script>`);
    const title = page.locator('#task-list > li .task-title').first();
    await title.waitFor();
    assert.match(await title.innerText(), /<img src=x onerror=/);
    assert.equal(await page.locator('#task-list img').count(), 0);

    const id = await page.locator('#task-list > li').first().getAttribute('data-id');
    await api(page, 'PATCH', `/tasks/${id}`, {
      description: '<script>window.__xss=3</script>\n\n<img src=x onerror="window.__xss=4">\n\n[click me](javascript:window.__xss=5)\n\n<a href="javascript:window.__xss=6">x</a> <iframe src="javascript:window.__xss=7"></iframe>\n\n**bold stays**',
    });
    await page.goto(`${server.url}/tasks/${id}`);
    await page.locator('#desc-view strong', { hasText: 'bold stays' }).waitFor();
    assert.equal(await page.locator('#desc-view script, #desc-view iframe, #desc-view img[onerror]').count(), 0);
    const hrefs = await page.locator('#desc-view a').evaluateAll((as) => as.map((a) => a.getAttribute('href') || ''));
    assert.ok(hrefs.every((h) => !/javascript:/i.test(h)), hrefs.join(','));
    await page.locator('#desc-view').getByText('click me').click();
    assert.equal(await page.locator('#f-title').inputValue(), `${evil} <script>window.__xss=2</script>`);
    assert.equal(await page.evaluate(() => window.__xss), 0);
    assert.deepEqual(dialogs, []);
    await context.close();
  });

  test('keyboard shortcuts, 375 px wide, dark theme', async () => {
    const { context, page } = await newUser(browser, server.url, { viewport: { width: 375, height: 740 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    for (const t of ['Book dentist tomorrow 10am #health', 'Pay rent tomorrow 9am !high #home every month', 'Buy milk #errands', 'Renew passport !urgent']) {
      await quickAdd(page, t);
    }
    await eventually(async () => assert.equal((await rowTitles(page)).length, 4));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling at 375px (overflow ${overflow}px)`);
    await screenshot(page, 'task-list-mobile-dark');

    await page.locator('#quick').blur();
    await page.keyboard.press('n');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'quick');
    await page.keyboard.press('Escape');
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    const titles = await rowTitles(page);
    assert.equal(await page.locator('#task-list > li.selected .task-title').innerText(), titles[1]);
    await page.keyboard.press('k');
    assert.equal(await page.locator('#task-list > li.selected .task-title').innerText(), titles[0]);
    await page.keyboard.press('?');
    await page.getByRole('heading', { name: 'Keyboard shortcuts' }).waitFor();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/tasks\//);
    await page.locator('#detail').waitFor();
    await screenshot(page, 'task-detail-mobile-dark');
    await context.close();
  });

  test('the task list screenshot for the README', async () => {
    const { context, page } = await newUser(browser, server.url, { viewport: { width: 900, height: 620 } });
    const today = new Date().toLocaleDateString('en-CA', { timeZone: 'Europe/Berlin' });
    for (const t of ['Stretch every weekday 8am #health', 'Buy milk and eggs #errands', 'Plan the team offsite next week !medium #work', 'Pay rent tomorrow 9am !high #home every month']) {
      await quickAdd(page, t);
    }
    await api(page, 'POST', '/tasks', { title: 'Renew passport', priority: 'urgent', due: '2020-01-01', tags: ['admin'] });
    await api(page, 'POST', '/tasks', { title: 'Call the bank', priority: 'medium', due: today });
    await eventually(async () => assert.equal((await rowTitles(page)).length, 6));
    await page.locator('#quick').fill('Water the plants every 3 days 6pm #home');
    await page.locator('#quick-preview .chips').waitFor();
    await screenshot(page, 'task-list');
    await context.close();
  });
});
