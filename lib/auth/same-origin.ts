import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { warnOnce } from '../core';
import { requestHost, sendError } from '../web';

/**
 * CSRF protection for a route that changes state (spaceAuth's sign-out), for apps that have no
 * CSRF library: the request must come from the app's own pages. Browsers say where a request
 * comes from in headers a page cannot forge:
 *
 * - `Sec-Fetch-Site` (every current browser): only `same-origin` passes; `same-site` (a sibling
 *   subdomain), `cross-site` and `none` are refused.
 * - Else `Origin` (sent on every cross-origin POST): it must be `appOrigin` (spaceAuth's `baseURL`)
 *   or the origin the request itself was sent to; `null` (sandboxed frames, some redirects) is
 *   refused.
 * - Neither header: not a browser that a foreign page could drive (curl, a server, a test), so it
 *   passes.
 *
 * Refused: 403 `{"error":"cross_origin"}`, and one warning line a minute.
 */
export function requireSameOrigin(appOrigin: string): RequestHandler {
  return function spaceSameOrigin(req: Request, res: Response, next: NextFunction): void {
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    let sameOrigin: boolean;
    if (site !== undefined) sameOrigin = site.trim().toLowerCase() === 'same-origin';
    else if (origin === undefined) sameOrigin = true;
    else sameOrigin = origin === appOrigin || origin === `${req.protocol}://${requestHost(req)}`;
    if (sameOrigin) return next();
    const shown = origin && /^[\x21-\x7e]{1,200}$/.test(origin) ? origin : '(none)';
    warnOnce('PASSPORT_JETBRAINS_SPACE_CROSS_ORIGIN', `refused a ${req.method} to ${req.path} that did not come from the app's own pages (Sec-Fetch-Site: ${site && /^[a-z-]{1,20}$/.test(site) ? site : '(none)'}, Origin: ${shown}; the app is ${appOrigin}). `
      + 'If it was your own page, check spaceAuth\'s baseURL and that the page is served from the same origin.', { every: 60_000, key: 'cross-origin' });
    sendError(req, res, 403, 'cross_origin', 'This request must come from this site\'s own pages; it came from another site and was refused');
  };
}
