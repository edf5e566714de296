/**
 * The Express app: sessions, Passport with SpaceStrategy, token renewal, the pages.
 * `createApp` only builds it (no listening, no connecting), so tests can run it in-process.
 */
import path from 'node:path';
import express, { type ErrorRequestHandler, type Express, type Request } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { Passport } from 'passport';
import type Redis from 'ioredis';
import { SpaceStrategy, spaceErrorHandler, spaceTokenRefresh } from 'passport-jetbrains-space';
import { CALLBACK_PATH, mountSignOut, PUBLIC_PATHS, signInGate } from './auth';
import { avatarRoute } from './avatar';
import type { SpaceSettings } from './config';
import { noteTokens, RenewalStats, watchTokens } from './renewals';
import { csrfToken, securityHeaders } from './security';
import { loadOrganization, ORGANIZATION_FIELDS, PROFILE_FIELDS, timedCall } from './space-calls';
import { mountTeamPages, withTeams } from './teams';
import { currentUser, toUser, type AppUser } from './user';
import { dashboardPage } from './views/dashboard';
import { errorPage } from './views/error';
import { landingPage } from './views/landing';
import type { PageContext } from './views/layout';
import { spaceApiPage } from './views/space-api';

export interface AppConfig {
  /** The Space org (or emulator) and the application's credentials. */
  space: SpaceSettings & { emulated?: boolean };
  /** Signs the session cookie; the same on every instance. */
  sessionSecret: string;
  /** Sessions and token renewal state; null keeps both in this process's memory. */
  redis: Redis | null;
  /** Prefix of every Redis key the app writes. Default `'orbit:'`. */
  keyPrefix?: string;
  /** The public origin, e.g. `https://orbit.example.com`: absolute callback URL, Secure cookies. */
  publicURL?: string;
  /** Renew access tokens this long before they expire, seconds. Default 60 (the library's). */
  refreshSkewSeconds?: number;
  /** Receives one line per token event (renewals, failures). */
  log?: (line: string) => void;
}

export const SESSION_COOKIE = 'orbit.sid';
const PUBLIC_DIR = path.join(__dirname, '..', 'public');

export function createApp(config: AppConfig): Express {
  const prefix = config.keyPrefix ?? 'orbit:';
  const secure = config.publicURL?.startsWith('https:') ?? false;
  const skew = (config.refreshSkewSeconds ?? 60) * 1000;
  const stats = new RenewalStats();

  const strategy = new SpaceStrategy({
    spaceURL: config.space.url,
    clientID: config.space.clientID,
    clientSecret: config.space.clientSecret,
    callbackURL: config.publicURL ? `${config.publicURL}${CALLBACK_PATH}` : CALLBACK_PATH,
    publicPaths: PUBLIC_PATHS,
    // Memberships: for the team rule of /admin and the teams on the dashboard.
    scope: ['global:Profile.View', 'global:Profile.Memberships.View'],
    // The shared settings, given once: every middleware below reads them from the strategy.
    // Without Redis, pending sign-ins and renewals are coordinated within this process only.
    redis: config.redis ?? undefined,
    keyPrefix: `${prefix}space:`,
    skew,
    cookieName: SESSION_COOKIE,
    onEvent: stats.listener(config.log),
  }, (_accessToken, _refreshToken, profile, done) => done(null, toUser(profile)));

  // One Passport per app (rather than the global one) so tests can build several apps.
  const passport = new Passport();
  passport.use(strategy);
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: AppUser, done) => done(null, user));

  const app = express();
  app.disable('x-powered-by');
  // An https PUBLIC_URL means TLS ends at a proxy on this machine: believe its
  // X-Forwarded-Proto, so that Express sees HTTPS (Secure cookie, HSTS). Adjust to your proxy.
  if (secure) app.set('trust proxy', 'loopback');
  app.use(securityHeaders());
  app.use('/static', express.static(PUBLIC_DIR, {
    index: false,
    setHeaders: (res) => res.set('Cache-Control', 'public, max-age=3600'),
  }));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', sessions: config.redis ? 'redis' : 'memory' });
  });

  app.use(session({
    store: config.redis ? new RedisStore({ client: config.redis, prefix: `${prefix}sess:` }) : undefined,
    name: SESSION_COOKIE,
    secret: config.sessionSecret,
    resave: false,
    saveUninitialized: false,
    // Lax: the cookie must come along when Space sends the browser back to the callback.
    // 'auto': Secure whenever the request came over HTTPS (as Express sees it).
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 8 * 3600_000 },
  }));
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(spaceTokenRefresh({ strategy }));
  app.use(watchTokens());
  // A login whose Space tokens are gone (ended elsewhere) is no login here: sign in again.
  app.use((req, _res, next) => (req.user && !req.spaceTokens ? req.logout(next) : next()));
  // Everything below needs a signed-in user, except PUBLIC_PATHS.
  app.use(signInGate(passport));
  mountSignOut(app, strategy);

  const page = (req: Request): PageContext => {
    const user = currentUser(req);
    const ctx: PageContext = { space: { url: strategy.spaceURL, emulated: config.space.emulated ?? false }, signInHref: strategy.signInPath };
    if (user && req.session) {
      ctx.user = user;
      ctx.csrf = csrfToken(req);
    }
    return ctx;
  };

  app.get('/', (req, res) => {
    const s = req.session as unknown as { messages?: string[] };
    const notice = s.messages?.at(-1);
    if (s.messages) delete s.messages;
    res.type('html').send(landingPage(page(req), notice ? { notice: `Sign-in did not complete: ${notice}` } : {}));
  });

  app.get('/dashboard', withTeams, async (req, res) => {
    const user = currentUser(req)!;
    const organization = await loadOrganization(req);
    res.type('html').send(dashboardPage(page(req), {
      user,
      organization,
      store: config.redis ? 'redis' : 'memory',
      signedInAt: noteTokens(req)?.since,
      tokenExpiresAt: req.spaceTokens?.expiresAt,
      now: Date.now(),
      teams: req.spaceMember?.teams ?? [],
    }));
  });

  app.get('/space-api', async (req, res) => {
    const calls = [
      await timedCall(req, 'team-directory/profiles/me', PROFILE_FIELDS),
      await timedCall(req, 'organization', ORGANIZATION_FIELDS),
    ];
    // A call may have renewed the token (Space said it had expired): look again.
    const watch = noteTokens(req);
    const tokens = req.spaceTokens!;
    const lifetime = watch ? tokens.expiresAt - watch.seenAt : skew * 2;
    res.type('html').send(spaceApiPage(page(req), {
      now: Date.now(),
      token: { expiresAt: tokens.expiresAt, scope: tokens.scope, hasRefreshToken: Boolean(tokens.refreshToken) },
      watch,
      // The library renews within `skew`, capped at half the token's lifetime.
      renewWithin: Math.min(skew, lifetime / 2),
      process: { renewed: stats.renewed, adopted: stats.adopted, failed: stats.failed },
      calls,
    }));
  });

  app.get('/avatar/:id', avatarRoute(strategy));
  mountTeamPages(app, page);

  app.use((req, res) => {
    res.status(404).type('html').send(errorPage(page(req), 404, 'There is nothing at this address.'));
  });
  // Redis down, Space down or refusing: short pages or JSON, no details. A sign-in that
  // Space ended while a page was being built: sign in again, then come back.
  app.use(spaceErrorHandler());
  app.use(((err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500) console.error('[orbit] request failed:', err instanceof Error ? err.stack : err);
    const message = status < 500 && err?.expose && typeof err.message === 'string' ? err.message : 'The page could not be shown. Please try again.';
    res.status(status).type('html').send(errorPage(page(req), status, message));
  }) as ErrorRequestHandler);
  return app;
}
