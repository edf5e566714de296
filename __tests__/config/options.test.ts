import { SpaceBearerStrategy, SpaceStrategy, spaceAppClient } from 'passport-jetbrains-space';

const valid = { spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', callbackURL: '/auth/space/callback' };
const verify = (_a: string, _r: string | undefined, p: { id: string }, done: (e: null, u: object) => void) => done(null, p);
const build = (options: unknown, v: unknown = verify) => () => new SpaceStrategy(options as never, v as never);

describe('SpaceStrategy options', () => {
  test('is named "space" and normalizes the Space URL', () => {
    const strategy = new SpaceStrategy({ ...valid, spaceURL: 'https://acme.jetbrains.space/' }, verify);
    expect(strategy.name).toBe('space');
    expect(strategy.spaceURL).toBe('https://acme.jetbrains.space');
    expect(strategy.settings).toMatchObject({ scope: 'global:Profile.View', accessType: 'offline', timeout: 10000, sessionKey: 'space' });
  });

  test('accepts scope as an array or a space-separated string', () => {
    expect(new SpaceStrategy({ ...valid, scope: ['global:Profile.View', 'global:Project.View'] }, verify).settings.scope)
      .toBe('global:Profile.View global:Project.View');
    expect(new SpaceStrategy({ ...valid, scope: ' **  ' }, verify).settings.scope).toBe('**');
  });

  test.each([
    [{ ...valid, spaceURL: undefined }, 'SpaceStrategy requires a "spaceURL" option, e.g. https://acme.jetbrains.space'],
    [{ ...valid, spaceURL: 'acme.jetbrains.space' }, '"spaceURL" must be an absolute http(s) URL'],
    [{ ...valid, spaceURL: 'ftp://acme.jetbrains.space' }, '"spaceURL" must be an http(s) URL with no query'],
    [{ ...valid, spaceURL: 'https://acme.jetbrains.space/?org=1' }, '"spaceURL" must be an http(s) URL with no query'],
    [{ ...valid, spaceURL: 'https://acme.jetbrains.space/p/acme' }, 'SpaceStrategy option "spaceURL" must be your organization\'s address without a path: use "https://acme.jetbrains.space" (got "https://acme.jetbrains.space/p/acme"'],
    [{ ...valid, clientID: '' }, 'SpaceStrategy requires a "clientID" option'],
    [{ ...valid, clientSecret: undefined }, 'SpaceStrategy requires a "clientSecret" option'],
    [{ ...valid, callbackURL: undefined }, 'SpaceStrategy requires a "callbackURL" option'],
    [{ ...valid, callbackURL: 'auth/callback' }, '"callbackURL" must be an absolute http(s) URL or a path starting with "/"'],
    [{ ...valid, callbackURL: '//evil.example/cb' }, '"callbackURL" must be an absolute http(s) URL'],
    [{ ...valid, scope: [] }, '"scope" must be a non-empty string or array of strings'],
    [{ ...valid, scope: 42 }, '"scope" must be a non-empty string or array of strings'],
    [{ ...valid, timeout: 0 }, 'option "timeout" must be an integer >= 1, got 0'],
    [{ ...valid, timeout: '10s' }, 'option "timeout" must be an integer >= 1, got "10s"'],
    [{ ...valid, accessType: 'forever' }, 'option "accessType" must be one of "offline", "online", got "forever"'],
    [{ ...valid, requestCredentials: 'never' }, 'option "requestCredentials" must be one of'],
    [{ ...valid, state: false }, 'option "state" is not supported: state and PKCE (S256) are always on'],
    [{ ...valid, pkce: 'plain' }, 'option "pkce" is not supported'],
    [{ ...valid, store: {} }, 'option "store" is not supported'],
    [{ ...valid, passReqToCallback: 'yes' }, 'option "passReqToCallback" must be a boolean'],
    [undefined, 'SpaceStrategy requires an options object'],
  ])('throws a TypeError naming the option (%#)', (options, message) => {
    expect(build(options)).toThrow(TypeError);
    expect(build(options)).toThrow(message);
  });

  test('a spaceURL with a path (copied from a page of Space) is refused by every part that takes one, naming the origin to use', () => {
    const paged = 'https://acme.jetbrains.space/p/acme/documents';
    const hint = 'must be your organization\'s address without a path: use "https://acme.jetbrains.space"';
    expect(() => new SpaceBearerStrategy({ spaceURL: paged })).toThrow(`SpaceBearerStrategy option "spaceURL" ${hint}`);
    expect(() => spaceAppClient({ spaceURL: paged, clientID: 'id', clientSecret: 'secret' })).toThrow(`spaceAppClient option "spaceURL" ${hint}`);
    // A trailing slash is not a path.
    expect(new SpaceBearerStrategy({ spaceURL: 'https://acme.jetbrains.space/' }).spaceURL).toBe('https://acme.jetbrains.space');
  });

  test('throws a TypeError without a verify callback', () => {
    expect(build(valid, null)).toThrow('SpaceStrategy requires a verify callback');
  });

  test('never leaks the client secret in an option error', () => {
    try {
      new SpaceStrategy({ ...valid, clientSecret: 'canary-secret-1', spaceURL: 'nope' } as never, verify);
    } catch (err) {
      expect(String(err)).not.toContain('canary-secret-1');
    }
  });
});
