import { LIST_MEMBERS, NOTE_MEMBER } from '../store';
import type { SpaceRuntime } from '../runtime';

/**
 * The index of every member with a sign-in in this app (`<prefix>{members}:all`: a sorted set of
 * member hashes, each scored with the time its last sign-in may live until), so that an uninstall
 * of the application can end every sign-in. Written where a member's own index is (at sign-in,
 * and at most once a minute per sign-in and process after), never per request.
 */

/** Members the index holds at most; beyond, those whose sign-ins end soonest are dropped first. */
export const MAX_INDEXED_MEMBERS = 100_000;

/** Notes that `user` (a member hash) has a sign-in that may live until `until`. */
export async function noteMember(runtime: SpaceRuntime, user: string, until: number): Promise<void> {
  await runtime.kv.run(NOTE_MEMBER, [runtime.keys.allMembers], [user, Math.round(until), Date.now(), MAX_INDEXED_MEMBERS]);
}

/** One page of the members whose sign-ins may still live, from `offset`. */
export async function membersPage(runtime: SpaceRuntime, offset: number, count: number): Promise<string[]> {
  return (await runtime.kv.run(LIST_MEMBERS, [runtime.keys.allMembers], [Date.now(), offset, count])) as string[];
}
