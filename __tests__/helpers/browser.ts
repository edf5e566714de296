/**
 * Browser helpers for the example app's end-to-end test: Debian's Chromium through
 * playwright-core (no browser downloads), a real listening server, screenshots.
 */
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { RequestListener } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium; CI installs it (.ci/run). Override with CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Git-ignored; every page the browser test visits is saved here. */
export const SCREENSHOT_DIR = path.join(__dirname, '..', '..', 'screenshots');

/**
 * Whether the browser tests run here. Without Chromium they are skipped with one line saying
 * so, on a developer's machine only: where `CI` is set (`.ci/run`, which installs Chromium) a
 * missing browser fails them instead, since a skipped browser test would look green there while
 * proving nothing.
 */
export function browserTestsRun(): boolean {
  if (existsSync(CHROMIUM_PATH) || process.env.CI) return true;
  process.stdout.write(`browser tests skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)\n`);
  return false;
}

/**
 * Launches headless Chromium. A missing browser here (where the tests were not skipped) is a
 * failure with instructions.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium was not found at ${CHROMIUM_PATH}. The example app's browser test needs it: ` +
      'install it with `apt-get install chromium` (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium or Chrome binary.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Saves a full-page screenshot as `screenshots/<name>.png`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export interface Listening {
  url: string;
  close(): Promise<void>;
}

/** Serves `handler` on 127.0.0.1 and a free port. */
export async function listen(handler: RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Collects what would show up in DevTools as problems: page errors, console errors, CSP reports. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  return problems;
}
