/**
 * OpenTelemetry, only when the app has it: `@opentelemetry/api` is an optional peer, required
 * once, lazily, on the first traced operation; when it cannot be required nothing else of it is
 * ever touched. Its types are described here, structurally, for the few calls the library makes,
 * so that neither the package nor its types are a dependency of the library or of its users.
 */

/** A value a span or metric attribute may hold. */
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/* eslint-disable @typescript-eslint/no-explicit-any -- OpenTelemetry's context is opaque to the library. */
type Context = any;

export interface OtelSpan {
  setAttributes(attributes: Attributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

interface Tracer {
  startSpan(name: string, options: { kind: number; attributes?: Attributes }, context: Context): OtelSpan;
}

export interface Counter {
  add(value: number, attributes?: Attributes): void;
}

export interface Histogram {
  record(value: number, attributes?: Attributes): void;
}

interface Meter {
  createCounter(name: string, options: { description: string; unit?: string }): Counter;
  createHistogram(name: string, options: { description: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } }): Histogram;
}

/** What the library uses of `@opentelemetry/api` (present since its 1.0, metrics since 1.3). */
export interface OtelApi {
  trace: {
    getTracerProvider(): { getTracer(name: string, version?: string): Tracer };
    setSpan(context: Context, span: OtelSpan): Context;
  };
  context: {
    active(): Context;
    with<T>(context: Context, fn: () => T): T;
  };
  metrics?: { getMeterProvider(): { getMeter(name: string, version?: string): Meter } };
}

/** The instrumentation scope every span and metric carries. */
export const SCOPE = 'passport-jetbrains-space';
export const SPAN_KIND = { internal: 0, client: 2 } as const;
export const STATUS_ERROR = 2;

/** Undefined: not tried yet; null: the app does not have it. */
let api: OtelApi | null | undefined;

/** `@opentelemetry/api`, or undefined when the app does not have it (tried once). */
export function otel(): OtelApi | undefined {
  if (api === undefined) {
    try {
      // A plain require on purpose: the package is an optional peer, loaded only if present.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      api = require('@opentelemetry/api') as OtelApi;
    } catch {
      api = null;
    }
  }
  return api ?? undefined;
}

let tracerOf: { provider: object; tracer: Tracer } | undefined;

/**
 * The library's tracer from the provider registered now: asked again only when the app registers
 * another provider (tests do, between runs), so an operation costs no lookup otherwise.
 */
export function tracer(o: OtelApi): Tracer {
  const provider = o.trace.getTracerProvider();
  if (tracerOf?.provider !== provider) tracerOf = { provider, tracer: provider.getTracer(SCOPE) };
  return tracerOf.tracer;
}

/** The library's instruments; see docs/operations.md#metrics for what each counts. */
export interface Instruments {
  signIns: Counter;
  renewals: Counter;
  unavailable: Counter;
  tokenDuration: Histogram;
  renewalWaiters: Histogram;
}

let instrumentsOf: { provider: object; instruments: Instruments } | undefined;

/** The instruments from the meter provider registered now; undefined without OpenTelemetry or its metrics API. */
export function instruments(): Instruments | undefined {
  const o = otel();
  if (!o?.metrics) return undefined;
  const provider = o.metrics.getMeterProvider();
  if (instrumentsOf?.provider === provider) return instrumentsOf.instruments;
  const meter = provider.getMeter(SCOPE);
  const made: Instruments = {
    signIns: meter.createCounter('passport_jetbrains_space.signins', { description: 'Sign-in callbacks, by outcome (completed, refused, failed)' }),
    renewals: meter.createCounter('passport_jetbrains_space.renewals', { description: 'Token renewals, by outcome (refreshed, adopted, ended, unavailable)' }),
    unavailable: meter.createCounter('passport_jetbrains_space.unavailable', { description: 'Answers 503 (or 504) sent because Redis or Space was away, by cause' }),
    tokenDuration: meter.createHistogram('passport_jetbrains_space.token_endpoint.duration', {
      description: 'Time of each call to Space\'s token endpoint, answer read', unit: 's',
      advice: { explicitBucketBoundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
    }),
    renewalWaiters: meter.createHistogram('passport_jetbrains_space.renewal.waiters', {
      description: 'Requests of this process that waited for one renewal besides the one that started it', unit: '{request}',
      advice: { explicitBucketBoundaries: [0, 1, 2, 5, 10, 50, 100, 500, 1000] },
    }),
  };
  instrumentsOf = { provider, instruments: made };
  return made;
}
