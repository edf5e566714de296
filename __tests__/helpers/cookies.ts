/**
 * The `Cookie` header a browser would send after this answer: every cookie it set, without the
 * ones it removed (an empty value). The order of `Set-Cookie` headers means nothing.
 */
export function cookiesOf(headers: Headers): string {
  return headers.getSetCookie().map((c) => c.split(';')[0]!).filter((c) => !c.endsWith('=')).join('; ');
}
