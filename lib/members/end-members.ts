import type { SpaceRuntime } from '../runtime';
import { membersPage } from './all-members';
import { endGrant, readIndex } from './sign-ins';

/**
 * Ending sign-ins because of news about a member (archived, suspended, gone) or about the whole
 * application (uninstalled): every sign-in found in the indexes, marked ended in Redis and
 * announced (every process refuses its cookie from then on), then revoked at Space (best effort).
 */

const PAGE = 500;
/** Members whose sign-ins are ended at once, at most. */
const CONCURRENCY = 8;

/**
 * Ends every sign-in of one member (a member hash) in this app, all at once rather than one after
 * the other: a slow revocation at Space never delays the marking of the next. Resolves to how many
 * were ended.
 */
export async function endMember(runtime: SpaceRuntime, user: string, reason: string): Promise<number> {
  const entries = await readIndex(runtime, user);
  await Promise.all([...entries].map(([grant, entry]) => endGrant(runtime, user, grant, entry ? entry.until - Date.now() : 0, reason)));
  return entries.size;
}

/** Ends every sign-in of every member in the index (an uninstall). Resolves to how many were ended. */
export async function endAllMembers(runtime: SpaceRuntime, reason: string): Promise<number> {
  let ended = 0;
  let offset = 0;
  for (;;) {
    // Ended members stay in the index until their entries expire, so paging by offset is stable.
    const page = await membersPage(runtime, offset, PAGE);
    for (let i = 0; i < page.length; i += CONCURRENCY) {
      const counts = await Promise.all(page.slice(i, i + CONCURRENCY).map((user) => endMember(runtime, user, reason)));
      ended += counts.reduce((a, b) => a + b, 0);
    }
    if (page.length < PAGE) return ended;
    offset += page.length;
  }
}
