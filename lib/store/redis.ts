import { describeGiven } from '../core';
import { ioredisKV, nodeRedisKV, REDIS_EXPECTED, redisKind } from './clients';
import type { KV } from './kv';
import { memoryKV } from './memory';
import { watchRedis } from '../core';

export type { KV, Script } from './kv';
export { redisKind } from './clients';

/** The KV for a client that {@link redisKind} recognized, or the in-memory store without one. */
export function kvFor(client: unknown, timeout: number): KV {
  if (client === undefined) return memoryKV();
  const kind = redisKind(client);
  // So that a later "not writeable" can say whether Redis was lost or never connected.
  watchRedis(client);
  if (kind === 'ioredis' || kind === 'ioredis-cluster') return ioredisKV(client, timeout);
  if (kind === 'node-redis' || kind === 'node-redis-cluster') return nodeRedisKV(client, timeout);
  throw new TypeError(`"redis" must be ${REDIS_EXPECTED}, got ${describeGiven(client)}`);
}
