// Starts the real ontask binary on a fresh data directory and a free port, and
// drives Debian's Chromium with playwright-core (no browser download).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../../..');
export const screenshotDir = process.env.SCREENSHOT_DIR || path.join(repoRoot, 'docs/screenshots');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs `target/debug/ontask serve` (or $ONTASK_BIN) until `stop()`; `env` adds variables (ONTASK_*). */
export async function startServer(env = {}) {
  const bin = process.env.ONTASK_BIN || path.join(repoRoot, 'target/debug/ontask');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ontask-e2e-'));
  const port = await freePort();
  const log = openSync(path.join(dataDir, 'server.log'), 'a');
  // Not ONTASK_BIN itself: the binary reads every ONTASK_* variable as its config and refuses unknown ones.
  const { ONTASK_BIN: _, ...inherited } = process.env;
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', log, log],
    env: { ...inherited, RUST_LOG: process.env.RUST_LOG || 'warn', ...env },
  });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (exited !== null) throw new Error(`ontask exited with ${exited}; see ${dataDir}/server.log`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (i > 600) throw new Error(`ontask did not become ready; see ${dataDir}/server.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dataDir,
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      if (!process.env.KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  // Playwright gives every launch a fresh, empty profile directory.
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

let counter = 0;
export function uniqueEmail(prefix = 'user') {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Date.now()}@example.com`;
}

export const PASSWORD = 'correct horse battery';

/** A signed-up person in a fresh browser context, on the task list. */
export async function newUser(browser, url, options = {}) {
  const context = await browser.newContext({ timezoneId: 'Europe/Berlin', locale: 'en-GB', viewport: { width: 1100, height: 800 }, ...options });
  const page = await context.newPage();
  page.on('dialog', (d) => { throw new Error(`unexpected dialog: ${d.message()}`); });
  const email = uniqueEmail();
  await page.goto(`${url}/signup`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${url}/`);
  await liveReady(page);
  return { context, page, email };
}

/** Waits until the page's event stream is connected. */
export async function liveReady(page) {
  await page.waitForFunction(() => document.body.dataset.live === 'on');
}

/** Calls the REST API with the page's session cookie. */
export async function api(page, method, pathname, body) {
  const res = await page.request.fetch(`${new URL(page.url()).origin}/api/v1${pathname}`, {
    method,
    data: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  });
  const text = await res.text();
  return { status: res.status(), body: text ? JSON.parse(text) : null };
}

/** Retries `check` until it stops throwing (or the ceiling passes). */
export async function eventually(check, { timeout = 15000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, interval));
    }
  }
}

export async function rowTitles(page) {
  return page.locator('#task-list > li .task-title').allTextContents();
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), animations: 'disabled', caret: 'hide' });
}

export { assert };
