/**
 * The emulator's controls for Space's other doors: permanent tokens, signing-key rotation, and
 * requests that Space sends to an application's endpoint, signed the way Space signs them.
 *
 * Signed string and algorithms (docs/space-doors.md): `X-Space-Timestamp` is epoch milliseconds;
 * `X-Space-Public-Key-Signature` is base64 RSA PKCS#1 v1.5 SHA-512 over `<timestamp>:<body>`;
 * `X-Space-Signature` is lowercase hex HMAC-SHA256 with the endpoint signing key over the same
 * string; the legacy method puts `verificationToken` in the JSON body instead.
 */
import { createHmac, sign } from 'node:crypto';
import { appSecrets, rotateAppKey } from './app-keys.js';
import type { EmulatorState } from './context.js';
import { randomToken } from './grants.js';
import { decodeJwtPayload } from './jwt.js';
import { findUser } from './options.js';

/** How `sendToApp` proves the request comes from Space. */
export type SpaceEmulatorSendMethod = 'public-key' | 'signing-key' | 'verification-token';

/** Options of `sendToApp`. */
export interface SpaceEmulatorSendOptions {
  /** Default `'public-key'`. */
  method?: SpaceEmulatorSendMethod;
  /** The application whose keys sign the request; default the first registered client. */
  clientId?: string;
  /** `X-Space-Timestamp` (epoch ms); default the emulator clock (see `setClockOffset`). */
  timestamp?: number;
  /** Exact body bytes to send (and sign) instead of `JSON.stringify(payload)`. */
  body?: string;
  /** Spoil the request after signing: change the body, the signature, or the timestamp header. */
  tamper?: 'body' | 'signature' | 'timestamp';
  /** Send neither a signature header nor a verification token. */
  unsigned?: boolean;
  /** More request headers (they win over the defaults). */
  headers?: Record<string, string>;
  /** Milliseconds to wait for the app; default 10000. */
  timeout?: number;
}

/** The app's answer to `sendToApp`, and what was sent (to replay it). */
export interface SpaceEmulatorAppAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  sent: { url: string; headers: Record<string, string>; body: string };
}

/** Options of `mintPersonalToken` / `mintApplicationToken`. */
export interface SpaceEmulatorPermanentTokenOptions {
  /** Seconds until `exp`; without it the token has no `exp` (Space's personal tokens never expire). */
  expiresIn?: number;
  /** Granted scope; default `**`. */
  scope?: string;
}

/** The part of `SpaceEmulator` defined here. */
export interface SpaceEmulatorDoors {
  /** A new key signs access tokens from now on; the old one stays listed in the JWKS unless `dropOld`. */
  rotateSigningKey(options?: { dropOld?: boolean }): Promise<void>;
  /** Stops listing (and accepting) every signing key but the current one. */
  dropOldSigningKeys(): void;
  /** Signs arbitrary claims with the current key (for tests of token validators: foreign org, expired...). */
  signJwt(claims: Record<string, unknown>): string;
  /** A personal permanent token of a member: RS512 JWT with `perm_token`, `exp` only with `expiresIn`. */
  mintPersonalToken(usernameOrId: string, options?: SpaceEmulatorPermanentTokenOptions): string;
  /** An application permanent token (`sub` = `aud` = client id, `principal_type: 'SERVICE'`). */
  mintApplicationToken(clientId: string, options?: SpaceEmulatorPermanentTokenOptions): string;
  /** Revokes a permanent token: the API answers it 401 `authentication-required` from now on. */
  revokePermanentToken(token: string): void;
  /** The application's endpoint signing key (HMAC), 64 hex characters. */
  signingKey(clientId?: string): string;
  /** The application's legacy verification token, 64 hex characters. */
  verificationToken(clientId?: string): string;
  /** A new key signs requests to the app; the old one stays in `public-keys` unless `dropOld`. */
  rotateAppPublicKey(clientId?: string, options?: { dropOld?: boolean }): Promise<void>;
  /** POSTs `payload` as JSON to the app's endpoint, signed as Space signs it. */
  sendToApp(url: string, payload: unknown, options?: SpaceEmulatorSendOptions): Promise<SpaceEmulatorAppAnswer>;
}

function seconds(value: unknown, caller: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`${caller}: "expiresIn" must be a positive number of seconds`);
  return value;
}

/** Spoils a signed body in a way that still parses as JSON, so only the signature can catch it. */
function tamperBody(body: string): string {
  return body.endsWith('}') ? `${body.slice(0, -1)}${body.length > 2 ? ',' : ''}"tampered":true}` : `${body} `;
}

/** The methods above, bound to one emulator's state. */
export function doorsAPI(state: EmulatorState): SpaceEmulatorDoors {
  const firstClient = (): string => state.clients.keys().next().value ?? '';

  function mint(caller: string, fields: { sub: string; aud: string; name: string; principal: 'USER' | 'SERVICE'; userID: string; clientID: string }, options: SpaceEmulatorPermanentTokenOptions = {}): string {
    const expiresIn = seconds(options.expiresIn, caller);
    const scope = options.scope ?? '**';
    const grant = state.store.createTokenGrant({ clientID: fields.clientID, userID: fields.userID, scope, principal: fields.principal, permanent: true });
    const now = state.now();
    const claims: Record<string, unknown> = {
      sub: fields.sub, aud: fields.aud, orgDomain: state.options.orgDomain, name: fields.name, iss: state.url,
      perm_token: grant.id, principal_type: fields.principal, iat: Math.floor(now / 1000),
    };
    if (expiresIn !== undefined) claims.exp = Math.ceil((now + expiresIn * 1000) / 1000);
    return state.signer.sign(claims);
  }

  return {
    async rotateSigningKey(options = {}) {
      await state.signer.rotate();
      if (options.dropOld) state.signer.dropOld();
    },
    dropOldSigningKeys: () => state.signer.dropOld(),
    signJwt: (claims) => state.signer.sign({ ...claims }),
    mintPersonalToken(usernameOrId, options) {
      const user = typeof usernameOrId === 'string' ? findUser(state.users, usernameOrId) : undefined;
      if (!user) throw new TypeError(`mintPersonalToken: no user with id or username "${String(usernameOrId)}"`);
      // Space's own web UI ("circlet-web-ui") is the audience of personal tokens.
      return mint('mintPersonalToken', { sub: user.id, aud: 'circlet-web-ui', name: user.username, principal: 'USER', userID: user.id, clientID: 'circlet-web-ui' }, options);
    },
    mintApplicationToken(clientId, options) {
      const client = state.clients.get(clientId);
      if (!client) throw new TypeError(`mintApplicationToken: no application with client id "${clientId}"`);
      return mint('mintApplicationToken', { sub: clientId, aud: clientId, name: client.name ?? clientId, principal: 'SERVICE', userID: '', clientID: clientId }, options);
    },
    revokePermanentToken(token) {
      const id = typeof token === 'string' ? decodeJwtPayload(token)?.perm_token : undefined;
      const grant = typeof id === 'string' ? state.store.grant(id) : undefined;
      if (!grant?.permanent) throw new TypeError('revokePermanentToken: not a permanent token of this emulator');
      state.store.revokeGrant(grant.id);
    },
    signingKey: (clientId = firstClient()) => appSecrets(state, clientId, 'signingKey').signingKey,
    verificationToken: (clientId = firstClient()) => appSecrets(state, clientId, 'verificationToken').verificationToken,
    rotateAppPublicKey: (clientId = firstClient(), options = {}) => rotateAppKey(state, clientId, options.dropOld === true),

    async sendToApp(url, payload, options = {}) {
      const method = options.method ?? 'public-key';
      const clientId = options.clientId ?? firstClient();
      const secrets = appSecrets(state, clientId, 'sendToApp');
      const timestamp = String(options.timestamp ?? state.now());
      let body = options.body ?? JSON.stringify(
        method === 'verification-token' && !options.unsigned ? { ...(payload as object), verificationToken: secrets.verificationToken } : payload,
      );
      const headers: Record<string, string> = {
        'Content-Type': 'application/json; charset=UTF-8',
        Accept: 'application/json',
        'User-Agent': 'Space (emulator) Ktor http-client',
        'X-Space-Timestamp': timestamp,
      };
      const signed = Buffer.from(`${timestamp}:${body}`, 'utf8');
      if (!options.unsigned && method === 'public-key') {
        headers['X-Space-Public-Key-Signature'] = sign('sha512', signed, secrets.keys[0]!.privateKey).toString('base64');
      } else if (!options.unsigned && method === 'signing-key') {
        headers['X-Space-Signature'] = createHmac('sha256', secrets.signingKey).update(signed).digest('hex');
      }
      if (options.tamper === 'body') body = tamperBody(body);
      if (options.tamper === 'timestamp') headers['X-Space-Timestamp'] = String(Number(timestamp) + 1);
      if (options.tamper === 'signature') {
        const name = method === 'signing-key' ? 'X-Space-Signature' : 'X-Space-Public-Key-Signature';
        const value = headers[name] ?? randomToken();
        headers[name] = (value[0] === 'a' ? 'b' : 'a') + value.slice(1);
      }
      Object.assign(headers, options.headers);
      const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(options.timeout ?? 10_000) });
      return {
        status: res.status,
        headers: Object.fromEntries(res.headers),
        body: await res.text(),
        sent: { url, headers: { ...headers }, body },
      };
    },
  };
}
