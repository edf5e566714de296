/**
 * The example app in a real browser (Debian's Chromium): the emulator's real sign-in page,
 * the avatar through the app's proxy, a transparent renewal after the access token ran out,
 * and sign-out. Saves a screenshot of each page to screenshots/ and the dashboard to
 * docs/dashboard.png (used by the README) when UPDATE_DOCS=1.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { createApp } from '../../example-app/src/app';
import { browserTestsRun, launchChromium, listen, screenshot, watchProblems, type Listening } from '../helpers/browser';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'orbit-browser', clientSecret: 'orbit-browser-secret' };
/** Short, so the test can wait for a token to run out. */
const ACCESS_TOKEN_TTL_S = 3;

jest.setTimeout(90_000);

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
let server: Listening;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let problems: string[];

// Without Chromium on a developer's machine: skipped with one line (browserTestsRun); never in CI.
(browserTestsRun() ? describe : describe.skip)('the example app in a real browser', () => {
  beforeAll(async () => {
    // First, so that a missing Chromium fails the test with its message before anything else.
    browser = await launchChromium();
    space = await startSpaceEmulator({
      port: 0,
      clients: [{ ...CLIENT, redirectURIs: ['*'] }],
      accessTokenTTL: ACCESS_TOKEN_TTL_S,
      organization: { name: 'Acme Corp', slogan: 'Rockets, anvils and giant magnets since 1949' },
    });
    redis = await connectRedis();
    prefix = uniquePrefix('example-browser');
    const app = createApp({
      space: { url: space.url, ...CLIENT, emulated: true },
      sessionSecret: 'browser-test-session-secret-0123456789',
      redis,
      keyPrefix: prefix,
      // Renew only in the last half second, so the sign-in and the dashboard use the first
      // token and exactly one renewal happens after the wait below.
      refreshSkewSeconds: 0.5,
    });
    server = await listen(app);
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
    page = await context.newPage();
    problems = watchProblems(page);
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
    await space?.close();
    if (redis) {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
  });

  test('sign in with Space, see the dashboard, watch a renewal, sign out', async () => {
    // Landing page.
    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: 'Sign in with Space' }).waitFor();
    await screenshot(page, '1-landing');

    // The emulator's real sign-in page (no auto-approve): pick John Doe.
    await page.getByRole('link', { name: 'Sign in with Space' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${space.url}/oauth/auth`));
    await page.getByRole('button', { name: /John Doe/ }).waitFor();
    await screenshot(page, '2-space-sign-in');
    await page.getByRole('button', { name: /John Doe/ }).click();

    // The dashboard, with the avatar loaded through the app's own route.
    await page.waitForURL(`${server.url}/dashboard`);
    const signedInAt = Date.now();
    await expect(page.locator('#display-name').textContent()).resolves.toBe('John Doe');
    await expect(page.locator('body').textContent()).resolves.toContain('john.doe@example.com');
    await expect(page.locator('#org-name').textContent()).resolves.toBe('Acme Corp');
    const img = page.locator('img.avatar-lg');
    await expect(img.getAttribute('src')).resolves.toMatch(/^\/avatar\//);
    // (Strings and casts: the tests compile without the DOM library.)
    await page.waitForFunction("document.querySelector('img.avatar-lg')?.complete === true");
    expect(await img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    const dashboardShot = await screenshot(page, '3-dashboard');
    // The README's picture; refreshed on request only, so a test run leaves the tree clean.
    if (process.env.UPDATE_DOCS === '1') {
      mkdirSync(path.join(__dirname, '..', '..', 'docs'), { recursive: true });
      copyFileSync(dashboardShot, path.join(__dirname, '..', '..', 'docs', 'dashboard.png'));
    }

    // Wait until the access token has run out, then the Space API page: it still works,
    // because the request renewed the token first, and it shows that one renewal.
    const wait = signedInAt + ACCESS_TOKEN_TTL_S * 1000 + 500 - Date.now();
    if (wait > 0) await page.waitForTimeout(wait);
    const refreshesBefore = space.count('/oauth/token', { grant_type: 'refresh_token' });
    await page.goto(`${server.url}/space-api`);
    expect(page.url()).toBe(`${server.url}/space-api`);
    await expect(page.locator('#renewal-count').textContent()).resolves.toBe('1');
    expect(space.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(refreshesBefore + 1);
    await expect(page.locator('.call .pill-ok').count()).resolves.toBe(2);
    await expect(page.locator('.call .pill-bad').count()).resolves.toBe(0);
    await expect(page.locator('.call').first().textContent()).resolves.toContain('"username": "john.doe"');
    await screenshot(page, '4-space-api');

    // Sign out: back on the landing page, and the dashboard now asks Space again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${server.url}/`);
    await page.getByRole('link', { name: 'Sign in with Space' }).waitFor();
    await screenshot(page, '5-signed-out');
    await page.goto(`${server.url}/dashboard`);
    await page.waitForURL((url) => url.href.startsWith(`${space.url}/oauth/auth`));
    await page.getByRole('button', { name: /John Doe/ }).waitFor();

    // No script errors and no CSP violations on any page.
    expect(problems).toEqual([]);
  });

  /** Signs in from the landing page by picking `name` on the emulator's sign-in page. */
  async function signInAs(p: Page, name: RegExp): Promise<void> {
    await p.goto(`${server.url}/dashboard`);
    await p.waitForURL((url) => url.href.startsWith(`${space.url}/oauth/auth`));
    await p.getByRole('button', { name }).click();
    await p.waitForURL(`${server.url}/dashboard`);
  }

  test('the Platform admin page admits John (Storage is under Platform) and refuses Jane with a 403 page', async () => {
    const johnContext = await browser!.newContext();
    const janeContext = await browser!.newContext();
    try {
      const john = await johnContext.newPage();
      const johnProblems = watchProblems(john);
      await signInAs(john, /John Doe/);
      await expect(john.locator('#teams').textContent()).resolves.toContain('Acme › Platform › Storage');
      await john.getByRole('link', { name: 'Admin' }).click();
      await john.waitForURL(`${server.url}/admin`);
      await expect(john.locator('#admin-title').textContent()).resolves.toBe('Platform admin');
      await expect(john.locator('body').textContent()).resolves.toContain('Acme › Platform › Storage');
      await screenshot(john, '6-admin');
      expect(johnProblems).toEqual([]);

      const jane = await janeContext.newPage();
      await signInAs(jane, /Jane Roe/);
      const answer = await jane.goto(`${server.url}/admin`);
      expect(answer?.status()).toBe(403);
      expect(jane.url()).toBe(`${server.url}/admin`);
      await expect(jane.locator('h1').textContent()).resolves.toBe('Access denied');
      await expect(jane.locator('body').textContent()).resolves.toContain('jane.roe');
      await screenshot(jane, '7-admin-refused');
      // Its sign-out button passes the app's CSRF check and signs Jane out.
      await jane.getByRole('button', { name: 'Sign out' }).click();
      await jane.waitForURL(`${server.url}/`);
      await jane.getByRole('link', { name: 'Sign in with Space' }).waitFor();
    } finally {
      await johnContext.close();
      await janeContext.close();
    }
  });

  test('"Your sessions" lists both browsers; "Sign out everywhere" signs both out', async () => {
    const first = await browser!.newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' });
    const second = await browser!.newContext();
    try {
      const a = await first.newPage();
      const b = await second.newPage();
      await signInAs(a, /John Doe/);
      await signInAs(b, /John Doe/);
      await a.getByRole('link', { name: 'Sessions' }).click();
      await a.waitForURL(`${server.url}/sessions`);
      // John's sessions from the earlier tests ended or are still listed: at least these two.
      const rows = a.locator('#sessions li');
      expect(await rows.count()).toBeGreaterThanOrEqual(2);
      await expect(a.locator('#sessions .session-current').textContent()).resolves.toContain('Firefox on Linux');
      await screenshot(a, '8-sessions');
      await a.getByRole('button', { name: 'Sign out everywhere' }).click();
      await a.waitForURL(`${server.url}/`);
      await a.getByRole('link', { name: 'Sign in with Space' }).waitFor();
      // The other browser's cookie no longer signs in: the dashboard asks Space again.
      await b.goto(`${server.url}/dashboard`);
      await b.waitForURL((url) => url.href.startsWith(`${space.url}/oauth/auth`));
    } finally {
      await first.close();
      await second.close();
    }
  });
});
