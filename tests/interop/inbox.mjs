// Shared by the Node.js interop programs: bounded waits on what a client
// library reports, and the way a program fails.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TIMEOUT_MS = 5000;

export class Deviation extends Error {}

export function check(cond, what) {
  if (!cond) throw new Deviation(what);
}

export function step(text) {
  console.log(`  - ${text}`);
}

/** The version of an installed package in tests/interop/node_modules, or null. */
export function installedVersion(pkg) {
  const here = dirname(fileURLToPath(import.meta.url));
  try {
    const meta = JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8'));
    return meta.version;
  } catch {
    return null;
  }
}

/** Exits 3 unless `pkg` is installed at exactly `version`. */
export function requirePackage(pkg, version) {
  const got = installedVersion(pkg);
  if (got !== version) {
    const what = got === null ? 'is not installed' : `is ${got}`;
    console.error(`FAIL: npm package ${pkg} ${what}, ${version} expected: run tests/setup.sh`);
    process.exit(3);
  }
}

/**
 * Events in arrival order. A RECEIPT and the MESSAGE its SEND produced may
 * arrive in either order, so `take` picks the first event of the wanted kind
 * and leaves the others; an ERROR fails any wait at once.
 */
export class Inbox {
  constructor() {
    this.events = [];
    this.wake = null;
  }

  put(kind, frame) {
    this.events.push({ kind, frame });
    if (this.wake) this.wake();
  }

  async take(kinds, withinMs) {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const i = this.events.findIndex(e => kinds.includes(e.kind) || e.kind === 'ERROR');
      if (i >= 0) return this.events.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise(resolve => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async expect(kind, what) {
    const e = await this.take([kind], TIMEOUT_MS);
    if (e === null) throw new Deviation(`no ${kind} within ${TIMEOUT_MS} ms while waiting for ${what}`);
    if (e.kind !== kind) {
      throw new Deviation(`expected ${kind} for ${what}, got ${e.kind} ${JSON.stringify(e.frame?.headers ?? {})} ${e.frame?.body ?? ''}`);
    }
    return e.frame;
  }

  async nothing(withinMs, what) {
    const e = await this.take(['MESSAGE', 'RECEIPT', 'CONNECTED', 'CLOSED'], withinMs);
    if (e !== null) throw new Deviation(`unexpected ${e.kind} ${JSON.stringify(e.frame?.headers ?? {})} (${what})`);
  }
}

/** Runs `scenario` and exits: 0 and a PASS line, or 1 and the deviation. */
export async function runMain(name, scenario) {
  const guard = setTimeout(() => {
    console.error(`FAIL: ${name}: the scenario did not finish within 60 s`);
    process.exit(1);
  }, 60000);
  try {
    await scenario();
  } catch (e) {
    const text = e instanceof Deviation ? e.message : (e?.stack ?? String(e));
    console.error(`FAIL: ${name}: ${text}`);
    process.exit(1);
  }
  clearTimeout(guard);
  console.log(`PASS ${name}`);
  process.exit(0);
}
