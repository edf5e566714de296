/**
 * OpenTelemetry, as an app that installed it sees the library: the spans of a sign-in, a renewal
 * (and the wait for another process's renewal) and a sign-out, how they nest, what they say, and
 * that nothing in them is a secret; and the metrics. A real SDK (in-memory exporters, the
 * AsyncLocalStorage context manager so that parents link), the emulator and a real Redis.
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData,
} from '@opentelemetry/sdk-metrics';
import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn } from '../helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';
import { OPS_CLIENT, secretsSeenBy, startOpsApp, type OpsApp } from '../helpers/ops-app';

const TTL = 2; // seconds: renewed after one (the skew is capped at half the lifetime)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const untilStale = () => sleep(TTL * 500 + 150);
const untilExpired = () => sleep(TTL * 1000 + 150);

const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const contextManager = new AsyncLocalStorageContextManager().enable();

let redis: Redis;
let space: SpaceEmulator;
let prefix: string;
const apps: OpsApp[] = [];

beforeAll(async () => {
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  redis = await connectRedis();
});

beforeEach(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [OPS_CLIENT], autoApprove: 'john.doe', accessTokenTTL: TTL, refreshTokenOnEveryExchange: true });
  prefix = uniquePrefix('tracing');
  spans.reset();
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  await space.close();
  await deleteKeys(redis, prefix);
});

afterAll(async () => {
  redis.disconnect();
  trace.disable();
  metrics.disable();
  context.disable();
});

const start = async () => {
  const app = await startOpsApp({ spaceURL: space.url, redis, prefix });
  apps.push(app);
  return app;
};

const named = (name: string) => spans.getFinishedSpans().filter((s) => s.name === name);
const one = (name: string) => {
  const found = named(name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};
const childrenOf = (parent: ReadableSpan) => spans.getFinishedSpans()
  .filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId && s.spanContext().traceId === parent.spanContext().traceId)
  .map((s) => s.name).sort();

/** The metric points of the last collection, by name. */
async function collected(): Promise<Map<string, MetricData>> {
  await reader.forceFlush();
  const all = metricExporter.getMetrics();
  const last = all[all.length - 1];
  return new Map((last?.scopeMetrics ?? []).flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}
const pointsOf = (m: MetricData | undefined) => (m?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value as unknown }));

describe('spans', () => {
  test('a sign-in, a renewal and a sign-out: each step a span, nested as the work is, with outcomes and no secret', async () => {
    const app = await start();
    const agent = app.agent();
    const { callbackURL, callback: answer } = await signIn(agent);
    const sid = decodeURIComponent(/^sid=s%3A([^.;]+)/.exec((answer.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('sid='))!)![1]!);
    await untilStale();
    expect((await agent.get('/api/token').expect(200)).body.signedIn).toBe(true);
    await agent.post('/auth/signout').set('Accept', 'application/json').expect(204);

    const started = one('signin.start');
    expect(started.attributes['space.outcome']).toBe('redirected');

    const callback = one('signin.callback');
    expect(childrenOf(callback)).toEqual(['signin.exchange', 'signin.profile']);
    expect(callback.attributes).toEqual({ 'space.outcome': 'accepted', 'space.grant': expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) });
    const grant = callback.attributes['space.grant'];
    const exchange = one('signin.exchange');
    expect(childrenOf(exchange)).toEqual(['space.token']);
    const codeCall = named('space.token').find((s) => s.parentSpanContext?.spanId === exchange.spanContext().spanId)!;
    expect(codeCall.kind).toBe(2); // CLIENT
    expect(codeCall.attributes).toEqual({ 'space.grant_type': 'authorization_code', 'http.response.status_code': 200 });
    const profile = one('signin.profile');
    expect(childrenOf(profile)).toEqual(['space.api']);
    const profileCall = named('space.api').find((s) => s.parentSpanContext?.spanId === profile.spanContext().spanId)!;
    expect(profileCall.attributes).toEqual({ 'http.request.method': 'GET', 'url.path': '/api/http/team-directory/profiles/me', 'http.response.status_code': 200 });

    const renewal = one('renewal');
    expect(renewal.attributes).toEqual({ 'space.grant': grant, 'space.outcome': 'refreshed' });
    expect(childrenOf(renewal)).toEqual(['space.token']);
    expect(named('space.token').find((s) => s.parentSpanContext?.spanId === renewal.spanContext().spanId)!.attributes)
      .toEqual({ 'space.grant_type': 'refresh_token', 'http.response.status_code': 200 });

    const signOut = one('signout');
    expect(signOut.attributes).toEqual({ 'space.grant': grant });
    expect(childrenOf(signOut)).toEqual(['revoke']);
    const revoke = one('revoke');
    expect(childrenOf(revoke)).toEqual(['space.api']);
    expect(named('space.api').find((s) => s.parentSpanContext?.spanId === revoke.spanContext().spanId)!.attributes)
      .toEqual({ 'http.request.method': 'DELETE', 'url.path': '/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self', 'http.response.status_code': 200 });
    // Each step is a root of its own (the app's HTTP spans, if any, would be their parents).
    for (const root of [started, callback, renewal, signOut]) expect(root.parentSpanContext).toBeUndefined();

    // The canary: no span says a code, a verifier, a token, the client secret or the session id.
    const secrets = [...secretsSeenBy(space), callbackURL.searchParams.get('code')!, callbackURL.searchParams.get('state')!, sid];
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    const said = JSON.stringify(spans.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })));
    for (const secret of secrets) expect(said).not.toContain(secret);
  });

  test('a process that finds another renewing waits in a span of its own, then adopts the new tokens', async () => {
    const first = await start();
    const second = await start(); // same Redis and prefix: another instance of the app
    const agent = first.agent();
    const { callback } = await signIn(agent);
    const cookie = (callback.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('sid='))!.split(';')[0]!;
    await untilStale();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 800, times: 1 });
    const renewing = agent.get('/api/token');
    const renewingDone = renewing.then((r) => r);
    await sleep(300);
    const waiting = await second.agent().get('/api/token').set('Cookie', cookie).expect(200);
    expect((await renewingDone).body.token).toBe(waiting.body.token);
    expect(space.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(1);

    const renewals = named('renewal');
    expect(renewals.map((s) => s.attributes['space.outcome']).sort()).toEqual(['adopted', 'refreshed']);
    const waiter = renewals.find((s) => s.attributes['space.outcome'] === 'adopted')!;
    expect(childrenOf(waiter)).toEqual(['renewal.wait']);
    expect(one('renewal.wait').attributes).toEqual({ 'space.outcome': 'released' });
    const winner = renewals.find((s) => s.attributes['space.outcome'] === 'refreshed')!;
    expect(childrenOf(winner)).toEqual(['space.token']);
  });

  test('a failed call to Space is an error span naming the error code and Space\'s status, never its message', async () => {
    const app = await start();
    const agent = app.agent();
    await signIn(agent);
    await untilExpired();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', status: 503, body: { error: 'temporarily_unavailable', error_description: 'down for maintenance' } });
    await agent.get('/api/token').set('Accept', 'application/json').expect(503);
    const call = named('space.token').find((s) => s.attributes['space.grant_type'] === 'refresh_token')!;
    expect(call.status).toEqual({ code: 2, message: 'SPACE_UNAVAILABLE' });
    expect(call.attributes).toEqual({
      'space.grant_type': 'refresh_token', 'http.response.status_code': 503, 'error.type': 'SPACE_UNAVAILABLE', 'space.error': 'temporarily_unavailable',
    });
    expect(one('renewal').attributes).toEqual({ 'space.grant': expect.any(String), 'space.outcome': 'unavailable', 'space.reason': 'SPACE_UNAVAILABLE' });
  });

  test('a team check is a span with its outcome, and the app\'s handler after it is not inside it', async () => {
    const app = await start();
    const agent = app.agent();
    await signIn(agent);
    await agent.get('/platform').set('Accept', 'application/json').expect(200);
    await agent.get('/marketing').set('Accept', 'application/json').expect(403);
    const checks = named('authorize');
    expect(checks.map((s) => s.attributes['space.outcome'])).toEqual(['admitted', 'refused']);
    // The first check read the memberships from Space, as the member.
    expect(childrenOf(checks[0]!)).toEqual(['space.api', 'space.api']);
    expect(childrenOf(checks[1]!)).toEqual([]);
  });
});

describe('metrics', () => {
  test('sign-ins and renewals by outcome, token-endpoint latency, waiters per renewal, 503s by cause', async () => {
    const before = await collected();
    const count = (m: Map<string, MetricData>, name: string, attributes: Record<string, unknown>) => pointsOf(m.get(name))
      .filter((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes)).reduce((n, p) => n + (p.value as number), 0);
    const app = await start();
    const agent = app.agent();
    await signIn(agent);
    await app.agent().get('/auth/space/callback?state=x&code=y').expect(302); // refused: a malformed state
    await untilStale();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 300, times: 1 });
    const burst = await Promise.all(Array.from({ length: 5 }, () => agent.get('/api/token')));
    expect(new Set(burst.map((r) => r.body.token)).size).toBe(1);
    await untilExpired();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', status: 503, body: { error: 'temporarily_unavailable' } });
    await agent.get('/api/token').set('Accept', 'application/json').expect(503);

    const after = await collected();
    const delta = (name: string, attributes: Record<string, unknown>) => count(after, name, attributes) - count(before, name, attributes);
    expect(delta('passport_jetbrains_space.signins', { 'space.outcome': 'completed' })).toBe(1);
    expect(delta('passport_jetbrains_space.signins', { 'space.outcome': 'refused', 'space.reason': 'state_malformed' })).toBe(1);
    expect(delta('passport_jetbrains_space.renewals', { 'space.outcome': 'refreshed' })).toBe(1);
    expect(delta('passport_jetbrains_space.renewals', { 'space.outcome': 'unavailable', 'space.reason': 'SPACE_UNAVAILABLE' })).toBe(1);
    expect(delta('passport_jetbrains_space.unavailable', { 'space.cause': 'space', 'http.response.status_code': 503 })).toBe(1);

    const latency = pointsOf(after.get('passport_jetbrains_space.token_endpoint.duration'));
    const calls = (grantType: string, outcome: string) => latency
      .filter((p) => p.attributes['space.grant_type'] === grantType && p.attributes['space.outcome'] === outcome)
      .reduce((n, p) => n + (p.value as { count: number }).count, 0);
    expect(calls('authorization_code', 'ok')).toBeGreaterThanOrEqual(1);
    expect(calls('refresh_token', 'ok')).toBeGreaterThanOrEqual(1);
    expect(calls('refresh_token', 'SPACE_UNAVAILABLE')).toBeGreaterThanOrEqual(1);
    const delayed = latency.find((p) => p.attributes['space.grant_type'] === 'refresh_token' && p.attributes['space.outcome'] === 'ok')!;
    expect((delayed.value as { max: number }).max).toBeGreaterThanOrEqual(0.3); // seconds: the injected delay

    // Five requests, one renewal: the other four waited for it (a few may have come after it).
    const waiters = pointsOf(after.get('passport_jetbrains_space.renewal.waiters'))[0]!.value as { max: number; sum: number };
    expect(waiters.max).toBeGreaterThanOrEqual(1);
    expect(waiters.max).toBeLessThanOrEqual(4);
  });
});
