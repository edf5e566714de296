/**
 * The emulator's token endpoint for the code grant: PKCE checks, single-use and expiring codes,
 * redirect_uri binding, request format, and client authentication (Basic, body, public).
 */
import type { SpaceEmulator } from 'passport-jetbrains-space/emulator';
import {
  api, authorize, authorizeWithPKCE, basic, CLIENT_ID, CLIENT_SECRET, exchange, pkce, PROFILE, tokenRequest, startsEmulatorPerTest,
} from '../../__tests__/helpers/emulator';

let space: SpaceEmulator;
const start = startsEmulatorPerTest((started) => { space = started; });

describe('code exchange', () => {
  test('a PKCE verifier that does not match is invalid_grant', async () => {
    await start();
    const { code } = await authorizeWithPKCE(space);
    const answer = await exchange(space, code, pkce().verifier);
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_grant');
  });

  test('a verifier shorter than 43 characters, or a missing one, is invalid_grant', async () => {
    await start();
    const short = 'a'.repeat(42);
    const back = await authorize(space, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    expect((await exchange(space, back.searchParams.get('code')!, short)).json.error).toBe('invalid_grant');
    expect(space.requests.at(-1)?.warnings).toContain('code_verifier is shorter than 43 characters');
    const { code } = await authorizeWithPKCE(space);
    expect((await exchange(space, code)).json.error).toBe('invalid_grant');
  });

  test('a code_verifier for a code without code_challenge is rejected (PKCE downgrade)', async () => {
    await start();
    const code = (await authorize(space)).searchParams.get('code')!;
    expect((await exchange(space, code, pkce().verifier)).json.error).toBe('invalid_grant');
  });

  test('a code is single use, and replaying it revokes the tokens it produced', async () => {
    await start();
    const { code, verifier } = await authorizeWithPKCE(space);
    const first = await exchange(space, code, verifier);
    expect(first.status).toBe(200);
    const second = await exchange(space, code, verifier);
    expect(second.status).toBe(400);
    expect(second.json).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
    const res = await api(space, PROFILE, String(first.json.access_token));
    expect(res.status).toBe(401);
  });

  test('an expired code is invalid_grant', async () => {
    await start({ codeTTL: 0.05 });
    const { code, verifier } = await authorizeWithPKCE(space);
    await new Promise((r) => setTimeout(r, 120));
    const answer = await exchange(space, code, verifier);
    expect(answer.json.error).toBe('invalid_grant');
    expect(answer.json.error_description).toMatch(/expired/);
  });

  test('the redirect_uri must equal the one of the authorization request', async () => {
    await start();
    const { code, verifier } = await authorizeWithPKCE(space);
    expect((await exchange(space, code, verifier, { redirect_uri: 'http://localhost:3000/other' })).json.error).toBe('invalid_grant');
  });

  test('a code issued to another client is invalid_grant for this one', async () => {
    await start();
    space.addClient({ clientID: 'other', clientSecret: 'other-secret', redirectURIs: ['*'] });
    const { code, verifier } = await authorizeWithPKCE(space);
    expect((await exchange(space, code, verifier, {}, basic('other', 'other-secret'))).json.error).toBe('invalid_grant');
  });

  test('unknown grant types are unsupported_grant_type; non-form bodies are invalid_request', async () => {
    await start();
    expect((await tokenRequest(space, { grant_type: 'password', username: 'john.doe', password: 'x' })).json.error).toBe('unsupported_grant_type');
    const json = await tokenRequest(space, {}, { contentType: 'application/json', rawBody: '{"grant_type":"authorization_code"' });
    expect(json.status).toBe(400);
    expect(json.json.error).toBe('invalid_request');
    expect((await tokenRequest(space, {}, { rawBody: 'grant_type=refresh_token&grant_type=authorization_code' })).json.error).toBe('invalid_request');
    expect((await tokenRequest(space, {}, { rawBody: 'grant_type=%ZZ' })).json.error).toBe('invalid_request');
  });

  test('error descriptions never echo the code, verifier or secret', async () => {
    await start();
    const { code } = await authorizeWithPKCE(space);
    const verifier = pkce().verifier;
    const answers = [
      await exchange(space, code, verifier),
      await exchange(space, code, verifier),
      await exchange(space, 'made-up-code', verifier),
      await exchange(space, code, verifier, {}, basic(CLIENT_ID, 'wrong-secret-canary')),
    ];
    for (const { json } of answers) {
      const text = JSON.stringify(json);
      for (const secret of [code, verifier, 'made-up-code', 'wrong-secret-canary', CLIENT_SECRET]) expect(text).not.toContain(secret);
    }
  });
});

describe('client authentication', () => {
  test('no client authentication, or a wrong secret, is 401 invalid_client with WWW-Authenticate', async () => {
    await start();
    for (const auth of [null, basic(CLIENT_ID, 'wrong'), basic('unknown', CLIENT_SECRET), 'Bearer abc', 'Basic %%%']) {
      const { code, verifier } = await authorizeWithPKCE(space);
      const answer = await exchange(space, code, verifier, {}, auth);
      expect(answer.status).toBe(401);
      expect(answer.json.error).toBe('invalid_client');
      expect(answer.headers.get('www-authenticate')).toBe('Basic realm="Space"');
    }
  });

  test('Basic credentials are form-url-decoded after base64 (RFC 6749 §2.3.1)', async () => {
    await start({ clients: [{ clientID: 'id:with space', clientSecret: 'p@ss:w%rd+', redirectURIs: ['*'] }] });
    const { code, verifier } = await authorizeWithPKCE(space, { client_id: 'id:with space' });
    expect((await exchange(space, code, verifier, {}, basic('id:with space', 'p@ss:w%rd+'))).status).toBe(200);
  });

  test('body-only client credentials are rejected by default and accepted with acceptClientSecretPost', async () => {
    await start();
    let { code, verifier } = await authorizeWithPKCE(space);
    const creds = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET };
    const rejected = await exchange(space, code, verifier, creds, null);
    expect(rejected.status).toBe(401);
    expect(rejected.json.error).toBe('invalid_client');
    await space.close();

    await start({ acceptClientSecretPost: true });
    ({ code, verifier } = await authorizeWithPKCE(space));
    expect((await exchange(space, code, verifier, creds, null)).status).toBe(200);
  });

  test('Basic and a body secret together are invalid_request (more than one method)', async () => {
    await start({ acceptClientSecretPost: true });
    const { code, verifier } = await authorizeWithPKCE(space);
    const answer = await exchange(space, code, verifier, { client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
    expect(answer.json.error_description).toMatch(/more than one client authentication method/);
  });

  test('a public client authenticates with client_id in the body and must use PKCE', async () => {
    await start({ clients: [{ clientID: 'spa', redirectURIs: ['*'] }] });
    const noPkce = await authorize(space, { client_id: 'spa' });
    expect(noPkce.searchParams.get('error')).toBe('invalid_request');
    const { code, verifier } = await authorizeWithPKCE(space, { client_id: 'spa' });
    expect((await exchange(space, code, verifier, { client_id: 'spa' }, null)).status).toBe(200);
  });
});
