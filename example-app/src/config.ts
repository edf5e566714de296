/**
 * Configuration from environment variables (see example-app/.env.example), and the rule
 * for where sessions live. Pure functions: nothing here connects to anything.
 */
import { randomBytes } from 'node:crypto';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Credentials of a Space application (Space → Administration → Applications). */
export interface SpaceSettings {
  url: string;
  clientID: string;
  clientSecret: string;
}

export interface Settings {
  port: number;
  host: string;
  /** The app's public origin, e.g. `https://app.example.com`; makes the callback URL absolute. */
  publicURL: string | undefined;
  sessionSecret: string;
  /** True when SESSION_SECRET was not set and a random one is used for this run. */
  sessionSecretGenerated: boolean;
  redisURL: string;
  /** True when REDIS_URL was set: then Redis is required, there is no fallback. */
  redisURLFromEnv: boolean;
  /** A real Space org, or undefined to run the built-in emulator. */
  space: SpaceSettings | undefined;
  /** Access-token lifetime of the built-in emulator, seconds (short, so renewals show). */
  accessTokenTTL: number;
}

/** A configuration mistake: the server prints the message and exits. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function httpURL(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  return raw.replace(/\/+$/, '');
}

/** Reads the settings; throws a {@link ConfigError} for values that make no sense. */
export function loadSettings(env: Env = process.env): Settings {
  const spaceVars = ['SPACE_URL', 'SPACE_CLIENT_ID', 'SPACE_CLIENT_SECRET'] as const;
  const given = spaceVars.filter((name) => value(env, name) !== undefined);
  if (given.length > 0 && given.length < spaceVars.length) {
    const missing = spaceVars.filter((name) => !given.includes(name));
    throw new ConfigError(`${missing.join(' and ')} must be set too (set all three SPACE_* variables for a real Space org, or none to use the built-in emulator)`);
  }
  const space = given.length === spaceVars.length
    ? { url: httpURL('SPACE_URL', value(env, 'SPACE_URL')!), clientID: value(env, 'SPACE_CLIENT_ID')!, clientSecret: value(env, 'SPACE_CLIENT_SECRET')! }
    : undefined;

  const secret = value(env, 'SESSION_SECRET');
  const redisURL = value(env, 'REDIS_URL');
  if (redisURL !== undefined && !/^rediss?:\/\//.test(redisURL)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${redactURL(redisURL)}"`);
  const publicURL = value(env, 'PUBLIC_URL');
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: value(env, 'HOST') ?? '127.0.0.1',
    publicURL: publicURL === undefined ? undefined : httpURL('PUBLIC_URL', publicURL),
    sessionSecret: secret ?? randomBytes(32).toString('base64url'),
    sessionSecretGenerated: secret === undefined,
    redisURL: redisURL ?? DEFAULT_REDIS_URL,
    redisURLFromEnv: redisURL !== undefined,
    space,
    accessTokenTTL: integer(env, 'ACCESS_TOKEN_TTL', 60, 5, 86_400),
  };
}

/** Where sessions (and the Space tokens in them) are kept. */
export type StoreChoice =
  | { kind: 'redis' }
  | { kind: 'memory'; notice: string }
  | { kind: 'fail'; message: string };

/**
 * Redis when it answers. When it does not: if REDIS_URL was set, that is an error (you asked
 * for Redis, silently losing sessions on restart would hide a real problem); if it was not,
 * sessions fall back to memory, which is fine for trying the app on one machine.
 */
export function chooseSessionStore(settings: Pick<Settings, 'redisURL' | 'redisURLFromEnv'>, reachable: boolean, reason = 'no answer'): StoreChoice {
  if (reachable) return { kind: 'redis' };
  const where = redactURL(settings.redisURL);
  if (settings.redisURLFromEnv) {
    return { kind: 'fail', message: `Cannot reach Redis at ${where} (REDIS_URL): ${reason}. Start Redis, fix REDIS_URL, or unset it to use in-memory sessions.` };
  }
  return {
    kind: 'memory',
    notice: `Redis is not reachable at ${where} (${reason}): sessions are kept in memory, lost on restart, and token renewals are single-process. Start Redis or set REDIS_URL to share them.`,
  };
}

/** A URL for printing: any password (or username) in it becomes `***`. */
export function redactURL(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    else if (url.username) url.username = '***';
    return url.toString().replace(/\/$/, '');
  } catch {
    return raw.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** The URL to print for a listening address (`localhost` for loopback and wildcard hosts). */
export function displayURL(host: string, port: number, publicURL?: string): string {
  if (publicURL) return publicURL;
  const local = ['127.0.0.1', 'localhost', '0.0.0.0', '::', '::1', ''].includes(host);
  const name = local ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}
