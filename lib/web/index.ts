/**
 * Express requests and answers: page or API request, error pages and JSON, 401/503 with `Retry-
 * After`, safe return paths, and `spaceErrorHandler`.
 */
export { spaceErrorHandler } from './error-handler';
export type { SpaceErrorHandlerOptions } from './error-handler';
export { isNavigation, isPublicPath, prefersJSON, requestHost, requestPath, wantsJSON } from './request';
export { answerSignInFailed, answerSignedOut, answerUnauthenticated, answerUnavailable, escapeHTML, sendError } from './respond';
export { noteSignInRefusal, signInRefusalOf } from './refusal';
export { safeReturnTo } from './return-to';
