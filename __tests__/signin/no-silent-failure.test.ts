// The first hour's usual mistakes are never silent: a refused callback reaches the app (its
// failureRedirect with the reason, or the error handler) and prints one warning line without DEBUG.
import type Redis from 'ioredis';
import passport from 'passport';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'silent-client', clientSecret: 'silent-secret' };

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
let app: TestApp;

/** The library's warning lines meanwhile (still printed). */
function collectWarnings(): { list: string[]; stop(): void } {
  const original = console.warn.bind(console);
  const list: string[] = [];
  const spy = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    list.push(args.map(String).join(' '));
    original(...args);
  });
  return { list, stop: () => spy.mockRestore() };
}

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  redis = await connectRedis();
  prefix = uniquePrefix('silent');
  app = await startTestApp({
    spaceURL: space.url, ...CLIENT, redis, prefix, refresh: {},
    setup: (express, strategy) => {
      // A callback route that hands failures to the error handlers (Passport's failWithError).
      const authenticator = new passport.Passport();
      authenticator.use(strategy);
      express.get('/auth/space/callback-to-handler', authenticator.authenticate('space', { failWithError: true }));
    },
  });
});

afterAll(async () => {
  await app.close();
  await deleteKeys(redis, prefix);
  await space.close();
  redis.disconnect();
});

/** Starts a sign-in in `agent` and returns the callback path Space sends back (not yet followed). */
async function pendingCallback(agent: ReturnType<TestApp['agent']>): Promise<string> {
  const start = await agent.get('/auth/space').expect(302);
  const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  return back.pathname + back.search;
}

describe('a refused callback', () => {
  test('started on one host name, back on another: the app gets the reason, and the operator one warning line naming the host', async () => {
    const warnings = collectWarnings();
    try {
      for (let i = 0; i < 3; i++) {
        // The browser started on one host name; Space sends it back to another, where it has no sign-in cookie.
        const path = await pendingCallback(app.agent());
        const elsewhere = app.agent();
        const back = await elsewhere.get(path).set('Host', 'callback-host.test:3000');
        expect(back.status).toBe(302);
        expect(back.headers.location).toBe('/signin-failed');
        expect((await elsewhere.get('/signin-failed').set('Host', 'callback-host.test:3000').expect(401)).body.messages)
          .toEqual([expect.stringContaining('does not match a sign-in started in this browser')]);
      }
      const ours = warnings.list.filter((w) => w.includes('[PASSPORT_JETBRAINS_SPACE_SIGN_IN_REFUSED]'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toMatch(/^passport-jetbrains-space: a sign-in callback was refused \(state_unknown, 403\): Sign-in state does not match/);
      expect(ours[0]).toContain('without the browser\'s sign-in cookie (space.signin)');
      expect(ours[0]).toContain('another host name than this callback\'s (callback-host.test:3000)');
      // Never the state or the code.
      expect(ours[0]).not.toMatch(/state=|code=/);
    } finally {
      warnings.stop();
    }
  });

  test('with failWithError, spaceErrorHandler answers with the status and the reason, not Passport\'s bare "Forbidden"', async () => {
    const path = (await pendingCallback(app.agent())).replace('/auth/space/callback', '/auth/space/callback-to-handler');
    const page = await app.agent().get(path).set('Accept', 'text/html');
    expect(page.status).toBe(403);
    expect(page.text).toContain('Sign-in could not be completed');
    expect(page.text).toContain('does not match a sign-in started in this browser');
    const api = await app.agent().get(path).set('Accept', 'application/json');
    expect(api.status).toBe(403);
    expect(api.body).toEqual({ error: 'sign_in_failed', error_description: expect.stringContaining('does not match a sign-in started in this browser') });
  });
});
