/**
 * Rate limits of the sign-in start, the callback and verifySpaceRequest: per client address and
 * per member, fixed-window counters in Redis shared by every process, bounded in number.
 */
export { answerRateLimited, clientAddress, limiterOf, processLimiter, RateLimiter, withinLimit } from './limiter';
export type { LimitAnswer } from './limiter';
