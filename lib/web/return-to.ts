/**
 * Where to send the browser after sign-in or sign-out: only ever a path on the app's own
 * origin. Everything else (`//evil.example`, `/\evil.example`, `https://evil.example`,
 * `javascript:`, tab/CR/LF-split and over-long values) yields `undefined`, and the caller
 * falls back to its default. RFC 9700 §4.11.1; SECURITY.md.
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return undefined;
  // Browsers drop tabs and newlines inside URLs and read "\" as "/": refuse rather than guess.
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return undefined;
  if (!value.startsWith('/') || value.startsWith('//')) return undefined;
  const base = 'http://return-to.invalid';
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return undefined;
  }
  if (url.origin !== base) return undefined;
  // Re-serialize: the result is ASCII, percent-encoded, and starts with exactly one "/".
  const path = url.pathname + url.search;
  return path.startsWith('//') ? undefined : path;
}
