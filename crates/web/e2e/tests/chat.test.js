// The chat panel against the real binary with no model configured: plain
// commands still work through the quick-add parser, tool calls show in the
// panel, and the change reaches the task list live.
import { after, before, test } from 'node:test';
import { api, assert, eventually, launchBrowser, newUser, rowTitles, screenshot, startServer } from './helpers.js';

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

test('the chat panel creates a task from a plain command and shows the tool call', async () => {
  const { context, page } = await newUser(browser, server.url);
  await page.getByRole('button', { name: 'Chat' }).click();
  const input = page.getByLabel('Message to the assistant');
  await input.fill('add Water the plants tomorrow #home');
  await input.press('Enter');

  const call = page.locator('#chat-log .chat-tool', { hasText: 'quick_add' });
  await call.waitFor();
  await eventually(async () => assert.equal(await call.getAttribute('data-status'), 'ok'));
  const reply = page.locator('#chat-log .chat-assistant').last();
  await eventually(async () => assert.match(await reply.innerText(), /Added "Water the plants"/));
  assert.match(await page.locator('#chat-notice').innerText(), /No language model is configured/);
  await eventually(async () => assert.ok((await rowTitles(page)).includes('Water the plants')));

  // Deleting asks first; Apply confirms.
  await input.fill('delete Water the plants');
  await input.press('Enter');
  const apply = page.getByRole('button', { name: 'Apply' });
  await apply.waitFor();
  assert.match(await page.locator('#chat-log .chat-tool[data-status="proposed"]').innerText(), /delete_task/);
  await screenshot(page, 'chat');
  await apply.click();
  await eventually(async () => assert.ok(!(await rowTitles(page)).includes('Water the plants')));

  // The conversation is stored and carries both turns.
  const list = await api(page, 'GET', '/conversations');
  assert.equal(list.status, 200);
  assert.equal(list.body.items[0].title, 'add Water the plants tomorrow #home');
  await context.close();
});
