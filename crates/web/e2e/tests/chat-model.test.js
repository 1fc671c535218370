// The chat panel with a model: the real binary talks to a local server that
// speaks the OpenAI Chat Completions streaming protocol (the one double), and
// the panel shows the tool call and the streamed reply.
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { assert, eventually, launchBrowser, newUser, rowTitles, startServer } from './helpers.js';

let server;
let browser;
let model;
const requests = [];

/** Answers the first request with an add_task call, the next with text, streamed in chunks. */
function startModel() {
  return new Promise((resolve) => {
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const request = JSON.parse(body);
        requests.push(request);
        const lastTool = [...request.messages].reverse().find((m) => m.role === 'tool');
        const chunk = (delta, finish = null) => `data: ${JSON.stringify({
          id: 'chatcmpl-e2e', object: 'chat.completion.chunk', created: 1700000000, model: 'e2e-model',
          choices: [{ index: 0, delta, finish_reason: finish }],
        })}\n\n`;
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write(chunk({ role: 'assistant', content: '' }));
        if (!lastTool) {
          const args = JSON.stringify({ title: 'Call the plumber', tags: ['home'] });
          res.write(chunk({ tool_calls: [{ index: 0, id: 'call_e2e_1', type: 'function', function: { name: 'add_task', arguments: '' } }] }));
          res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, 10) } }] }));
          res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(10) } }] }));
          res.write(chunk({}, 'tool_calls'));
        } else {
          res.write(chunk({ content: 'I added “Call the plumber” ' }));
          res.write(chunk({ content: 'to your home tasks.' }));
          res.write(chunk({}, 'stop'));
        }
        res.end('data: [DONE]\n\n');
      });
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

before(async () => {
  model = await startModel();
  server = await startServer({
    ONTASK_AGENT__LLM__BASE_URL: `http://127.0.0.1:${model.address().port}/v1`,
    ONTASK_AGENT__LLM__MODEL: 'e2e-model',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  model?.close();
});

test('with a model, the panel shows the tool call and the streamed reply', async () => {
  const { context, page } = await newUser(browser, server.url);
  await page.getByRole('button', { name: 'Chat' }).click();
  const input = page.getByLabel('Message to the assistant');
  await input.fill('Remind me to call the plumber');
  await input.press('Enter');

  const call = page.locator('#chat-log .chat-tool', { hasText: 'add_task' });
  await call.waitFor();
  await eventually(async () => assert.equal(await call.getAttribute('data-status'), 'ok'));
  const reply = page.locator('#chat-log .chat-assistant').last();
  await eventually(async () => assert.equal(await reply.innerText(), 'I added “Call the plumber” to your home tasks.'));
  assert.equal(await page.locator('#chat-notice').isHidden(), true, 'no "no model" notice with a model');
  await eventually(async () => assert.ok((await rowTitles(page)).includes('Call the plumber')));

  assert.equal(requests.length, 2);
  assert.equal(requests[0].model, 'e2e-model');
  assert.equal(requests[0].stream, true);
  assert.ok(requests[0].tools.some((t) => t.function.name === 'add_task'));
  await context.close();
});
