/**
 * Telemetry: operations traced as OpenTelemetry spans (only when `@opentelemetry/api` is
 * installed) and on `node:diagnostics_channel` tracing channels, metrics, and the audit trail
 * (`onAudit`). Imports nothing but `core/`, so every other part may report through it. What
 * each operation, metric, channel and audit event holds: docs/operations.md.
 */
export { audit, auditing, memberOf } from './audit';
export type { AuditFact, AuditHost, SpaceAuditEvent, SpaceAuditEventType } from './audit';
export { CHANNEL_PREFIX } from './channels';
export type { OperationMessage, OperationName } from './channels';
export { countUnavailable, describeRenewal, joinRenewal, observeEvents, trackRenewal } from './metrics';
export type { UnavailableCause } from './metrics';
export { errorType, traced } from './trace';
export type { Operation } from './trace';
