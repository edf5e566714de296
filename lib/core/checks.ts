/**
 * The one set of option validators. Every option is checked once, where it enters, and a bad
 * value is a `TypeError` that names the option, what was expected and what was given (never the
 * value of a secret).
 */

/** Names the part an option belongs to in messages: `SpaceStrategy`, `spaceTokenRefresh`... */
export type Owner = string;

function shown(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    return typeof value;
  }
}

/**
 * What kind of value was given, for a message about an option that takes an object (a client,
 * a store): its shape, never its contents (a string may be a URL with a password in it).
 */
export function describeGiven(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') {
    const name = (value as { name?: unknown }).name;
    return typeof name === 'string' && name !== '' ? `the function or class "${name}" itself (an instance is expected, e.g. new ${name}(...))` : 'a function';
  }
  if (typeof value !== 'object') return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (value instanceof Map || value instanceof Set) return `a ${value instanceof Map ? 'Map' : 'Set'} with ${value.size} entr${value.size === 1 ? 'y' : 'ies'}`;
  const keys = Object.keys(value);
  const listed = keys.length === 0 ? '' : ` with keys ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''}`;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || proto === Object.prototype) return keys.length === 0 ? 'an empty object' : `an object${listed}`;
  const ctor = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  const kind = typeof ctor === 'string' && ctor !== '' ? `an instance of ${ctor}` : 'an object of an unnamed class';
  return keys.length === 0 ? `${kind} with no own keys` : `${kind}${listed}`;
}

/** A required non-empty string. */
export function requireString(owner: Owner, name: string, value: unknown, example: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${owner} requires a "${name}" option, e.g. ${example}`);
  }
  return value.trim();
}

/** An optional non-empty string. */
export function optionalString(owner: Owner, name: string, value: unknown, example: string): string | undefined {
  return value === undefined ? undefined : requireString(owner, name, value, example);
}

/**
 * A duration or count. `integer` is required wherever the value becomes a Redis `PX`/`EX`
 * (Redis answers "ERR value is not an integer" otherwise, on every command).
 */
export function number(owner: Owner, name: string, value: unknown, rule: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  if (value === undefined) return undefined;
  const min = rule.min ?? 0;
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= min
    && (rule.max === undefined || value <= rule.max) && (!rule.integer || Number.isInteger(value));
  if (!ok) {
    const range = rule.max === undefined ? `>= ${min}` : `from ${min} to ${rule.max}`;
    throw new TypeError(`${owner} option "${name}" must be ${rule.integer ? 'an integer' : 'a number'} ${range}, got ${shown(value)}`);
  }
  return value as number;
}

export function boolean(owner: Owner, name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new TypeError(`${owner} option "${name}" must be a boolean, got ${shown(value)}`);
  return value;
}

export function oneOf<T extends string>(owner: Owner, name: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new TypeError(`${owner} option "${name}" must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${shown(value)}`);
  }
  return value as T;
}

/** A local path such as `/auth/space`: one leading slash, no scheme, no host. */
export function localPath(owner: Owner, name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || /[\\\s]/.test(value)) {
    throw new TypeError(`${owner} option "${name}" must be a local path starting with "/", like "/auth/space", got ${shown(value)}`);
  }
  return value;
}

/**
 * Space's URL is an origin: `https://acme.jetbrains.space`, never a page inside it such as
 * `https://acme.jetbrains.space/p/acme` (copied from the browser's address bar). With a path,
 * every endpoint would be built under it (`/p/acme/oauth/auth`) and fail far from the cause, so
 * it is refused here, with the origin to use instead.
 */
export function spaceURLWithoutPath(owner: Owner, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return;
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new TypeError(`${owner} option "spaceURL" must be your organization's address without a path: use "${url.origin}" `
      + `(got ${JSON.stringify(value)}; a path such as /p/<project> is a page inside Space, not its address)`);
  }
}

export function fn<T extends (...args: never[]) => unknown>(owner: Owner, name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new TypeError(`${owner} option "${name}" must be a function, got ${shown(value)}`);
  return value as T;
}

/**
 * Refuses option names nobody reads, so a typo (`scopes`, `keyprefix`) fails at start-up
 * instead of being silently ignored.
 */
export function onlyKnown(owner: Owner, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase() || k === key.replace(/s$/, '') || `${k}s` === key);
      throw new TypeError(`${owner} has no option "${key}"${near ? ` (did you mean "${near}"?)` : ''}; known options: ${known.join(', ')}`);
    }
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
