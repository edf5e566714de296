/**
 * Starts the example app: reads the configuration, connects to Redis (or falls back to
 * memory), starts the built-in Space emulator when no Space org is configured, listens.
 *
 *   npm start                      # from the repository root
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type Redis from 'ioredis';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { createApp } from './app';
import { ConfigError, displayURL, loadSettings, redactURL, type Settings, type SpaceSettings } from './config';
import { openSessionBackend } from './redis';

const say = (line = ''): void => console.log(line);
const warn = (line: string): void => console.log(`  ! ${line}`);

/** example-app/.env, if there is one (variables already set in the environment win). */
function loadDotEnv(): void {
  const file = path.join(__dirname, '..', '.env');
  if (existsSync(file) && typeof process.loadEnvFile === 'function') process.loadEnvFile(file);
}

/** Logs Redis going away and coming back, once each, instead of once per reconnect attempt. */
function watchRedis(redis: Redis): void {
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    warn(`Redis: ${err.message}. Requests get a 503 until it is back.`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    say('  Redis is back.');
  });
}

async function startEmulator(settings: Settings): Promise<{ emulator: SpaceEmulator; space: SpaceSettings }> {
  const emulator = await startSpaceEmulator({
    port: 0,
    clients: [{ clientID: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET, redirectURIs: ['*'] }],
    organization: { name: 'Acme Corp', slogan: 'Rockets, anvils and giant magnets since 1949' },
    accessTokenTTL: settings.accessTokenTTL,
  });
  return { emulator, space: { url: emulator.url, clientID: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET } };
}

async function main(): Promise<void> {
  loadDotEnv();
  const settings = loadSettings();
  const backend = await openSessionBackend(settings);
  if (backend.redis) watchRedis(backend.redis);

  let emulator: SpaceEmulator | undefined;
  let space: SpaceSettings;
  if (settings.space) {
    space = settings.space;
  } else {
    ({ emulator, space } = await startEmulator(settings));
  }

  const app = createApp({
    space: { ...space, emulated: emulator !== undefined },
    sessionSecret: settings.sessionSecret,
    redis: backend.redis,
    publicURL: settings.publicURL,
    log: (line) => say(`  [${new Date().toISOString().slice(11, 19)}] ${line}`),
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: NodeJS.ErrnoException) => {
    await emulator?.close();
    backend.redis?.disconnect();
    throw err.code === 'EADDRINUSE' ? new ConfigError(`Port ${settings.port} is in use; set PORT to another one`) : err;
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;

  say('Orbit, the passport-jetbrains-space example app');
  say(emulator
    ? `  Space     built-in emulator at ${emulator.url} (users: ${emulator.users.map((u) => u.username).join(', ')}; access tokens last ${settings.accessTokenTTL} s)`
    : `  Space     ${space.url} (client ${space.clientID})`);
  say(backend.redis ? `  Sessions  Redis at ${redactURL(settings.redisURL)}` : '  Sessions  in memory');
  if (backend.notice) warn(backend.notice);
  if (settings.sessionSecretGenerated) warn('SESSION_SECRET is not set: using a random one, so sessions end when the app stops.');
  else if (settings.sessionSecret.length < 32) warn('SESSION_SECRET is short; use at least 32 random characters.');
  if (!emulator) say(`  Callback  ${settings.publicURL ?? displayURL(settings.host, port)}/auth/space/callback (register it in Space)`);
  say();
  say(`  Open ${displayURL(settings.host, port, settings.publicURL)}`);
  say();

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    say('  Shutting down.');
    setTimeout(() => process.exit(0), 3000).unref();
    server.close();
    server.closeAllConnections();
    void Promise.allSettled([emulator?.close(), backend.redis?.quit()]).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`Error: ${err.message}`);
    process.exit(1);
  }
  console.error(err);
  process.exit(1);
});
