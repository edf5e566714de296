/**
 * Bounded memory on a long run: the request log is a ring of `maxRecordedRequests`, and expired
 * codes, tokens and finished grants are forgotten a while after they expire (emulator clock).
 * Checked through `space.stats()` (counts of what is retained), not heap sizes.
 */
import type { SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { startSpaceEmulator } from 'passport-jetbrains-space/emulator';
import { api, PROFILE, refresh, signIn, startsEmulatorPerTest } from '../../__tests__/helpers/emulator';

jest.setTimeout(240_000);

let space: SpaceEmulator;
const start = startsEmulatorPerTest((s) => {
  space = s;
});

const MINUTE = 60_000;

describe('the request log', () => {
  test('keeps only the latest maxRecordedRequests, oldest first, and counts within them', async () => {
    await start({ maxRecordedRequests: 3 });
    for (let i = 1; i <= 5; i += 1) await api(space, `/nowhere/${i}`);
    expect(space.requests.map((r) => r.path)).toEqual(['/nowhere/3', '/nowhere/4', '/nowhere/5']);
    expect(space.count('/nowhere/1')).toBe(0);
    expect(space.count('/nowhere/5')).toBe(1);
    expect(space.stats()).toMatchObject({ requestsSeen: 5, requestsRetained: 3 });
    space.resetRequests();
    expect(space.stats()).toMatchObject({ requestsSeen: 0, requestsRetained: 0 });
    expect(space.requests).toEqual([]);
  });

  test('maxRecordedRequests must be a positive integer or Infinity', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(startSpaceEmulator({ port: 0, maxRecordedRequests: bad })).rejects.toThrow(/"maxRecordedRequests"/);
    }
    await start({ maxRecordedRequests: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 1005; i += 1) await api(space, '/nowhere');
    expect(space.count('/nowhere')).toBe(1005);
  });
});

describe('expired state', () => {
  test('an expired token keeps its exact error for a while, then is forgotten', async () => {
    await start();
    const { access_token } = await signIn(space);
    space.setClockOffset(11 * MINUTE);
    await signIn(space); // issuing something runs the sweep
    expect(await (await api(space, PROFILE, access_token)).json()).toMatchObject({ error_description: 'Access token has expired' });
    const before = space.stats();
    space.setClockOffset(30 * MINUTE);
    await signIn(space);
    expect(await (await api(space, PROFILE, access_token)).json()).toMatchObject({ error: 'authentication-required', error_description: 'Authentication required' });
    expect(space.stats().grants).toBeLessThan(before.grants);
  });

  test('a grant with a live refresh token outlives every sweep', async () => {
    await start();
    const offline = await signIn(space, { access_type: 'offline' });
    space.setClockOffset(24 * 60 * MINUTE);
    await signIn(space);
    const renewed = await refresh(space, offline.refresh_token!);
    expect(renewed.status).toBe(200);
    expect((await api(space, PROFILE, String(renewed.json.access_token))).status).toBe(200);
  });
});

describe('a long run', () => {
  test('20,000 requests over HTTP leave a bounded number of requests, codes, grants and tokens', async () => {
    await start({ maxRecordedRequests: 500, rotateRefreshTokens: true });
    const offline = await signIn(space, { access_type: 'offline' });
    let refreshToken = offline.refresh_token!;
    const ROUNDS = 20;
    const SIGN_INS = 250; // 3 requests each: authorize, token, profile
    const REFRESHES = 250;
    let sent = 2;
    let clock = 0;

    for (let round = 0; round < ROUNDS; round += 1) {
      for (let batch = 0; batch < SIGN_INS; batch += 10) {
        await Promise.all(Array.from({ length: 10 }, async () => {
          const { access_token } = await signIn(space);
          expect((await api(space, PROFILE, access_token)).status).toBe(200);
        }));
        sent += 30;
      }
      for (let i = 0; i < REFRESHES; i += 1) {
        const answer = await refresh(space, refreshToken);
        expect(answer.status).toBe(200);
        refreshToken = String(answer.json.refresh_token);
      }
      sent += REFRESHES;

      const stats = space.stats();
      expect(stats.requestsSeen).toBe(sent);
      expect(stats.requestsRetained).toBe(500);
      expect(space.count('/oauth/token')).toBeLessThanOrEqual(500);
      // Only this round's items survive; without pruning these grow by a round's worth each time.
      expect(stats.codes).toBeLessThanOrEqual(SIGN_INS + 1);
      expect(stats.verifiers).toBeLessThanOrEqual(SIGN_INS + 1);
      expect(stats.grants).toBeLessThanOrEqual(SIGN_INS + 2);
      expect(stats.accessTokens).toBeLessThanOrEqual(SIGN_INS + REFRESHES + 2);
      expect(stats.refreshTokens).toBeLessThanOrEqual(101);

      clock += 20 * MINUTE; // past access-token expiry plus the retention window
      space.setClockOffset(clock);
    }
    expect(sent).toBeGreaterThanOrEqual(20_000);

    await signIn(space);
    expect(space.stats()).toMatchObject({ codes: 1, verifiers: 1, grants: 2, accessTokens: 1 });
    // The long-lived grant still works, rotated 5,000 times.
    expect((await refresh(space, refreshToken)).status).toBe(200);
  });
});
