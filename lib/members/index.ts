/**
 * What the library keeps per Space member: the index of a member's sign-ins in this app (every
 * browser and process), written at sign-in, touched at most once a minute, and the way a sign-in
 * found there is ended; the index of every member with a sign-in, for ending all of them.
 */
export { MAX_INDEXED_MEMBERS } from './all-members';
export { endAllMembers, endMember } from './end-members';
export { describeAgent, endEntries, endGrant, handle, liveEntries, noteSignIn, readIndex, recordSignIn, signInTokens, touchSession, userHash } from './sign-ins';
