// The status page in a real headless Chromium, driven by playwright-core (run by tests/status_page.rs).
//
// Usage: node status_browser.mjs http://HOST:PORT/ SCREENSHOT.png USER PASSWORD QUEUE
//
// Uses the Debian chromium at /usr/bin/chromium with a fresh profile and the
// given HTTP basic credentials. Waits for the live destination table to show
// QUEUE with 3 waiting messages, opens its detail, checks the connections
// table, saves the page as SCREENSHOT.png, then purges QUEUE through the
// page (button, confirmation dialog) and waits for the table to show it
// empty. Prints OK and exits 0, or exits 1 naming the first deviation.
// Every wait is bounded.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const TIMEOUT_MS = 15000;
const [pageUrl, screenshot, username, password, queue] = process.argv.slice(2);
if (!pageUrl || !screenshot || !username || !password || !queue) {
  console.error('usage: node status_browser.mjs http://HOST:PORT/ SCREENSHOT.png USER PASSWORD QUEUE');
  process.exit(2);
}

async function text(page, selector) {
  return (await page.locator(selector).innerText()).trim();
}

async function waitForText(page, selector, want, what) {
  try {
    await page.waitForFunction(
      ([sel, w]) => {
        const el = document.querySelector(sel);
        return el !== null && el.textContent.trim() === w;
      },
      [selector, want],
    );
  } catch (e) {
    const got = await page.locator(selector).first().innerText().catch(() => '(absent)');
    throw new Error(`${what}: expected ${JSON.stringify(want)}, page shows ${JSON.stringify(got)}`);
  }
}

async function main() {
  const profile = mkdtempSync(joinPath(tmpdir(), 'stompede-chromium-'));
  const problems = [];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // Only loopback: no updates, sync, QUIC or other background traffic.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    httpCredentials: { username, password },
    viewport: { width: 1280, height: 800 },
    timeout: TIMEOUT_MS,
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    page.on('pageerror', e => problems.push(`page error: ${e.message}`));
    page.on('console', m => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    const response = await page.goto(pageUrl);
    if (response.status() !== 200) throw new Error(`${pageUrl} answered ${response.status()}`);
    await page.waitForSelector('body[data-state="ready"]');

    const row = `#destinations tr[data-destination="${queue}"]`;
    await waitForText(page, `${row} td.depth`, '3', `depth of ${queue}`);
    const version = await text(page, '#version');
    if (!version.startsWith('version ')) throw new Error(`no version in the header: ${JSON.stringify(version)}`);

    // Detail of one destination.
    await page.click(`${row} td.name a`);
    await waitForText(page, '#detail-name', queue, 'detail panel');
    const summary = await text(page, '#detail-summary');
    if (!summary.includes('3 waiting')) throw new Error(`detail summary: ${JSON.stringify(summary)}`);

    // The connections table shows the logged-in client.
    await page.waitForSelector('#connections tr[data-connection] td:nth-child(3):text-is("app")');
    await page.screenshot({ path: screenshot, fullPage: true });

    // Purge through the page: the button asks first; Cancel does nothing.
    await page.click(`${row} button[data-action="purge"]`);
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm', { state: 'hidden' });
    await waitForText(page, `${row} td.depth`, '3', 'depth after Cancel');
    await page.click(`${row} button[data-action="purge"]`);
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await waitForText(page, '#notice', `purged 3 messages from ${queue}`, 'notice after purge');
    await waitForText(page, `${row} td.depth`, '0', `depth of ${queue} after purge`);

    if (problems.length > 0) throw new Error(problems.join('\n'));
    console.log('OK');
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const deadline = setTimeout(() => {
  console.error('browser scenario did not finish within 90 s');
  process.exit(1);
}, 90000);
main().then(
  () => {
    clearTimeout(deadline);
    process.exit(0);
  },
  e => {
    console.error(e.message || e);
    process.exit(1);
  },
);
