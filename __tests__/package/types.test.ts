// Type tests: ts-jest type-checks this file, so a wrong line below fails the run.
// Each @ts-expect-error must really be an error, or the compiler complains.
import type { Express, Request } from 'express';
import type Redis from 'ioredis';
import passport from 'passport';
import {
  SpaceStrategy, spaceAuth, spaceTokenRefresh, spaceApi, type SpaceProfile, type SpaceTokenSet, type SpaceError, type SpaceTokenParams, type SpaceVerified,
} from 'passport-jetbrains-space';

const base = { spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', callbackURL: '/cb' };

test('verify callback shapes are typed from the options', () => {
  const a = new SpaceStrategy(base, (accessToken, refreshToken, profile, done) => {
    const token: string = accessToken;
    const refresh: string | undefined = refreshToken;
    const p: SpaceProfile = profile;
    done(null, { id: p.id, token, refresh });
  });
  // TypeScript types a lambda from the first overload it tries, so the five-argument form
  // needs its parameters annotated (as with passport-oauth2's own typings).
  const b = new SpaceStrategy(base, (_accessToken: string, _refreshToken: string | undefined, params: SpaceTokenParams, profile: SpaceProfile, done: SpaceVerified) => {
    const expiresIn: unknown = params.expires_in;
    done(null, { id: profile.id, expiresIn });
  });
  const c = new SpaceStrategy({ ...base, passReqToCallback: true }, (req, _at, _rt, profile, done) => {
    const r: Request = req;
    done(null, { id: profile.id, path: r.path });
  });
  // Not run: these only have to be refused by the compiler.
  // @ts-expect-error with passReqToCallback the first argument is the request, not a string
  const d = () => new SpaceStrategy({ ...base, passReqToCallback: true }, (accessToken: string, _rt: string | undefined, _p: SpaceProfile, done: (e: null) => void) => done(null));
  // @ts-expect-error clientSecret is required
  const e = () => new SpaceStrategy({ spaceURL: base.spaceURL, clientID: 'id', callbackURL: '/cb' }, (_a, _r, p, done) => done(null, p));
  // @ts-expect-error accessType is 'offline' | 'online'
  const f = () => new SpaceStrategy({ ...base, accessType: 'forever' }, (_a, _r, p, done) => done(null, p));
  expect([a, b, c].every((s) => s.name === 'space')).toBe(true);
  void [d, e, f];
});

test('req.spaceTokens, spaceTokenRefresh and spaceApi are typed', () => {
  const strategy = new SpaceStrategy(base, (_a, _r, p, done) => done(null, p));
  const check = (req: Request, redis: Redis) => {
    const tokens: SpaceTokenSet | undefined = req.spaceTokens;
    const expiresAt: number | undefined = tokens?.expiresAt;
    spaceTokenRefresh({ strategy, redis, skew: 30_000 });
    spaceTokenRefresh({ strategy }); // one process, no Redis
    // @ts-expect-error strategy is required
    spaceTokenRefresh({ redis });
    const me: Promise<{ id: string }> = spaceApi(req).get<{ id: string }>('team-directory/profiles/me');
    const code: SpaceError['code'] = 'SPACE_TIMEOUT';
    // @ts-expect-error not one of the stable codes
    const bad: SpaceError['code'] = 'TIMEOUT';
    return [expiresAt, me, code, bad];
  };
  expect(typeof check).toBe('function');
});

test('spaceAuth: every verify shape is typed, the passport module or an instance is taken, and the router carries its strategy', () => {
  const check = (app: Express, redis: Redis) => {
    const o = { spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', baseURL: 'http://localhost:3000', secret: 's', redis };
    const auth = spaceAuth({ ...o, passport: new passport.Passport(), authRequired: true, verify: (_a, _r, profile, done) => done(null, { id: profile.id }) });
    app.use(auth);
    const strategy: SpaceStrategy = auth.strategy;
    spaceAuth({ ...o, passport });
    spaceAuth({ ...o, verify: (_a: string, _r: string | undefined, params: SpaceTokenParams, profile: SpaceProfile, done: SpaceVerified) => done(null, { id: profile.id, p: params.x }) });
    spaceAuth({ ...o, strategyOptions: { passReqToCallback: true }, verify: (req, _a, _r, profile, done) => done(null, { id: profile.id, path: req.path }) });
    // @ts-expect-error secret is required
    spaceAuth({ spaceURL: o.spaceURL, clientID: 'id', clientSecret: 'secret', baseURL: o.baseURL, redis });
    // @ts-expect-error callbackURL is made from baseURL, not a strategy option here
    spaceAuth({ ...o, strategyOptions: { callbackURL: '/cb' } });
    return strategy;
  };
  expect(typeof check).toBe('function');
});
