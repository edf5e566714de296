/**
 * Default data of the Space emulator: one confidential client and two users.
 *
 * The values are dummies that only mean something to the emulator, so the CLI may print them.
 * The avatar ids look like Space attachment ids (short opaque strings, docs/space-api.md#profile) and are
 * served as generated SVGs at `/d/<id>` (docs/space-api.md#avatars).
 */
import type { SpaceEmulatorClient, SpaceEmulatorUser } from './members.js';

/** Client id of the default client. */
export const DEFAULT_CLIENT_ID = 'space-emulator-client';

/** Client secret of the default client. A dummy: printing it is intended. */
export const DEFAULT_CLIENT_SECRET = 'space-emulator-secret';

/**
 * Redirect URI pattern that matches any `http(s)://localhost` or `http(s)://127.0.0.1` URI
 * (any port and path). Real Space matches registered URIs exactly; this wildcard exists so that
 * tests on random ports need no setup.
 */
export const ANY_LOCAL_REDIRECT_URI = '*';

/** The client used when `clients` is not given. */
export function defaultClients(): SpaceEmulatorClient[] {
  return [
    {
      clientID: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      redirectURIs: [ANY_LOCAL_REDIRECT_URI],
    },
  ];
}

/**
 * The users used when `users` is not given: John Doe has everything a full profile can have
 * (verified email, three avatar ids, an "about" text); Jane Roe has an unverified email and no
 * pictures, which exercises the null paths of a profile mapper.
 */
export function defaultUsers(): SpaceEmulatorUser[] {
  return [
    {
      id: '2asfen24Jx6u',
      username: 'john.doe',
      firstName: 'John',
      lastName: 'Doe',
      emails: [{ email: 'john.doe@example.com', verified: true }],
      avatar: '40uDKb4RHdsst',
      smallAvatar: 'vYK0b1Qisdf2C',
      profilePicture: '3xUq0n1Qd9xY',
      about: 'Test user of the Space emulator.',
    },
    {
      id: '3bTgo35Ky7v',
      username: 'jane.roe',
      firstName: 'Jane',
      lastName: 'Roe',
      emails: [{ email: 'jane.roe@example.com', verified: false }],
      avatar: null,
      smallAvatar: null,
      profilePicture: null,
      about: null,
    },
  ];
}

/** The organization used when `organization` is not given. */
export const DEFAULT_ORGANIZATION: Readonly<{ name: string; slogan?: string }> = { name: 'Acme Corp' };

/** Default `expires_in` of access tokens, in seconds. Space's real value is unknown (docs/space-api.md#token-response). */
export const DEFAULT_ACCESS_TOKEN_TTL = 600;

/**
 * Default lifetime of authorization codes, in seconds. Space's is unknown (docs/space-api.md#authorization-endpoint); the
 * test catalog (SECURITY.md) asks for 60 s.
 */
export const DEFAULT_CODE_TTL = 60;

/** Largest request body the emulator reads (token requests are a few hundred bytes). */
export const MAX_BODY_BYTES = 64 * 1024;
