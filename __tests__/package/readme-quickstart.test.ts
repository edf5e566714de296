// The README's two quick starts and its spaceAuth short setup, run as a reader runs them: each block is taken from README.md as
// it stands (the TypeScript one stripped of its types, as tsc or tsx would), saved into a project
// that installed the packed package, and started with the environment "Five minutes with the
// emulator" tells the reader to write; then a sign-in through the emulator's sign-in page, /me,
// a failed callback landing on a route the app has, and sign-out. Each app gets a Redis of its own
// (the quick start writes under the default key prefixes). Needs `npm run build` first.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { cleanup, installTarball, packTarball, ROOT, tempDir } from '../helpers/consumer';
import { freePort, startOwnRedis, type OwnRedis } from '../helpers/redis';

jest.setTimeout(120_000);

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The first ```<lang> block of the README section headed `## <heading>`. */
export function sectionBlock(markdown: string, heading: string, lang: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const block = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`\\s*$`, 'm').exec(section);
  if (!block) throw new Error(`"## ${heading}" has no \`\`\`${lang} block`);
  return block[1] as string;
}

const QUICK_STARTS = [
  {
    name: 'TypeScript',
    file: 'server.mjs',
    source: () => ts.transpileModule(sectionBlock(README, 'Quick start (TypeScript)', 'ts'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText,
  },
  { name: 'CommonJS', file: 'server.js', source: () => sectionBlock(README, 'Quick start (CommonJS)', 'js') },
];

let work: string;
let project: string;
let space: SpaceEmulator;

beforeAll(async () => {
  work = tempDir('quickstart');
  project = path.join(work, 'project');
  // The packages "Five minutes with the emulator" installs (connect-redis 8 and ioredis 5 from this repository).
  const [tarball, emulator] = await Promise.all([packTarball(work), startSpaceEmulator({ port: 0 })]);
  space = emulator;
  await installTarball(project, tarball, {
    express: 'express', 'express-session': 'express-session', passport: 'passport', ioredis: 'ioredis', 'connect-redis': 'connect-redis',
  });
});

afterAll(async () => {
  await space?.close();
  cleanup(work);
});

/** A browser's cookies for one site. */
class Jar {
  private cookies = new Map<string, string>();
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers as Record<string, string>, cookie: this.header() } });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0] as string;
      const eq = pair.indexOf('=');
      if (eq + 1 === pair.length || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

interface App { url: string; child: ChildProcess; output: () => string }

async function startApp(file: string, redis: OwnRedis): Promise<App> {
  const port = await freePort();
  const child = spawn(process.execPath, [file], {
    cwd: project,
    // What the reader's .env holds: the emulator's three lines and a session secret.
    env: {
      PATH: process.env.PATH, SPACE_URL: space.url, SPACE_CLIENT_ID: DEFAULT_CLIENT_ID, SPACE_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
      SESSION_SECRET: 'quick-start-session-secret', REDIS_URL: redis.url, PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const url = `http://localhost:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode}:\n${out}`);
    try {
      await fetch(`${url}/`);
      return { url, child, output: () => out };
    } catch {
      if (Date.now() > deadline) throw new Error(`${file} did not listen on ${port}:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

/** The sign-in page's form, filled in as a click on `username`'s button would. */
function approval(html: string, username: string): URLSearchParams {
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) form.set(m[1] as string, m[2] as string);
  const button = new RegExp(`name="user" value="([^"]+)">(?:(?!</button>)[\\s\\S])*@${username.replace('.', '\\.')}`).exec(html);
  if (!button) throw new Error(`no button for ${username} on the sign-in page`);
  form.set('user', button[1] as string);
  return form;
}

describe.each(QUICK_STARTS)('the README quick start in $name', ({ file, source }) => {
  let redis: OwnRedis;
  let app: App;

  beforeAll(async () => {
    fs.writeFileSync(path.join(project, file), source());
    redis = await startOwnRedis();
    app = await startApp(file, redis);
  });

  afterAll(async () => {
    if (app) await stopApp(app.child);
    await redis?.stop();
  });

  test('signs in through the emulator\'s sign-in page, shows /me, and signs out', async () => {
    try {
      const jar = new Jar();
      const home = await jar.fetch(`${app.url}/`);
      expect(await home.text()).toContain('Sign in with Space');

      const me = await jar.fetch(`${app.url}/me`);
      expect({ status: me.status, location: me.headers.get('location') }).toEqual({ status: 302, location: '/auth/space?returnTo=/me' });
      const start = await jar.fetch(new URL(me.headers.get('location') as string, app.url).href);
      expect(start.status).toBe(302);
      const authorize = start.headers.get('location') as string;
      expect(authorize.startsWith(`${space.url}/oauth/auth?`)).toBe(true);

      const page = await fetch(authorize, { redirect: 'manual' });
      expect(page.status).toBe(200);
      const approved = await fetch(`${space.url}/oauth/auth/approve`, { method: 'POST', redirect: 'manual', body: approval(await page.text(), 'john.doe') });
      expect(approved.status).toBe(302);
      const callback = new URL(approved.headers.get('location') as string);
      expect(callback.href.startsWith(`${app.url}/auth/space/callback?`)).toBe(true);

      const back = await jar.fetch(callback.href);
      expect({ status: back.status, location: back.headers.get('location') }).toEqual({ status: 302, location: '/me' });
      const signedIn = await jar.fetch(`${app.url}/me`);
      expect(signedIn.status).toBe(200);
      const body = (await signedIn.json()) as { user: string; space: string; expiresAt: number };
      expect(body).toEqual({ user: 'John Doe', space: 'john.doe', expiresAt: expect.any(Number) });
      expect(await (await jar.fetch(`${app.url}/`)).text()).toContain('Sign out');

      const out = await jar.fetch(`${app.url}/auth/signout`, { method: 'POST' });
      expect({ status: out.status, location: out.headers.get('location') }).toEqual({ status: 302, location: '/' });
      const after = await jar.fetch(`${app.url}/me`);
      expect(after.status).toBe(302);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- app output ---\n${app.output()}`);
    }
  });

  test('a failed sign-in lands on failureRedirect, a route the app has', async () => {
    const jar = new Jar();
    const failed = await jar.fetch(`${app.url}/auth/space/callback?code=made-up&state=made-up`);
    expect({ status: failed.status, location: failed.headers.get('location') }).toEqual({ status: 302, location: '/' });
    const home = await jar.fetch(`${app.url}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Sign in with Space');
  });
});

describe('the README short setup with spaceAuth, as an ES module', () => {
  let redis: OwnRedis;
  let app: App;

  beforeAll(async () => {
    const source = ts.transpileModule(sectionBlock(README, 'Short setup with spaceAuth', 'ts'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    fs.writeFileSync(path.join(project, 'short.mjs'), source);
    redis = await startOwnRedis();
    app = await startApp('short.mjs', redis);
  });

  afterAll(async () => {
    if (app) await stopApp(app.child);
    await redis?.stop();
  });

  test('everything needs a sign-in; signing in through the emulator\'s page lands home; sign-out ends it', async () => {
    try {
      const jar = new Jar();
      // authRequired: an API-like request (fetch) gets 401 JSON, never a redirect.
      expect((await jar.fetch(`${app.url}/`)).status).toBe(401);
      const start = await jar.fetch(`${app.url}/auth/space?returnTo=/`);
      expect(start.status).toBe(302);
      const page = await fetch(start.headers.get('location') as string, { redirect: 'manual' });
      const approved = await fetch(`${space.url}/oauth/auth/approve`, { method: 'POST', redirect: 'manual', body: approval(await page.text(), 'john.doe') });
      const back = await jar.fetch(approved.headers.get('location') as string);
      expect({ status: back.status, location: back.headers.get('location') }).toEqual({ status: 302, location: '/' });
      const home = await jar.fetch(`${app.url}/`);
      expect({ status: home.status, text: await home.text() }).toEqual({ status: 200, text: 'Hello, John Doe' });
      const out = await jar.fetch(`${app.url}/auth/signout`, { method: 'POST', headers: { origin: app.url } });
      expect(out.status).toBeLessThan(400);
      expect((await jar.fetch(`${app.url}/`)).status).toBe(401);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- app output ---\n${app.output()}`);
    }
  });
});

test('the reader\'s .env holds what the emulator prints', () => {
  const printed = /```text\n([\s\S]*?)```/.exec(README.slice(README.indexOf('## Five minutes with the emulator')))?.[1] ?? '';
  expect(printed).toContain(`SPACE_CLIENT_ID=${DEFAULT_CLIENT_ID}\n`);
  expect(printed).toContain(`SPACE_CLIENT_SECRET=${DEFAULT_CLIENT_SECRET}\n`);
  expect(printed).toMatch(/^SPACE_URL=http:\/\/127\.0\.0\.1:8090$/m);
});
