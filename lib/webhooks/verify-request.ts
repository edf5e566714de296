import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { spaceAppClient, type SpaceAppClient } from '../app-client';
import { isSpaceError, number, onlyKnown } from '../core';
import { isRecord, KeySet, parseJSON, rs512 } from '../space';
import { answerRateLimited, limiterOf, processLimiter, type RateLimiter } from '../rate-limits';
import { readRawBody } from './raw-body';
import type { SpaceStrategy } from '../strategy';
import { audit, auditing, countUnavailable } from '../telemetry';
import { requestPath } from '../web';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The payload of a request from Space, parsed, after verifySpaceRequest accepted it. */
      spacePayload?: unknown;
    }
  }
}

/** How a request proves it comes from Space. */
export type SpaceRequestMethod = 'public-key' | 'signing-key' | 'verification-token';

/** Options of {@link verifySpaceRequest}. */
export interface VerifySpaceRequestOptions {
  /** The sign-in strategy: its Space URL and client credentials read the app's public keys. */
  strategy?: SpaceStrategy;
  /** An existing `spaceAppClient` to read the public keys with (shares its token). */
  app?: SpaceAppClient;
  /** The application whose public keys sign the requests; default the strategy's client id. */
  clientID?: string;
  /** The endpoint signing key (Space: the app's Endpoint settings), for `X-Space-Signature`. */
  signingKey?: string;
  /** The legacy verification token. Deprecated by Space: only old applications have one. */
  verificationToken?: string;
  /** Accepted methods; default every method whose secret is configured (public-key with `strategy` or `app`). */
  methods?: SpaceRequestMethod[];
  /** Largest accepted `|now - X-Space-Timestamp|`, ms; 0 turns the check off. Default 300000 (Space documents none). */
  tolerance?: number;
  /** Largest body read, bytes. Default 1 MB. */
  maxBytes?: number;
  /** Hash of the public-key signature (RSA PKCS#1 v1.5); default `'sha512'` (inferred, not documented by Space). */
  publicKeyHash?: string;
  /** Fewest ms between public-key fetches caused by a signature no key verifies; also the longest pause after failed fetches (1 s, doubling). Default 30000. */
  keysRefetchInterval?: number;
  /** For your logs: why a request was refused. The answer itself never says. */
  onReject?: (reason: string, req: Request) => void;
}

/** Every option name verifySpaceRequest accepts; any other is a TypeError. */
export const VERIFY_REQUEST_OPTION_NAMES = [
  'strategy', 'app', 'clientID', 'signingKey', 'verificationToken', 'methods', 'tolerance', 'maxBytes', 'publicKeyHash',
  'keysRefetchInterval', 'onReject',
] as const;

const MOUNTING_FIX = 'verifySpaceRequest needs the exact request body, but a body parser has already read it without keeping the bytes. '
  + 'Mount express.json({ verify: spaceRawBody }) (spaceRawBody from passport-jetbrains-space), '
  + 'or put verifySpaceRequest before express.json() on this route.';
const TIMESTAMP = /^\d{1,16}$/;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

function bad(name: string, expected: string): never {
  throw new TypeError(`verifySpaceRequest option "${name}" must be ${expected}`);
}

function secret(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') bad(name, 'a non-empty string');
  return value;
}

/** Equal in constant time: digests first, so the lengths match and leak nothing. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Express middleware for the endpoint Space sends requests to (commands, webhooks, install):
 * accepts a request only when it proves it comes from Space, over the exact body bytes: a
 * public-key signature (`X-Space-Public-Key-Signature`, RSA SHA-512 over `<timestamp>:<body>`,
 * keys from `applications/clientId:<id>/public-keys`), a signing-key HMAC (`X-Space-Signature`,
 * HMAC-SHA256 hex over the same string), or, for old applications, the `verificationToken` in
 * the payload. Signed requests must carry an `X-Space-Timestamp` within `tolerance` of now; a
 * request replayed inside that window is accepted again (keep handlers idempotent). On success
 * `req.spacePayload` (and `req.body`, if unset) holds the parsed payload; otherwise 401
 * `{ error: 'unauthorized' }` and the handler never runs. An address whose requests were refused
 * more than the shared `rateLimit.webhook` allows (the strategy's; without one, 60 a minute in this
 * process) gets 429 with `Retry-After` until its window ends.
 *
 * ```ts
 * app.post('/space/endpoint', verifySpaceRequest({ strategy }), (req, res) => { ... req.spacePayload ... });
 * ```
 */
export function verifySpaceRequest(options: VerifySpaceRequestOptions): RequestHandler {
  if (typeof options !== 'object' || options === null) throw new TypeError('verifySpaceRequest requires options, e.g. { strategy }');
  onlyKnown('verifySpaceRequest', options, VERIFY_REQUEST_OPTION_NAMES);
  const signingKey = secret(options.signingKey, 'signingKey');
  const verificationToken = secret(options.verificationToken, 'verificationToken');
  if (options.strategy !== undefined && !options.strategy?.settings) bad('strategy', 'a SpaceStrategy');
  const clientID = secret(options.clientID, 'clientID') ?? options.strategy?.settings.clientID;
  const canPublicKey = (options.app !== undefined || options.strategy !== undefined) && clientID !== undefined;
  const methods = new Set<SpaceRequestMethod>(options.methods ?? [
    ...(canPublicKey ? ['public-key' as const] : []),
    ...(signingKey ? ['signing-key' as const] : []),
    ...(verificationToken ? ['verification-token' as const] : []),
  ]);
  if (methods.size === 0) bad('methods', 'non-empty: pass strategy (public key), signingKey or verificationToken');
  for (const m of methods) if (!['public-key', 'signing-key', 'verification-token'].includes(m)) bad('methods', 'a list of "public-key", "signing-key", "verification-token"');
  if (methods.has('public-key') && !canPublicKey) bad('strategy', 'set (or "app" and "clientID") for the public-key method');
  if (methods.has('signing-key') && !signingKey) bad('signingKey', 'set for the signing-key method');
  if (methods.has('verification-token') && !verificationToken) bad('verificationToken', 'set for the verification-token method');
  const ms = (value: unknown, name: string, fallback: number): number => number('verifySpaceRequest', name, value, { min: 0 }) ?? fallback;
  const tolerance = ms(options.tolerance, 'tolerance', 300_000);
  const maxBytes = ms(options.maxBytes, 'maxBytes', 1024 * 1024);
  const hash = options.publicKeyHash ?? 'sha512';
  const onReject = options.onReject ?? (() => undefined);
  /** A refused request: told to `onReject` and to the audit trail (the strategy's `onAudit`). */
  const rejected = (reason: string, req: Request): void => {
    onReject(reason, req);
    const runtime = options.strategy?.runtime;
    if (auditing(runtime)) audit(runtime, { type: 'webhook_refused', outcome: 'failure', reason, path: requestPath(req) });
  };

  let app = options.app;
  const keys = methods.has('public-key') ? new KeySet({
    minRefetchInterval: ms(options.keysRefetchInterval, 'keysRefetchInterval', 30_000),
    maxAge: 3_600_000,
    fetch: async () => {
      app ??= spaceAppClient({ strategy: options.strategy! });
      const answer = await app.get<unknown>(`applications/clientId:${encodeURIComponent(clientID!)}/public-keys`);
      // Space answers a JSON string holding the JWKS; a plain JWKS object is taken as well.
      return typeof answer === 'string' ? parseJSON(answer) : answer;
    },
  }) : undefined;

  const fresh = (ts: string | undefined): ts is string => {
    if (ts === undefined || !TIMESTAMP.test(ts)) return false;
    return tolerance === 0 || Math.abs(Date.now() - Number(ts)) <= tolerance;
  };

  /** True when one accepted method proves the request; a rejection means Space's keys could not be read. */
  async function proven(req: Request, body: Buffer): Promise<{ ok: boolean; reason: string }> {
    const ts = req.get('x-space-timestamp');
    const publicSig = req.get('x-space-public-key-signature');
    const hmac = req.get('x-space-signature');
    const reasons: string[] = [];
    // The timestamp is part of both signed strings, so a fresh one cannot be pasted onto an old signature.
    const tsOk = fresh(ts);
    const signed = Buffer.concat([Buffer.from(`${ts}:`, 'utf8'), body]);
    if (hmac !== undefined && methods.has('signing-key')) {
      const expected = createHmac('sha256', signingKey!).update(signed).digest();
      const match = HEX_SHA256.test(hmac) && timingSafeEqual(Buffer.from(hmac, 'hex'), expected);
      if (match && tsOk) return { ok: true, reason: '' };
      reasons.push(match ? 'signing-key signature valid but timestamp missing or outside the tolerance' : 'signing-key signature does not match');
    }
    if (publicSig !== undefined && methods.has('public-key')) {
      if (!tsOk) {
        reasons.push('public-key signature with a timestamp missing or outside the tolerance');
      } else {
        const sig = Buffer.from(publicSig, 'base64');
        if (sig.length > 0 && sig.length <= 1024 && await keys!.find(rs512(signed, sig, hash))) return { ok: true, reason: '' };
        reasons.push('public-key signature does not match any key');
      }
    }
    if (methods.has('verification-token')) {
      const payload = parseJSON(body.toString('utf8'));
      const given = isRecord(payload) ? payload.verificationToken : undefined;
      if (typeof given === 'string' && sameSecret(given, verificationToken!)) return { ok: true, reason: '' };
      reasons.push('verification token missing or wrong');
    }
    if (reasons.length === 0) reasons.push('no signature of an accepted method');
    return { ok: false, reason: reasons.join('; ') };
  }

  // Requests refused are counted per address (the shared `rateLimit.webhook`): past the limit, an
  // address gets 429 before its body is read or a signature checked. Space's own requests never count.
  let ownLimiter: RateLimiter | undefined;
  const limiter = (): RateLimiter => (options.strategy ? limiterOf(options.strategy.runtime) : (ownLimiter ??= processLimiter()));
  const refuse = async (req: Request, res: Response): Promise<void> => {
    await limiter().record(req, 'webhook');
    res.status(401).set('Cache-Control', 'no-store').json({ error: 'unauthorized' });
  };

  return function verifySpaceRequestMiddleware(req, res, next) {
    (async () => {
      const limit = await limiter().peek(req, 'webhook');
      if (!limit.ok) {
        res.set('Connection', 'close');
        return answerRateLimited(req, res, 'webhook', limit.retryAfter);
      }
      const raw = await readRawBody(req, maxBytes);
      if (!raw.ok) {
        if (raw.reason === 'consumed') {
          res.status(500).json({ error: 'server_misconfigured', error_description: MOUNTING_FIX });
          return;
        }
        if (raw.reason === 'too-large') {
          res.status(413).set('Connection', 'close').json({ error: 'payload_too_large' });
          return;
        }
        rejected('the request body was cut off', req);
        return refuse(req, res);
      }
      let result: { ok: boolean; reason: string };
      try {
        result = await proven(req, raw.body);
      } catch (err) {
        if (!isSpaceError(err)) throw err;
        countUnavailable('space');
        res.status(503).set('Retry-After', String(Math.max(1, err.retryAfter ?? 5))).json({ error: 'temporarily_unavailable' });
        return;
      }
      if (!result.ok) {
        rejected(result.reason, req);
        return refuse(req, res);
      }
      const payload = parseJSON(raw.body.toString('utf8'));
      if (payload === undefined) {
        res.status(400).json({ error: 'invalid_request', error_description: 'The payload is not JSON' });
        return;
      }
      req.spacePayload = payload;
      if (req.body === undefined) req.body = payload;
      next();
    })().catch(next);
  };
}
