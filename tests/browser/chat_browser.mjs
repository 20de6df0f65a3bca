// The chat page in a real headless Chromium, driven by playwright-core (run by tests/browser.rs).
//
// Usage: node chat_browser.mjs http://HOST:PORT/chat/[?ws=wss://HOST:PORT/ws] SCREENSHOT.png [--ignore-certificate-errors]
//
// With --ignore-certificate-errors (for a broker whose wss certificate was
// made by the test), Chromium accepts any server certificate.
// Uses the Debian chromium at /usr/bin/chromium with a fresh profile; never
// downloads a browser. Opens the page twice (alice and bob in one room),
// checks each sees the other present, sends from alice, waits for the
// message in bob's page, and saves bob's page as SCREENSHOT.png. Prints OK
// and exits 0, or exits 1 naming the first deviation. Every wait is bounded.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const TIMEOUT_MS = 15000;
const [pageUrl, screenshot, ...options] = process.argv.slice(2);
const ignoreCertificateErrors = options.includes('--ignore-certificate-errors');
if (!pageUrl || !screenshot || options.some(o => o !== '--ignore-certificate-errors')) {
  console.error('usage: node chat_browser.mjs http://HOST:PORT/chat/ SCREENSHOT.png [--ignore-certificate-errors]');
  process.exit(2);
}
const room = `test${process.pid}`;
const text = `hello bob, from alice ${Date.now()}`;

/** Opens the page, joins `room` as `name`, and waits until both subscriptions are active. */
async function joinRoom(context, name, problems) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on('pageerror', e => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', m => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`);
  });
  await page.goto(pageUrl);
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join');
  await page.waitForSelector('body[data-state="connected"]');
  return page;
}

async function waitForMember(page, who, name) {
  try {
    await page.waitForSelector(`#members li[data-member="${name}"]`);
  } catch (e) {
    const list = await page.locator('#members').innerText();
    throw new Error(`${who} never saw ${name} present; members: ${JSON.stringify(list)}`);
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
      ...(ignoreCertificateErrors ? ['--ignore-certificate-errors'] : []),
    ],
    ignoreHTTPSErrors: ignoreCertificateErrors,
    viewport: { width: 1000, height: 700 },
    timeout: TIMEOUT_MS,
  });
  try {
    const alice = await joinRoom(context, 'alice', problems);
    const bob = await joinRoom(context, 'bob', problems);
    await waitForMember(alice, 'alice', 'bob');
    await waitForMember(bob, 'bob', 'alice');

    await alice.fill('#text', text);
    await alice.click('#send');
    try {
      await bob.locator('#messages li', { hasText: text }).waitFor();
    } catch (e) {
      const got = await bob.locator('#messages').innerText();
      throw new Error(`bob did not receive alice's message; bob's messages: ${JSON.stringify(got)}`);
    }
    const line = await bob.locator('#messages li', { hasText: text }).innerText();
    if (!line.startsWith('alice')) throw new Error(`message not attributed to alice: ${JSON.stringify(line)}`);
    await alice.locator('#messages li.mine', { hasText: text }).waitFor();

    await bob.screenshot({ path: screenshot, fullPage: true });
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
