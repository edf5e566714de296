import type { Request } from 'express';

/**
 * True for requests that want a machine answer rather than a page: XHR/fetch with
 * `X-Requested-With`, an `Accept` that prefers JSON over HTML, or any method but GET/HEAD
 * (a redirect to a sign-in page is useless to them).
 */
export function wantsJSON(req: Request): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return true;
  return prefersJSON(req);
}

/** JSON by what the client says it accepts (`Accept`, `X-Requested-With`), whatever the method: a form POST wants a page. */
export function prefersJSON(req: Request): boolean {
  if (req.get('x-requested-with')?.toLowerCase() === 'xmlhttprequest') return true;
  const accept = req.get('accept');
  if (!accept) return false;
  return req.accepts(['html', 'json']) === 'json';
}

/**
 * The request's path as Express routes it: the original URL (right inside mounted routers
 * too) up to the query, not decoded or normalized. `new URL()` would read `//host/x` as a
 * host, so it is not used here.
 */
export function requestPath(req: Request): string {
  const url = req.originalUrl || req.url || '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * True for a top-level page navigation, the only request worth sending to Space's login
 * page. Browsers say so in `Sec-Fetch-Mode`; without it, a GET whose `Accept` names HTML
 * (or says nothing, like curl). An `<img>`, a favicon or a fetch() is not one: sending it
 * to Space would only start a sign-in nobody sees.
 */
export function isNavigation(req: Request): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const mode = req.get('sec-fetch-mode');
  if (mode) return mode.toLowerCase() === 'navigate';
  if (prefersJSON(req)) return false;
  const accept = req.get('accept');
  return !accept || accept.trim() === '*/*' || /text\/html|application\/xhtml\+xml/i.test(accept);
}

/** The request's host, by Express's rule: `X-Forwarded-Host` only when `trust proxy` trusts the peer. */
export function requestHost(req: Request): string {
  const trust = req.app?.get('trust proxy fn') as ((address: string, hop: number) => boolean) | undefined;
  const forwarded = req.get('x-forwarded-host');
  if (forwarded && trust?.(req.socket?.remoteAddress ?? '', 0)) return forwarded.split(',')[0]!.trim();
  return req.get('host') ?? 'localhost';
}

/** A path is public when it equals a string entry, starts with one ending in "/", or matches a RegExp. */
export function isPublicPath(path: string, publicPaths: ReadonlyArray<string | RegExp>): boolean {
  return publicPaths.some((p) => (typeof p === 'string'
    ? path === p || (p.endsWith('/') && p !== '/' && path.startsWith(p))
    : p.test(path)));
}
