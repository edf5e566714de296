import Redis from 'ioredis';
import { createClient } from 'redis';
import { kvFor, type KV } from '../../lib/store/redis';
import { memoryKV } from '../../lib/store/memory';
import { ADD_PENDING, END_RECORD, EXTEND_SIGN_IN, RELEASE_LOCK, TAKE_PENDING, WRITE_AND_RELEASE, WRITE_RECORD, WRITE_SIGN_IN } from '../../lib/store/scripts';
import { redisKind } from '../../lib/store/clients';
import { deleteKeys, REDIS_URL, uniquePrefix } from '../helpers/redis';

// The adapter gives the same answers on every client it accepts, as the in-memory twin does:
// ioredis 5 (RESP2), ioredis 6 (RESP3 by default), node-redis 5 in RESP2 and in RESP3.

/* eslint-disable @typescript-eslint/no-require-imports -- ioredis 6 is installed under an alias. */
const Redis6 = (require('ioredis6') as { Redis: typeof Redis }).Redis;

const prefix = uniquePrefix('clients');
const cleaner = new Redis(REDIS_URL);
afterAll(async () => {
  await deleteKeys(cleaner, prefix);
  cleaner.disconnect();
});

interface Client { kv: KV; close(): Promise<void> }

const CLIENTS: Array<[string, string, () => Promise<Client>]> = [
  ['ioredis 5', 'ioredis', async () => {
    const c = new Redis(REDIS_URL);
    return { kv: kvFor(c, 2000), close: async () => c.disconnect() };
  }],
  ['ioredis 6 (RESP3)', 'ioredis', async () => {
    const c = new Redis6(REDIS_URL);
    return { kv: kvFor(c, 2000), close: async () => c.disconnect() };
  }],
  ['node-redis 5 (RESP2)', 'node-redis', async () => {
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    return { kv: kvFor(c, 2000), close: async () => { c.destroy(); } };
  }],
  ['node-redis 5 (RESP3)', 'node-redis', async () => {
    const c = createClient({ url: REDIS_URL, RESP: 3 });
    await c.connect();
    return { kv: kvFor(c, 2000), close: async () => { c.destroy(); } };
  }],
];

/** Every script's answers in one fixed scenario; the memory twin's are the reference. */
async function scenario(kv: KV, p: string): Promise<unknown[]> {
  const set = `${p}{p:s}:pending`;
  const record = `${p}{g}:tokens`;
  const lock = `${p}{g}:lock`;
  const out: unknown[] = [];
  out.push(await kv.run(ADD_PENDING, [set], ['a', '100|first', 2, 60_000]));
  out.push(await kv.run(ADD_PENDING, [set], ['b', '200|second', 2, 60_000]));
  out.push(await kv.run(ADD_PENDING, [set], ['c', '300|third', 2, 60_000]));
  out.push(await kv.run(TAKE_PENDING, [set], ['a']));
  out.push(await kv.run(TAKE_PENDING, [set], ['b']));
  out.push(await kv.run(TAKE_PENDING, [set], ['c']));
  out.push(await kv.run(TAKE_PENDING, [set], ['c']));
  out.push(await kv.set(lock, 'mine', 60_000, true));
  out.push(await kv.set(lock, 'theirs', 60_000, true));
  out.push(await kv.run(WRITE_RECORD, [record, lock], [JSON.stringify({ version: 2 }), 2, 60_000, 'mine']));
  out.push(await kv.run(WRITE_RECORD, [record, lock], [JSON.stringify({ version: 1 }), 1, 60_000, '']));
  out.push(await kv.get(record));
  out.push(await kv.get(lock));
  out.push(await kv.set(lock, 'mine', 60_000, true));
  out.push(await kv.run(RELEASE_LOCK, [lock], ['theirs']));
  out.push(await kv.run(RELEASE_LOCK, [lock], ['mine']));
  out.push(await kv.run(WRITE_AND_RELEASE, [`${p}{app:x}:token`, `${p}{app:x}:lock`], ['t', 60_000, 'none']));
  // A sign-in's first record and owner, then a session in use extending both (the owner comes back).
  const owner = `${p}{g}:owner`;
  out.push(await kv.run(EXTEND_SIGN_IN, [record, owner], [120_000]));
  out.push(await kv.run(WRITE_SIGN_IN, [record, owner], [JSON.stringify({ version: 1 }), 60_000, 'user-hash']));
  out.push(await kv.get(owner));
  out.push(await kv.run(EXTEND_SIGN_IN, [record, owner], [120_000]));
  out.push(await kv.run(WRITE_SIGN_IN, [`${p}{h}:tokens`, `${p}{h}:owner`], ['{}', 60_000, '']));
  out.push(await kv.get(`${p}{h}:owner`));
  out.push(await kv.run(EXTEND_SIGN_IN, [`${p}{h}:tokens`, `${p}{h}:owner`], [120_000]));
  out.push(await kv.get(`${p}{app:x}:token`));
  await kv.del(`${p}{app:x}:token`);
  out.push(await kv.get(`${p}{app:x}:token`));
  // Ending a sign-in answers the record it replaced; a second end keeps the first mark.
  const ends = [`${p}{e}:tokens`, `${p}{e}:lock`];
  const mark = JSON.stringify({ ended: true, version: Number.MAX_SAFE_INTEGER });
  out.push(await kv.run(WRITE_RECORD, ends, [JSON.stringify({ version: 3 }), 3, 60_000, '']));
  out.push(await kv.set(ends[1]!, 'mine', 60_000, true));
  out.push(await kv.run(END_RECORD, ends, [mark, Number.MAX_SAFE_INTEGER, 60_000, 'mine']));
  out.push(await kv.get(ends[1]!));
  out.push(await kv.run(END_RECORD, ends, ['{"ended":true,"version":9007199254740991,"again":1}', Number.MAX_SAFE_INTEGER, 60_000, '']));
  out.push(await kv.get(ends[0]!));
  return out;
}

let reference: unknown[];
beforeAll(async () => {
  reference = await scenario(memoryKV(), 'memory:');
});

test.each(CLIENTS)('%s: every script and command answers as the in-memory twin does', async (name, kind, open) => {
  const client = await open();
  try {
    expect(client.kv.kind).toBe(kind);
    expect(await scenario(client.kv, `${prefix}${name.replace(/\W+/g, '-')}:`)).toEqual(reference);
  } finally {
    await client.close();
  }
});

test.each(CLIENTS)('%s: a published message reaches a subscriber', async (name, _kind, open) => {
  const client = await open();
  try {
    const channel = `${prefix}${name.replace(/\W+/g, '-')}:events`;
    let deliver!: (m: string) => void;
    const got = new Promise<string>((resolve) => { deliver = resolve; });
    await client.kv.subscribe(channel, deliver);
    await client.kv.publish(channel, 'hello');
    expect(await got).toBe('hello');
  } finally {
    await client.close();
  }
});

test('redisKind tells the clients apart: ioredis 6 is ioredis, node-redis 5 is node-redis', async () => {
  const six = new Redis6(REDIS_URL, { lazyConnect: true });
  const node = createClient({ url: REDIS_URL });
  expect(redisKind(six)).toBe('ioredis');
  expect(redisKind(node)).toBe('node-redis');
  six.disconnect();
});

test('extending a sign-in raises the record\'s TTL and never lowers it, in Redis and in the twin', async () => {
  const memory = memoryKV();
  const redisKV = kvFor(cleaner, 2000);
  const p = `${prefix}extend:`;
  const record = `${p}{g}:tokens`;
  const owner = `${p}{g}:owner`;
  const pttl = { memory: (k: string) => memory.data.pttl(k), redis: (k: string) => cleaner.pttl(k) };
  for (const [name, kv] of [['memory', memory], ['redis', redisKV]] as const) {
    await kv.run(WRITE_SIGN_IN, [record, owner], ['{"version":1}', 600_000, 'user-hash']);
    await kv.run(EXTEND_SIGN_IN, [record, owner], [60_000]); // lower: the record keeps its 10 minutes
    expect(await pttl[name](record)).toBeGreaterThan(500_000);
    await kv.run(EXTEND_SIGN_IN, [record, owner], [3_600_000]); // higher: raised
    expect(await pttl[name](record)).toBeGreaterThan(3_000_000);
  }
});
