/**
 * The emulated Space HTTP API: profile with `$fields`, organization, avatars, bearer checks,
 * error shapes, and robustness against bad input.
 */
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { api, PROFILE, signIn, startsEmulatorPerTest } from '../../__tests__/helpers/emulator';

let space: SpaceEmulator;
const start = startsEmulatorPerTest((started) => { space = started; });

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as unknown });
const AUTH_REQUIRED = { status: 401, body: { error: 'authentication-required', error_description: 'Authentication required' } };

describe('bearer authentication', () => {
  test('a missing, malformed or foreign token is 401 authentication-required', async () => {
    await start();
    const other = await startSpaceEmulator({ port: 0, autoApprove: 'john.doe' });
    try {
      const foreign = (await signIn(other)).access_token;
      expect(await json(await api(space, PROFILE))).toEqual(AUTH_REQUIRED);
      expect(await json(await api(space, PROFILE, 'not.a.jwt'))).toEqual(AUTH_REQUIRED);
      expect(await json(await api(space, PROFILE, foreign))).toEqual(AUTH_REQUIRED);
      const basicAuth = await api(space, PROFILE, undefined, { headers: { Authorization: 'Basic abc' } });
      expect(await json(basicAuth)).toEqual(AUTH_REQUIRED);
    } finally {
      await other.close();
    }
  });

  test('a token with a tampered payload is rejected', async () => {
    await start();
    const [h, p, s] = (await signIn(space)).access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: '3bTgo35Ky7v' })).toString('base64url');
    expect(await json(await api(space, PROFILE, `${h}.${forged}.${s}`))).toEqual(AUTH_REQUIRED);
  });

  test('an access_token query parameter is ignored (Bearer header only) and noted', async () => {
    await start();
    const { access_token } = await signIn(space);
    expect((await api(space, `${PROFILE}?access_token=${access_token}`)).status).toBe(401);
    expect(space.requests.at(-1)?.warnings).toContain('access_token query parameter ignored: Space reads the Authorization header');
  });
});

describe('GET /api/http/team-directory/profiles/me', () => {
  test('without $fields it returns the top-level TD_MemberProfile properties', async () => {
    await start();
    const { body } = await json(await api(space, PROFILE, (await signIn(space)).access_token));
    expect(body).toEqual({
      id: '2asfen24Jx6u', username: 'john.doe', name: { firstName: 'John', lastName: 'Doe' },
      speaksEnglish: true, smallAvatar: 'vYK0b1Qisdf2C', avatar: '40uDKb4RHdsst', profilePicture: '3xUq0n1Qd9xY',
      about: 'Test user of the Space emulator.', archived: false, notAMember: false, joined: null, externalId: null,
      languages: [], emails: [{ id: expect.any(String), email: 'john.doe@example.com', verified: true }],
    });
  });

  test('listsWithoutFields: false leaves emails and languages out unless asked for', async () => {
    await start({ listsWithoutFields: false });
    const token = (await signIn(space)).access_token;
    const { body } = await json(await api(space, PROFILE, token));
    expect(body).not.toHaveProperty('emails');
    expect(body).not.toHaveProperty('languages');
    expect((await json(await api(space, `${PROFILE}?$fields=emails(email)`, token))).body).toEqual({ emails: [{ email: 'john.doe@example.com' }] });
  });

  test('$fields as JetBrains\' ASP.NET handler sends it', async () => {
    await start({ users: [{ id: 'u1', username: 'solo', firstName: 'Solo', lastName: 'User' }], autoApprove: 'solo' });
    const fields = 'id,username,emails(email),name(firstName,lastName),profilePicture,smallAvatar,avatar';
    const { body } = await json(await api(space, `${PROFILE}?$fields=${encodeURIComponent(fields)}`, (await signIn(space)).access_token));
    expect(body).toEqual({
      id: 'u1', username: 'solo', emails: [], name: { firstName: 'Solo', lastName: 'User' }, profilePicture: null, smallAvatar: null, avatar: null,
    });
  });

  test('$fields=* gives the scalar fields; nested selections add objects', async () => {
    await start();
    const token = (await signIn(space)).access_token;
    const star = (await json(await api(space, `${PROFILE}?$fields=*`, token))).body as Record<string, unknown>;
    expect(star).toHaveProperty('username', 'john.doe');
    expect(star).not.toHaveProperty('name');
    expect(star).not.toHaveProperty('emails');
    const mixed = (await json(await api(space, `${PROFILE}?$fields=${encodeURIComponent('*, name( firstName )')}`, token))).body;
    expect(mixed).toMatchObject({ id: '2asfen24Jx6u', name: { firstName: 'John' } });
  });

  test.each([
    ['an unknown field', 'id,nope'],
    ['unbalanced parentheses', 'name(firstName'],
    ['an empty selection', ''],
    ['a trailing comma', 'id,'],
    ['a nested selection on a scalar', 'id(x)'],
  ])('$fields with %s is 400 validation-error', async (_name, fields) => {
    await start();
    const res = await api(space, `${PROFILE}?$fields=${encodeURIComponent(fields)}`, (await signIn(space)).access_token);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'validation-error', error_description: expect.any(String) });
  });

  test('a repeated $fields or bad percent-encoding is 400 validation-error', async () => {
    await start();
    const token = (await signIn(space)).access_token;
    expect((await api(space, `${PROFILE}?$fields=id&$fields=username`, token)).status).toBe(400);
    expect((await api(space, `${PROFILE}?$fields=%E0%A4%A`, token)).status).toBe(400);
  });

  test('a token without global:Profile.View is 403 permission-denied; ** is enough', async () => {
    await start();
    const narrow = await signIn(space, { scope: 'global:Project.View' });
    const denied = await json(await api(space, PROFILE, narrow.access_token));
    expect(denied).toEqual({ status: 403, body: { error: 'permission-denied', error_description: expect.any(String) } });
    const all = await signIn(space, { scope: '**' });
    expect((await api(space, PROFILE, all.access_token)).status).toBe(200);
  });

  test('profileScopes decides which scope elements may read the profile', async () => {
    await start({ profileScopes: ['global:Profile.View', 'global:Profile.View.Basic'] });
    const basicOnly = await signIn(space, { scope: 'global:Profile.View.Basic' });
    expect((await api(space, PROFILE, basicOnly.access_token)).status).toBe(200);
  });
});

describe('GET /api/http/organization', () => {
  test('returns the organization record, projected by $fields', async () => {
    await start({ organization: { name: 'Initech', slogan: 'TPS reports' } });
    const token = (await signIn(space)).access_token;
    const full = (await json(await api(space, '/api/http/organization', token))).body;
    expect(full).toEqual({ id: expect.any(String), orgId: expect.any(String), name: 'Initech', slogan: 'TPS reports', logoId: null });
    const some = await json(await api(space, '/api/http/organization?$fields=name,slogan', token));
    expect(some).toEqual({ status: 200, body: { name: 'Initech', slogan: 'TPS reports' } });
    expect(await json(await api(space, '/api/http/organization'))).toEqual(AUTH_REQUIRED);
  });

  test('organizationScopes can require a permission', async () => {
    await start({ organizationScopes: ['global:Organization.ViewOrganizationInfo'] });
    expect((await api(space, '/api/http/organization', (await signIn(space)).access_token)).status).toBe(403);
  });
});

describe('GET /d/<id> (avatars)', () => {
  test('needs a bearer token, serves an SVG for each avatar id of a user, and 404 for others', async () => {
    await start();
    expect(await json(await api(space, '/d/40uDKb4RHdsst'))).toEqual(AUTH_REQUIRED);
    const token = (await signIn(space)).access_token;
    for (const id of ['40uDKb4RHdsst', 'vYK0b1Qisdf2C', '3xUq0n1Qd9xY']) {
      const res = await api(space, `/d/${id}`, token);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/svg+xml');
      const svg = await res.text();
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(svg).toContain('>JD<');
      expect(svg).not.toMatch(/<script/i);
    }
    const missing = await json(await api(space, '/d/unknown', token));
    expect(missing).toEqual({ status: 404, body: { error: 'not-found', error_description: expect.any(String) } });
  });

  test('colours differ between attachment ids', async () => {
    await start();
    const token = (await signIn(space)).access_token;
    const fill = async (id: string) => /fill="(hsl[^"]+)"/.exec(await (await api(space, `/d/${id}`, token)).text())?.[1];
    expect(await fill('40uDKb4RHdsst')).not.toBe(await fill('vYK0b1Qisdf2C'));
  });
});

describe('robustness', () => {
  test('unknown paths are 404 not-found; wrong methods are 405 with Allow', async () => {
    await start();
    expect(await json(await api(space, '/api/http/nope'))).toEqual({ status: 404, body: { error: 'not-found', error_description: expect.any(String) } });
    expect((await api(space, `${PROFILE}/`)).status).toBe(404);
    const wrong = await fetch(`${space.url}/oauth/token`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  test('a body over 64 KB is 413 and the server keeps serving', async () => {
    await start();
    const res = await fetch(`${space.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${'x'.repeat(70 * 1024)}`,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: 'payload-too-large', error_description: expect.any(String) });
    expect((await api(space, '/oauth/jwks.json')).status).toBe(200);
  });

  test('garbage bodies and headers never crash the server', async () => {
    await start();
    const bodies = ['%', '&&&==&', '\u0000\uffff', '{"__proto__":{"x":1}}', '__proto__[x]=1&constructor=2'];
    for (const body of bodies) {
      for (const type of ['application/x-www-form-urlencoded', 'application/json', 'text/plain']) {
        const res = await fetch(`${space.url}/oauth/token`, { method: 'POST', headers: { 'Content-Type': type, Authorization: 'Basic ::::' }, body });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect((await api(space, '/oauth/jwks.json')).status).toBe(200);
  });
});
