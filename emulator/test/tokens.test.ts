/**
 * The emulator's token lifecycle: refresh tokens (issued once, non-rotating or strictly
 * rotating), revocation, expiry and the emulator clock.
 */
import type { SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { api, authorizeWithPKCE, basic, exchange, PROFILE, refresh, REVOKE_SELF, signIn, tokenRequest, startsEmulatorPerTest } from '../../__tests__/helpers/emulator';

let space: SpaceEmulator;
const start = startsEmulatorPerTest((started) => { space = started; });

const offline = { access_type: 'offline' };
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, number | string>;
const profileStatus = async (token: string) => {
  const res = await api(space, PROFILE, token);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('refresh tokens are issued as Space documents', () => {
  test('a refresh token comes only with access_type=offline, on the first exchange for the user+client', async () => {
    await start();
    expect((await signIn(space)).refresh_token).toBeUndefined();
    expect((await signIn(space, offline)).refresh_token).toEqual(expect.any(String));
    expect((await signIn(space, offline)).refresh_token).toBeUndefined();
    space.setAutoApprove('jane.roe');
    expect((await signIn(space, offline)).refresh_token).toEqual(expect.any(String));
  });

  test('a list in autoApprove approves its members in turn, one per authorization request', async () => {
    await start({ autoApprove: ['john.doe', 'jane.roe'] });
    const usernames = [];
    for (let i = 0; i < 3; i += 1) {
      const { access_token: token } = await signIn(space);
      usernames.push((await profileStatus(token)).body.username);
    }
    expect(usernames).toEqual(['john.doe', 'jane.roe', 'john.doe']);
    space.setAutoApprove(['jane.roe']);
    expect((await profileStatus((await signIn(space)).access_token)).body.username).toBe('jane.roe');
  });

  test('refreshTokenOnEveryExchange issues one on every offline exchange', async () => {
    await start({ refreshTokenOnEveryExchange: true });
    const first = await signIn(space, offline);
    const second = await signIn(space, offline);
    expect(second.refresh_token).toEqual(expect.any(String));
    expect(second.refresh_token).not.toBe(first.refresh_token);
  });

  test('after the user\'s grants are revoked, the next offline exchange gets a refresh token again', async () => {
    await start();
    await signIn(space, offline);
    space.revokeRefreshTokens('john.doe');
    expect((await signIn(space, offline)).refresh_token).toEqual(expect.any(String));
  });

  test("refreshTokens: 'once' never issues a second refresh token to the user+client, even after a revocation", async () => {
    await start({ refreshTokens: 'once' });
    expect((await signIn(space, offline)).refresh_token).toEqual(expect.any(String));
    space.revokeRefreshTokens('john.doe');
    expect((await signIn(space, offline)).refresh_token).toBeUndefined();
    space.setAutoApprove('jane.roe');
    expect((await signIn(space, offline)).refresh_token).toEqual(expect.any(String));
  });

  test("refreshTokens: 'every-exchange' is refreshTokenOnEveryExchange, and the two may not disagree", async () => {
    await start({ refreshTokens: 'every-exchange' });
    await signIn(space, offline);
    expect((await signIn(space, offline)).refresh_token).toEqual(expect.any(String));
    await expect(start({ refreshTokens: 'once', refreshTokenOnEveryExchange: true })).rejects.toThrow(/refreshTokenOnEveryExchange/);
    await expect(start({ refreshTokens: 'sometimes' as never })).rejects.toThrow(/refreshTokens/);
  });

  test('token_type and scope can be left out of token answers', async () => {
    await start({ includeTokenType: false, includeScope: false });
    expect(Object.keys(await signIn(space)).sort()).toEqual(['access_token', 'expires_in']);
  });
});

describe('non-rotating refresh (default)', () => {
  test('a refresh answers without refresh_token, and the same refresh token keeps working', async () => {
    await start();
    const { refresh_token } = await signIn(space, offline);
    for (let i = 0; i < 3; i += 1) {
      const answer = await refresh(space, refresh_token!);
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 600, scope: 'global:Profile.View' });
      expect((await profileStatus(String(answer.json.access_token))).status).toBe(200);
    }
    expect(space.count('/oauth/token', { grant_type: 'refresh_token', refresh_token: refresh_token! })).toBe(3);
  });

  test('scope may be narrowed, not broadened; absent means as granted', async () => {
    await start();
    const { refresh_token } = await signIn(space, { ...offline, scope: 'global:Profile.View global:Project.View' });
    const narrowed = await refresh(space, refresh_token!, { scope: 'global:Project.View' });
    expect(narrowed.json.scope).toBe('global:Project.View');
    expect((await profileStatus(String(narrowed.json.access_token))).status).toBe(403);
    expect((await refresh(space, refresh_token!, { scope: 'global:Profile.View **' })).json.error).toBe('invalid_scope');
    expect((await refresh(space, refresh_token!)).json.scope).toBe('global:Profile.View global:Project.View');
  });

  test('an unknown refresh token, or one of another client, is invalid_grant', async () => {
    await start();
    space.addClient({ clientID: 'other', clientSecret: 'other-secret', redirectURIs: ['*'] });
    const { refresh_token } = await signIn(space, offline);
    expect((await refresh(space, 'not-a-token')).json.error).toBe('invalid_grant');
    const stolen = await tokenRequest(space, { grant_type: 'refresh_token', refresh_token: refresh_token! }, { auth: basic('other', 'other-secret') });
    expect(stolen.json.error).toBe('invalid_grant');
    expect((await refresh(space, refresh_token!)).status).toBe(200);
  });
});

describe('strict rotation', () => {
  test('each refresh returns a new refresh token, and the new one works', async () => {
    await start({ rotateRefreshTokens: true });
    let rt = (await signIn(space, offline)).refresh_token!;
    for (let i = 0; i < 3; i += 1) {
      const answer = await refresh(space, rt);
      expect(answer.status).toBe(200);
      expect(answer.json.refresh_token).toEqual(expect.any(String));
      expect(answer.json.refresh_token).not.toBe(rt);
      rt = String(answer.json.refresh_token);
    }
    expect(space.refreshTokenReuseCount).toBe(0);
  });

  test('replaying a rotated-out refresh token is invalid_grant and revokes the whole family', async () => {
    await start({ rotateRefreshTokens: true });
    const first = await signIn(space, offline);
    const rotated = await refresh(space, first.refresh_token!);
    const replay = await refresh(space, first.refresh_token!);
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe('invalid_grant');
    expect(space.refreshTokenReuseCount).toBe(1);
    expect((await refresh(space, String(rotated.json.refresh_token))).json.error).toBe('invalid_grant');
    for (const token of [first.access_token, String(rotated.json.access_token)]) {
      expect(await profileStatus(token)).toEqual({
        status: 401,
        body: { error: 'authentication-required', error_description: 'Refresh token associated with the access token is revoked' },
      });
    }
  });

  test('other families survive a replay in one family', async () => {
    await start({ rotateRefreshTokens: true, refreshTokenOnEveryExchange: true });
    const a = await signIn(space, offline);
    const b = await signIn(space, offline);
    await refresh(space, a.refresh_token!);
    await refresh(space, a.refresh_token!);
    expect((await refresh(space, b.refresh_token!)).status).toBe(200);
  });
});

describe('revocation', () => {
  test('revokeRefreshTokens() kills refresh tokens (invalid_grant) and access tokens (401 revoked)', async () => {
    await start();
    const tokens = await signIn(space, offline);
    space.revokeRefreshTokens();
    expect((await refresh(space, tokens.refresh_token!)).json.error).toBe('invalid_grant');
    expect((await profileStatus(tokens.access_token)).body.error_description).toBe('Refresh token associated with the access token is revoked');
  });

  test('revokeRefreshTokens(user) leaves other users alone', async () => {
    await start();
    const john = await signIn(space, offline);
    space.setAutoApprove('jane.roe');
    const jane = await signIn(space, offline);
    space.revokeRefreshTokens('jane.roe');
    expect((await refresh(space, john.refresh_token!)).status).toBe(200);
    expect((await refresh(space, jane.refresh_token!)).status).toBe(400);
    expect(() => space.revokeRefreshTokens('nobody')).toThrow(TypeError);
  });

  test('DELETE …/refresh-tokens/self revokes the calling grant and answers 200 with an empty body', async () => {
    await start();
    const tokens = await signIn(space, offline);
    expect((await api(space, REVOKE_SELF, undefined, { method: 'DELETE' })).status).toBe(401);
    const res = await api(space, REVOKE_SELF, tokens.access_token, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect((await refresh(space, tokens.refresh_token!)).json.error).toBe('invalid_grant');
    expect((await profileStatus(tokens.access_token)).status).toBe(401);
  });
});

describe('expiry and the emulator clock', () => {
  const expired = { status: 401, body: { error: 'authentication-required', error_description: 'Access token has expired' } };

  test('expireAccessTokens() expires every token issued so far, but not later ones', async () => {
    await start();
    const old = await signIn(space, offline);
    space.expireAccessTokens();
    expect(await profileStatus(old.access_token)).toEqual(expired);
    const renewed = await refresh(space, old.refresh_token!);
    expect((await profileStatus(String(renewed.json.access_token))).status).toBe(200);
  });

  test('an access token dies after accessTokenTTL seconds', async () => {
    await start({ accessTokenTTL: 1 });
    const { access_token, expires_in } = await signIn(space);
    expect(expires_in).toBe(1);
    expect((await profileStatus(access_token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await profileStatus(access_token)).toEqual(expired);
  });

  test('a clock running ahead expires tokens early, and issues tokens from its own time', async () => {
    await start();
    const { access_token } = await signIn(space);
    space.setClockOffset(601_000);
    expect(await profileStatus(access_token)).toEqual(expired);
    const ahead = await signIn(space);
    expect(Number(claimsOf(ahead.access_token).iat) * 1000).toBeGreaterThan(Date.now() + 590_000);
    expect((await profileStatus(ahead.access_token)).status).toBe(200);
    expect(() => space.setClockOffset(Number.NaN)).toThrow(TypeError);
  });

  test('codes expire on the emulator clock', async () => {
    await start();
    const back = await authorizeWithPKCE(space);
    space.setClockOffset(61_000);
    const answer = await exchange(space, back.code, back.verifier);
    expect(answer.json.error).toBe('invalid_grant');
  });
});
