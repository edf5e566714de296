import { toSpaceProfile } from '../../lib/space/profile';
import { isFresh, mergeRenewed, type StoredTokenSet } from '../../lib/tokens/token-set';
import { parseTokenResponse } from '../../lib/space/token-answer';
import { safeReturnTo } from '../../lib/web/return-to';

const S = 'https://acme.jetbrains.space';

describe('toSpaceProfile', () => {
  test('maps a full Space profile', () => {
    const json = {
      id: '2asfen24Jx6u', username: 'John.Doe', name: { firstName: 'John', lastName: 'Doe' },
      emails: [{ email: 'john@example.com', verified: true }, { email: 'jd@example.com' }],
      avatar: 'av1', smallAvatar: 'av2', profilePicture: 'pic',
    };
    const profile = toSpaceProfile(json, JSON.stringify(json), S);
    expect(profile).toEqual({
      provider: 'space', id: '2asfen24Jx6u', username: 'John.Doe', displayName: 'John Doe',
      name: { givenName: 'John', familyName: 'Doe' },
      emails: [{ value: 'john@example.com', verified: true }, { value: 'jd@example.com', verified: false }],
      photos: [{ value: `${S}/d/pic` }, { value: `${S}/d/av1` }, { value: `${S}/d/av2` }],
    });
    if (typeof profile === 'string') throw new Error(profile);
    // Space's answer is there for the verify callback, but never goes into a session.
    expect(profile._raw).toBe(JSON.stringify(json));
    expect(profile._json).toEqual(json);
    expect(Object.keys(profile)).not.toContain('_raw');
    expect(JSON.stringify(profile)).not.toContain('_json');
  });

  test('falls back to the username when there is no name, and tolerates missing lists', () => {
    const profile = toSpaceProfile({ id: 'x', username: 'bot' }, '{}', S);
    expect(profile).toMatchObject({ displayName: 'bot', emails: [], photos: [], name: { givenName: '', familyName: '' } });
  });

  test.each([[null], [[]], ['text'], [{ username: 'no-id' }], [{ id: 42 }]])('refuses %j', (json) => {
    expect(typeof toSpaceProfile(json, '', S)).toBe('string');
  });

  test('caps hostile content and keeps avatar ids URL-safe', () => {
    const profile = toSpaceProfile({
      id: 'x', username: 'u'.repeat(10_000), name: { firstName: '<img src=x onerror=alert(1)>' },
      emails: Array.from({ length: 10_000 }, (_, i) => ({ email: `e${i}@x` })), avatar: '../../etc/passwd',
    }, '', S);
    if (typeof profile === 'string') throw new Error(profile);
    expect(profile.username).toHaveLength(256);
    expect(profile.emails).toHaveLength(50);
    expect(profile.photos).toEqual([]);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});

describe('parseTokenResponse', () => {
  const now = 1_000_000;
  test.each([
    [{ access_token: 'a', token_type: 'BEARER', expires_in: 600 }, { accessToken: 'a', tokenType: 'Bearer', expiresAt: now + 600_000 }],
    [{ access_token: 'a', expires_in: '3600' }, { accessToken: 'a', tokenType: 'Bearer', expiresAt: now + 3_600_000 }],
    [{ access_token: 'a', refresh_token: 'r', scope: 's t' }, { accessToken: 'a', refreshToken: 'r', scope: 's t', expiresAt: now + 600_000 }],
  ])('accepts %j', (body, expected) => {
    const parsed = parseTokenResponse(body, now);
    expect(parsed.ok && parsed.tokens).toMatchObject(expected);
  });

  test.each([
    [{}], [{ access_token: 123 }], [{ access_token: 'a', token_type: 'mac' }], [{ access_token: 'a', expires_in: Number.NaN }],
    [{ access_token: 'a', expires_in: 1e308 }], [{ access_token: 'a', expires_in: 'soon' }], [{ access_token: 'a', refresh_token: 5 }], [null], [[]],
  ])('refuses %j', (body) => {
    expect(parseTokenResponse(body, now).ok).toBe(false);
  });
});

describe('token renewal helpers', () => {
  const old: StoredTokenSet = { accessToken: 'a1', refreshToken: 'r1', expiresAt: 10, issuedAt: 0, scope: 's', tokenType: 'Bearer', grant: 'g', version: 3 };
  test('keeps the old refresh token and scope when the answer has none, and bumps the version', () => {
    expect(mergeRenewed(old, { accessToken: 'a2', expiresAt: 99, tokenType: 'Bearer' }, 50))
      .toEqual({ accessToken: 'a2', refreshToken: 'r1', expiresAt: 99, issuedAt: 50, scope: 's', tokenType: 'Bearer', grant: 'g', version: 4 });
  });
  test('takes a rotated refresh token', () => {
    expect(mergeRenewed(old, { accessToken: 'a2', refreshToken: 'r2', expiresAt: 99, tokenType: 'Bearer' }, 50).refreshToken).toBe('r2');
  });
  test('caps the skew at half the lifetime so short tokens are not renewed on every request', () => {
    expect(isFresh({ issuedAt: 0, expiresAt: 30_000 }, 60_000, 10_000)).toBe(true);
    expect(isFresh({ issuedAt: 0, expiresAt: 30_000 }, 60_000, 16_000)).toBe(false);
    expect(isFresh({ issuedAt: 0, expiresAt: 600_000 }, 60_000, 539_000)).toBe(true);
    expect(isFresh({ issuedAt: 0, expiresAt: 600_000 }, 60_000, 541_000)).toBe(false);
  });
});

describe('safeReturnTo', () => {
  test.each([
    ['/dashboard', '/dashboard'], ['/reports?year=2026&q=a%20b', '/reports?year=2026&q=a%20b'], ['/a/../b', '/b'], ['/é', '/%C3%A9'],
  ])('keeps the local path %s', (input, output) => {
    expect(safeReturnTo(input)).toBe(output);
  });

  const payloads = [
    '//evil.example', '///evil.example', '/\\evil.example', '\\/evil.example', 'https://evil.example', 'http:evil.example',
    'https://app.example@evil.example', 'javascript:alert(1)', 'data:text/html,x', '／／evil.example', '/\t/evil.example',
    '/\n/evil.example', '/ok\r\nSet-Cookie: x=y', `/${'a'.repeat(5000)}`, '', 'evil.example', ' //evil.example',
  ];
  test.each(payloads)('refuses %j or turns it into a local path', (payload) => {
    const result = safeReturnTo(payload);
    if (result !== undefined) {
      expect(result).toMatch(/^\/[^/\\]/);
      expect(new URL(result, 'https://app.example').origin).toBe('https://app.example');
    }
  });
  test.each(['/%2F%2Fevil.example', '/%5Cevil.example', '/%09/evil.example'])('keeps encoded %s as a local path', (payload) => {
    const result = safeReturnTo(payload)!;
    expect(new URL(result, 'https://app.example').origin).toBe('https://app.example');
  });
});
