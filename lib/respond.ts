import type { Request, Response } from 'express';

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

import { safeReturnTo } from './return-to';

export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface ErrorAnswer {
  headers?: Record<string, string>;
  /** The page's heading; the status code when absent. */
  title?: string;
  /** A link under the message, e.g. to sign in again. */
  link?: { href: string; text: string };
}

/**
 * A short error answer: JSON `{ error, error_description }` for API requests, a tiny page
 * otherwise. No inline styles or scripts, so it renders under the app's strictest CSP.
 */
export function sendError(req: Request, res: Response, status: number, error: string, description: string, answer: ErrorAnswer = {}): void {
  res.status(status);
  res.set('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.set(name, value);
  if (wantsJSON(req)) {
    res.json({ error, error_description: description });
    return;
  }
  const title = escapeHTML(answer.title ?? String(status));
  const link = answer.link ? `\n<p><a href="${escapeHTML(answer.link.href)}">${escapeHTML(answer.link.text)}</a></p>` : '';
  res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body><h1>${title}</h1><p>${escapeHTML(description)}</p>${link}</body></html>`);
}

/**
 * A sign-in that has ended (refresh token dead, grant revoked): pages are sent to sign in
 * again and come back to where they were; API requests get 401 JSON.
 */
export function answerSignedOut(req: Request, res: Response, signInURL: string): void {
  if (wantsJSON(req)) {
    sendError(req, res, 401, 'unauthenticated', 'Your Space sign-in has ended; sign in again',
      { headers: { 'WWW-Authenticate': 'Bearer realm="Space", error="invalid_token"' } });
    return;
  }
  const returnTo = safeReturnTo(req.originalUrl);
  res.set('Cache-Control', 'no-store');
  res.redirect(302, returnTo ? `${signInURL}?returnTo=${encodeURIComponent(returnTo)}` : signInURL);
}
