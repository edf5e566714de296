/**
 * Sources of the compatibility matrix's consumer apps. Each is the README's quick start cut to
 * the routes the test drives: sign-in and callback, `/me` (which calls Space as the user through
 * `spaceApi`), sign-out. It listens on a free port and prints `LISTENING <port>`; settings come
 * from the environment (SPACE_URL, CLIENT_ID, CLIENT_SECRET, REDIS_URL, KEY_PREFIX).
 */
import type { ConnectRedisMajor, ConsumerKind } from './compat-matrix';

/** The app's body after its imports: the same for every kind of consumer. */
const BODY = `
const env = process.env;
const redis = new Redis(env.REDIS_URL);
const strategy = new SpaceStrategy({
  spaceURL: env.SPACE_URL,
  clientID: env.CLIENT_ID,
  clientSecret: env.CLIENT_SECRET,
  callbackURL: '/auth/space/callback',
}, (_accessToken, _refreshToken, profile, done) => done(null, { id: profile.id, username: profile.username }));
passport.use(strategy);
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user, done) => done(null, user));

const app = express();
app.use(session({
  store: new RedisStore({ client: redis, prefix: env.KEY_PREFIX + 'sess:' }),
  secret: 'compat-session-secret',
  name: 'sid',
  resave: false,
  saveUninitialized: false,
}));
app.use(passport.initialize());
app.use(passport.session());
app.use(spaceTokenRefresh({ strategy, redis, keyPrefix: env.KEY_PREFIX + 'space:' }));
app.get('/auth/space', passport.authenticate('space', { returnTo: '/me' }));
app.get('/auth/space/callback', passport.authenticate('space', { failureRedirect: '/failed' }), (_req, res) => res.redirect('/me'));
app.get('/me', async (req, res, next) => {
  if (!req.user) return void res.status(401).json({ error: 'unauthenticated' });
  try {
    const me = await spaceApi(req).get${'<{ id: string; username: string }>'}('team-directory/profiles/me', { query: { $fields: 'id,username' } });
    res.json({ user: req.user, me, hasTokens: Boolean(req.spaceTokens?.accessToken), sessionTokens: Boolean(SESSION_TOKENS(req)) });
  } catch (err) {
    next(err);
  }
});
app.post('/auth/signout', spaceSignOut({ strategy, redis, cookieName: 'sid' }));
app.use(spaceErrorHandler());

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log('LISTENING ' + (typeof address === 'object' && address ? address.port : ''));
});
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
});
`;

const STORE = {
  cjs: { '7': "const RedisStore = require('connect-redis').default;", '8': "const { RedisStore } = require('connect-redis');" },
  esm: { '7': "import RedisStore from 'connect-redis';", '8': "import { RedisStore } from 'connect-redis';" },
} as const;

const stripTypes = (code: string) => code.replace(/<\{ id: string; username: string \}>/g, '');

/** The CommonJS app (`app.cjs`). */
export function cjsApp(connectRedis: ConnectRedisMajor): string {
  return [
    "'use strict';",
    "const express = require('express');",
    "const session = require('express-session');",
    "const passport = require('passport');",
    "const { Redis } = require('ioredis');",
    STORE.cjs[connectRedis],
    "const { SpaceStrategy, spaceTokenRefresh, spaceApi, spaceSignOut, spaceErrorHandler } = require('passport-jetbrains-space');",
    'const SESSION_TOKENS = (req) => req.session.space?.tokens;',
    stripTypes(BODY),
  ].join('\n');
}

/** The ESM app (`app.mjs`): named imports, and the default export for the rest. */
export function esmApp(connectRedis: ConnectRedisMajor): string {
  return [
    "import express from 'express';",
    "import session from 'express-session';",
    "import passport from 'passport';",
    "import { Redis } from 'ioredis';",
    STORE.esm[connectRedis],
    "import { SpaceStrategy, spaceTokenRefresh } from 'passport-jetbrains-space';",
    "import space from 'passport-jetbrains-space';",
    'const { spaceApi, spaceSignOut, spaceErrorHandler } = space;',
    'const SESSION_TOKENS = (req) => req.session.space?.tokens;',
    stripTypes(BODY),
  ].join('\n');
}

/**
 * The TypeScript app (`app.ts`), compiled under each module setting. Besides running, it
 * checks the public types: Passport's augmented options (`returnTo`), the typed
 * `req.session.space`, `spaceApi(req).get<T>()`, `Express.User`, the emulator subpath, and
 * (ESM consumers) the default export.
 */
export function tsApp(connectRedis: ConnectRedisMajor, kind: ConsumerKind): string {
  const esm = kind !== 'ts-node10';
  return [
    "import express from 'express';",
    "import session from 'express-session';",
    "import passport from 'passport';",
    "import { Redis } from 'ioredis';",
    STORE.esm[connectRedis],
    esm
      ? "import space, { SpaceStrategy, spaceTokenRefresh, type SpaceSessionData } from 'passport-jetbrains-space';\nconst { spaceApi, spaceSignOut, spaceErrorHandler } = space;"
      : "import { SpaceStrategy, spaceTokenRefresh, spaceApi, spaceSignOut, spaceErrorHandler, type SpaceSessionData } from 'passport-jetbrains-space';",
    "import type { SpaceEmulator } from 'passport-jetbrains-space/emulator';",
    '',
    'declare global {',
    '  // eslint-disable-next-line @typescript-eslint/no-namespace',
    '  namespace Express {',
    '    interface User { id: string; username: string }',
    '  }',
    '}',
    "export type EmulatorURL = SpaceEmulator['url'];",
    'const SESSION_TOKENS = (req: express.Request): SpaceSessionData[\'tokens\'] => req.session.space?.tokens;',
    '// @ts-expect-error returnTo is a path string',
    "passport.authenticate('space', { returnTo: 42 });",
    BODY.replace('clientID: env.CLIENT_ID,', 'clientID: env.CLIENT_ID!,')
      .replace('spaceURL: env.SPACE_URL,', 'spaceURL: env.SPACE_URL!,')
      .replace('clientSecret: env.CLIENT_SECRET,', 'clientSecret: env.CLIENT_SECRET!,')
      .replace('new Redis(env.REDIS_URL)', "new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379')")
      .replace('passport.deserializeUser((user, done)', 'passport.deserializeUser((user: Express.User, done)')
      .replace("res.json({ user: req.user, me,", "const username: string = req.user.username;\n    res.json({ user: req.user, me, username,"),
  ].join('\n');
}

export interface TsSetup {
  packageType: 'module' | 'commonjs';
  compilerOptions: Record<string, unknown>;
}

const COMMON = {
  target: 'ES2022',
  strict: true,
  esModuleInterop: true,
  outDir: 'out',
  rootDir: '.',
};

/** tsconfig.json and package.json "type" of each TypeScript consumer. */
export const TS_SETUPS: Partial<Record<ConsumerKind, TsSetup>> = {
  'ts-nodenext': { packageType: 'module', compilerOptions: { ...COMMON, module: 'nodenext', moduleResolution: 'nodenext' } },
  'ts-bundler': { packageType: 'module', compilerOptions: { ...COMMON, module: 'esnext', moduleResolution: 'bundler' } },
  'ts-node10': { packageType: 'commonjs', compilerOptions: { ...COMMON, module: 'commonjs' } },
};
