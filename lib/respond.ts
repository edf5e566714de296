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

function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A short error answer: JSON `{ error, error_description }` for API requests, a tiny page otherwise. */
export function sendError(req: Request, res: Response, status: number, error: string, description: string, headers: Record<string, string> = {}): void {
  res.status(status);
  res.set('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.set(name, value);
  if (wantsJSON(req)) {
    res.json({ error, error_description: description });
  } else {
    res.type('html').send(`<!doctype html><meta charset="utf-8"><title>${status}</title><p>${escapeHTML(description)}</p>`);
  }
}
