// The compatibility matrix (__tests__/helpers/compat-matrix.ts): the packed package installed
// into temporary apps (one per stack and kind of consumer), each started as its own process and
// signed in with the Space emulator over real HTTP, sessions in the real Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { connectRedis, deleteKeys, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { cleanup, installTarball, packTarball, pool, resolvedVersion, ROOT, tempDir, tsc } from '../helpers/consumer';
import {
  checksAllDeclarations, CONSUMERS, consumersOf, renderCompatibilityDoc, SOURCES, STACKS, stackLabel, stackName,
  type ConsumerKind, type Stack,
} from '../helpers/compat-matrix';
import { cjsApp, esmApp, TS_SETUPS, tsApp } from '../helpers/compat-apps';

jest.setTimeout(60_000);

const DOC = path.join(ROOT, 'docs', 'compatibility.md');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

let work: string;
let space: SpaceEmulator;
let redis: Redis;
const prefix = uniquePrefix('compat');
/** Where each stack's app lives, once installed and compiled. */
const stackDirs = new Map<string, string>();

/** Writes the consumer projects of one stack into `dir`; returns the TypeScript ones. */
function writeConsumers(dir: string, stack: Stack): string[] {
  const tsDirs: string[] = [];
  for (const kind of consumersOf(stack)) {
    const app = path.join(dir, kind);
    fs.mkdirSync(app);
    const setup = TS_SETUPS[kind];
    if (kind === 'cjs') fs.writeFileSync(path.join(app, 'app.cjs'), cjsApp(stack.connectRedis));
    else if (kind === 'esm') fs.writeFileSync(path.join(app, 'app.mjs'), esmApp(stack.connectRedis));
    else if (setup) {
      fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ private: true, type: setup.packageType }));
      const compilerOptions = { ...setup.compilerOptions, skipLibCheck: !checksAllDeclarations(stack, kind) };
      fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['app.ts'] }, null, 2));
      fs.writeFileSync(path.join(app, 'app.ts'), tsApp(stack.connectRedis, kind));
      tsDirs.push(app);
    }
  }
  return tsDirs;
}

/** Apps started in beforeAll (in parallel with other stacks' installs), stopped by their test. */
const running = new Map<string, RunningApp>();
const caseKey = (stack: Stack, kind: ConsumerKind) => `${stackName(stack)}/${kind}`;
const keyPrefixOf = (stack: Stack, kind: ConsumerKind) => `${prefix}${stackName(stack)}:${kind}:`;

beforeAll(async () => {
  work = tempDir('compat');
  [space, redis] = await Promise.all([startSpaceEmulator({ port: 0, autoApprove: 'john.doe' }), connectRedis()]);
  const tarball = await packTarball(work);
  // The stacks with TypeScript consumers first: their compiles are the long part.
  const ordered = [...STACKS].sort((a, b) => consumersOf(b).length - consumersOf(a).length);
  await pool(2, ordered.map((stack) => async () => {
    const dir = path.join(work, stackName(stack));
    await installTarball(dir, tarball, {
      express: SOURCES.express[stack.express],
      passport: SOURCES.passport[stack.passport],
      'connect-redis': SOURCES.connectRedis[stack.connectRedis],
      'express-session': 'express-session',
      ioredis: 'ioredis',
      '@types/express-session': '@types/express-session',
    });
    const tsDirs = writeConsumers(dir, stack);
    // One compiler run builds all of a stack's TypeScript consumers.
    if (tsDirs.length) await tsc(dir, ['-b', ...tsDirs.map((d) => path.relative(dir, d))]);
    stackDirs.set(stackName(stack), dir);
    for (const kind of consumersOf(stack)) running.set(caseKey(stack, kind), await startApp(dir, kind, keyPrefixOf(stack, kind)));
  }));
}, 240_000);

afterAll(async () => {
  await Promise.all([...running.values()].map((app) => stopApp(app.child)));
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await space?.close();
  cleanup(work);
});

interface RunningApp {
  url: string;
  child: ChildProcess;
  output: () => string;
}

/** Starts a consumer app; resolves once it printed its port. */
async function startApp(dir: string, kind: ConsumerKind, keyPrefix: string): Promise<RunningApp> {
  const entry = kind === 'cjs' ? 'app.cjs' : kind === 'esm' ? 'app.mjs' : path.join('out', 'app.js');
  const child = spawn(process.execPath, [entry], {
    cwd: path.join(dir, kind),
    env: { PATH: process.env.PATH, SPACE_URL: space.url, CLIENT_ID: DEFAULT_CLIENT_ID, CLIENT_SECRET: DEFAULT_CLIENT_SECRET, REDIS_URL, KEY_PREFIX: keyPrefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not start:\n${out}`)), 20_000);
    child.stdout?.on('data', () => {
      const m = /LISTENING (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1] as string); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`app exited with ${code}:\n${out}`)); });
  });
  return { url: `http://127.0.0.1:${port}`, child, output: () => out };
}

async function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

/** A browser's cookie jar, reduced to what these apps set. */
class Jar {
  private cookies = new Map<string, string>();
  store(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = (pair as string).indexOf('=');
      this.cookies.set((pair as string).slice(0, eq), (pair as string).slice(eq + 1));
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function get(jar: Jar, url: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(), ...headers } });
  jar.store(res);
  return res;
}

/** Signs in by hand: start route → Space (auto-approves) → callback → /me. */
async function signIn(appURL: string) {
  const jar = new Jar();
  const start = await get(jar, `${appURL}/auth/space`);
  expect(start.status).toBe(302);
  const authorize = start.headers.get('location') as string;
  expect(authorize.startsWith(`${space.url}/oauth/auth?`)).toBe(true);
  const approval = await fetch(authorize, { redirect: 'manual' });
  expect(approval.status).toBe(302);
  const callback = new URL(approval.headers.get('location') as string);
  expect(callback.origin).toBe(appURL);
  const back = await get(jar, callback.href);
  expect({ status: back.status, location: back.headers.get('location') }).toEqual({ status: 302, location: '/me' });
  return jar;
}

const CASES = STACKS.flatMap((stack) => consumersOf(stack).map((kind) => ({ stack, kind, label: `${CONSUMERS[kind].label} app on ${stackLabel(stack)}` })));

test('the installed apps load the versions the matrix names', () => {
  for (const stack of STACKS) {
    const dir = stackDirs.get(stackName(stack)) as string;
    expect({
      express: resolvedVersion(dir, 'express').split('.')[0],
      passport: resolvedVersion(dir, 'passport').split('.').slice(0, 2).join('.'),
      connectRedis: resolvedVersion(dir, 'connect-redis').split('.')[0],
    }).toEqual(stack);
  }
});

test.each(CASES)('$label signs in with Space, calls Space as the user and signs out', async ({ stack, kind }) => {
  const keyPrefix = keyPrefixOf(stack, kind);
  const app = running.get(caseKey(stack, kind)) as RunningApp;
  try {
    const jar = await signIn(app.url);
    const me = await get(jar, `${app.url}/me`, { accept: 'application/json' });
    expect(me.status).toBe(200);
    const body = (await me.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      user: { username: 'john.doe' },
      me: { username: 'john.doe' },
      hasTokens: true,
      sessionTokens: true,
    });
    // The session lives in Redis under the app's prefix, through this connect-redis.
    expect((await redis.keys(`${keyPrefix}sess:*`)).length).toBe(1);

    const out = await fetch(`${app.url}/auth/signout`, { method: 'POST', redirect: 'manual', headers: { cookie: jar.header(), accept: 'application/json' } });
    expect(out.status).toBe(204);
    const after = await get(jar, `${app.url}/me`, { accept: 'application/json' });
    expect(after.status).toBe(401);
    expect(await redis.keys(`${keyPrefix}sess:*`)).toEqual([]);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- app output ---\n${app.output()}`);
  } finally {
    await stopApp(app.child);
  }
});

test('docs/compatibility.md is the table of this matrix', () => {
  const rendered = renderCompatibilityDoc(pkg.devDependencies);
  if (process.env.UPDATE_DOCS) fs.writeFileSync(DOC, rendered);
  expect(fs.readFileSync(DOC, 'utf8')).toBe(rendered);
});
