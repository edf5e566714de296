import { isStoredTokenSet, type StoredTokenSet } from './token-set';
import { sessionData, type SpaceSessionData } from './transactions';

/**
 * Tokens live in the session under `req.session[sessionKey].tokens`: with express-session
 * and connect-redis that is the session's value in Redis, never the cookie, which carries
 * only the signed session id.
 */
export function readTokens(session: Record<string, unknown> | undefined, key: string): StoredTokenSet | undefined {
  const data = session?.[key] as SpaceSessionData | undefined;
  const tokens = data && typeof data === 'object' ? data.tokens : undefined;
  return isStoredTokenSet(tokens) ? tokens : undefined;
}

export function writeTokens(session: Record<string, unknown>, key: string, tokens: StoredTokenSet): void {
  sessionData(session, key).tokens = tokens;
}

export function clearTokens(session: Record<string, unknown> | undefined, key: string): void {
  const data = session?.[key] as SpaceSessionData | undefined;
  if (data && typeof data === 'object') delete data.tokens;
}
