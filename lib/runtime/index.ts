/**
 * One runtime per strategy, built from the shared settings on first use: the store, key names,
 * records, session state, renewal engine, clock and events. Every request-serving part takes the
 * runtime (found with `runtimeOf(req)`), never the strategy class. Also the one way a sign-in
 * ends, and how a middleware binds to the strategy's shared settings.
 */
export { bindShared } from './bind';
export { endSignIn } from './end-sign-in';
export { bindRequest, runtimeOf } from './request-context';
export { SpaceRuntime } from './runtime';
