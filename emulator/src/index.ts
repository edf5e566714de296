/**
 * `passport-jetbrains-space/emulator`: a local JetBrains Space for tests and development.
 *
 * @example
 * ```ts
 * import { startSpaceEmulator } from 'passport-jetbrains-space/emulator';
 * const space = await startSpaceEmulator({ port: 0, autoApprove: 'john.doe' });
 * // ... point the strategy at space.url ...
 * await space.close();
 * ```
 */
export { startSpaceEmulator } from './server.js';
export type { SpaceEmulator } from './server.js';
export type { SpaceEmulatorClient, SpaceEmulatorOptions, SpaceEmulatorUser } from './options.js';
export type { SpaceEmulatorFault } from './faults.js';
export type { SpaceEmulatorRequest } from './requests.js';
export type { SpaceEmulatorMembership, SpaceEmulatorMembershipInput, SpaceEmulatorRole, SpaceEmulatorTeam } from './directory.js';
export type { SpaceEmulatorStats } from './bounds.js';
export type { SpaceEmulatorDoors, SpaceEmulatorSendOptions, SpaceEmulatorSendMethod, SpaceEmulatorAppAnswer, SpaceEmulatorPermanentTokenOptions } from './doors.js';
export type { SpaceEmulatorEventKind, SpaceEmulatorEventOptions, SpaceEmulatorEvents } from './events.js';
export type { SpaceEmulatorMintedToken } from './test-tokens.js';
export { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from './defaults.js';
