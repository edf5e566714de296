/**
 * `spaceEvents`: the requests Space sends that end sign-ins (the application uninstalled; a member
 * archived, suspended or gone), read after verifySpaceRequest accepted them.
 */
export { SPACE_EVENTS_OPTION_NAMES, spaceEvents } from './space-events';
export type { SpaceEventOutcome, SpaceEventsOptions } from './space-events';
