/**
 * The public surface of `passport-jetbrains-space/emulator`: exported names, and option checks
 * that fail early with a TypeError naming the option.
 */
import { get } from 'node:https';
import * as emulator from 'passport-jetbrains-space/emulator';
import { startSpaceEmulator, type SpaceEmulatorOptions } from 'passport-jetbrains-space/emulator';
import { selfSignedCertificate } from '../../__tests__/helpers/tls';

test('the emulator entry exports exactly its public names', () => {
  expect(Object.keys(emulator).sort()).toEqual(['DEFAULT_CLIENT_ID', 'DEFAULT_CLIENT_SECRET', 'startSpaceEmulator']);
});

test('the emulator has the documented members', async () => {
  const space = await startSpaceEmulator();
  try {
    expect(space.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(space.port).toBe(Number(new URL(space.url).port));
    expect(space.users.map((u) => u.username)).toEqual(['john.doe', 'jane.roe']);
    expect(space.requests).toEqual([]);
    expect(space.refreshTokenReuseCount).toBe(0);
  } finally {
    await space.close();
  }
});

describe('bad options throw a TypeError that names the option', () => {
  test.each<[string, SpaceEmulatorOptions, RegExp]>([
    ['port', { port: -1 }, /"port"/],
    ['port', { port: 1.5 }, /"port"/],
    ['clients', { clients: [] }, /"clients"/],
    ['clients[].redirectURIs', { clients: [{ clientID: 'a', redirectURIs: ['not a url'] }] }, /redirectURIs/],
    ['clients[].redirectURIs', { clients: [{ clientID: 'a', redirectURIs: ['https://x.example/cb#frag'] }] }, /redirectURIs/],
    ['clients (duplicate ids)', { clients: [{ clientID: 'a', redirectURIs: ['*'] }, { clientID: 'a', redirectURIs: ['*'] }] }, /unique/],
    ['users (duplicate usernames)', { users: [{ id: '1', username: 'x', firstName: 'a', lastName: 'b' }, { id: '2', username: 'x', firstName: 'a', lastName: 'b' }] }, /unique/],
    ['accessTokenTTL', { accessTokenTTL: 0 }, /"accessTokenTTL"/],
    ['codeTTL', { codeTTL: Number.NaN }, /"codeTTL"/],
    ['autoApprove', { autoApprove: 'ghost' }, /"autoApprove"/],
    ['autoApprove (a list)', { autoApprove: ['john.doe', 'ghost'] }, /"autoApprove"/],
    ['autoApprove (an empty list)', { autoApprove: [] }, /"autoApprove"/],
    ['rotateRefreshTokens', { rotateRefreshTokens: 'yes' as unknown as boolean }, /"rotateRefreshTokens"/],
  ])('%s', async (_name, options, message) => {
    await expect(startSpaceEmulator(options)).rejects.toThrow(TypeError);
    await expect(startSpaceEmulator(options)).rejects.toThrow(message);
  });

  test('addClient refuses a duplicate id', async () => {
    const space = await startSpaceEmulator();
    try {
      expect(() => space.addClient({ clientID: 'space-emulator-client', redirectURIs: ['*'] })).toThrow(TypeError);
    } finally {
      await space.close();
    }
  });
});

test('the tls option serves HTTPS, trusted only with the certificate given as CA', async () => {
  const tls = selfSignedCertificate();
  const space = await startSpaceEmulator({ tls });
  const fetchJwks = (ca?: string) =>
    new Promise<number>((resolve, reject) => {
      get(`${space.url}/oauth/jwks.json`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
  try {
    expect(space.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await expect(fetchJwks()).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(await fetchJwks(tls.cert)).toBe(200);
  } finally {
    await space.close();
  }
});
