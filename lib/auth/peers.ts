import type { RequestHandler, Router } from 'express';
import { redisKind } from '../store';

/**
 * The packages spaceAuth mounts for the app (express, express-session, connect-redis, passport)
 * are the app's own: peer dependencies, loaded when spaceAuth is called, so that an app that
 * sets them up itself never loads them through the library. A missing one is a TypeError that
 * names the package to install.
 */

/* eslint-disable @typescript-eslint/no-explicit-any -- the peers are typed structurally here, so that none is a dependency. */

function load(name: string, install: string): any {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    if (e.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${name}'`)) {
      throw new TypeError(`spaceAuth needs the package "${name}", which is not installed: npm install ${install}`);
    }
    throw err;
  }
}

/** What spaceAuth uses of Express. */
export interface ExpressPeer {
  Router(): Router;
  urlencoded(options: { extended: boolean }): RequestHandler;
}

export function loadExpress(): ExpressPeer {
  const express = load('express', 'express');
  if (typeof express?.Router !== 'function' || typeof express.urlencoded !== 'function') {
    throw new TypeError('spaceAuth needs Express 4.16 or later (express.Router and express.urlencoded): npm install express');
  }
  return express as ExpressPeer;
}

/** express-session's middleware factory. */
export function loadSession(): (options: Record<string, unknown>) => RequestHandler {
  const session = load('express-session', 'express-session');
  if (typeof session !== 'function') throw new TypeError('spaceAuth needs express-session (its default export is the middleware): npm install express-session');
  return session;
}

/**
 * connect-redis's store class, for this Redis client: connect-redis 7 and 8 take ioredis and
 * node-redis; 9 and later take only node-redis (given ioredis, every session save would fail with
 * "ERR syntax error"), so that pairing is refused here, naming the version to install.
 */
export function loadRedisStore(client: unknown): new (options: { client: unknown; prefix: string }) => unknown {
  const kind = redisKind(client);
  const ioredis = kind === 'ioredis' || kind === 'ioredis-cluster';
  const mod = load('connect-redis', ioredis ? 'connect-redis@8' : 'connect-redis');
  const RedisStore = mod?.RedisStore ?? mod?.default ?? mod;
  if (typeof RedisStore !== 'function') throw new TypeError('spaceAuth could not find connect-redis\'s RedisStore: npm install connect-redis@8');
  // connect-redis 7 and 8 adapt both clients (normalizeClient); 9 and later speak node-redis only.
  if (ioredis && typeof RedisStore.prototype?.normalizeClient !== 'function') {
    throw new TypeError('spaceAuth was given an ioredis client, and the installed connect-redis (9 or later) takes only node-redis clients: npm install connect-redis@8, or give a node-redis client (createClient() of the "redis" package)');
  }
  return RedisStore;
}

/** The Passport module's default instance, when the app gave none. */
export function loadPassport(): unknown {
  return load('passport', 'passport');
}
