import { createHash } from 'node:crypto';
import type { KV, Script } from './kv';
import { timeReply, withDeadline } from './kv';

/* eslint-disable @typescript-eslint/no-explicit-any -- the two clients are typed structurally here, so neither is a dependency. */
type Any = any;

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const shas = new WeakMap<Script, string>();
function shaOf(script: Script): string {
  let sha = shas.get(script);
  if (!sha) shas.set(script, (sha = sha1(script.lua)));
  return sha;
}
const isNoScript = (err: unknown) => err instanceof Error && /NOSCRIPT/.test(err.message);

/** What a `redis` option must be, in the words of every message that refuses one. */
export const REDIS_EXPECTED = 'an ioredis client (new Redis(), new Cluster()) or a node-redis client (createClient(), createCluster())';

/** The client's kind, or undefined for something that is neither ioredis nor node-redis. */
export function redisKind(client: unknown): 'ioredis' | 'ioredis-cluster' | 'node-redis' | 'node-redis-cluster' | undefined {
  if (!client || typeof client !== 'object') return undefined;
  const c = client as Any;
  if (typeof c.evalsha === 'function' && typeof c.defineCommand === 'function') return c.isCluster === true ? 'ioredis-cluster' : 'ioredis';
  if (typeof c.sendCommand === 'function' && typeof c.evalSha === 'function') {
    return 'masters' in c || typeof c.getSlotMaster === 'function' ? 'node-redis-cluster' : 'node-redis';
  }
  return undefined;
}

/** Waits for a duplicated connection to be usable, or gives up after `ms`. */
function ready(conn: Any, ms: number): Promise<void> {
  if (conn.status === 'ready') return Promise.resolve();
  if (conn.status === 'wait') conn.connect().catch(() => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error('subscriber did not connect')); }, ms);
    const onReady = () => { cleanup(); resolve(); };
    const cleanup = () => { clearTimeout(timer); conn.off?.('ready', onReady); };
    conn.on('ready', onReady);
  });
}

/** One subscriber connection per KV, shared by every channel it listens to. */
class Subscriptions {
  private conn: Promise<Any> | undefined;
  private readonly handlers = new Map<string, Set<(m: string) => void>>();
  constructor(private readonly open: (dispatch: (channel: string, m: string) => void) => Promise<Any>, private readonly listen: (conn: Any, channel: string, deliver: (m: string) => void) => Promise<void>) {}

  private dispatch(channel: string, message: string): void {
    for (const h of this.handlers.get(channel) ?? []) h(message);
  }

  async add(channel: string, handler: (m: string) => void): Promise<() => void> {
    if (!this.conn) {
      this.conn = this.open((channel, m) => this.dispatch(channel, m));
      this.conn.catch(() => { this.conn = undefined; });
    }
    const conn = await this.conn;
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      const deliver = (m: string) => this.dispatch(channel, m);
      try {
        await this.listen(conn, channel, deliver);
      } catch (err) {
        this.handlers.delete(channel);
        throw err;
      }
    }
    set.add(handler);
    return () => { set!.delete(handler); };
  }
}

/** One subscriber connection per client, however many strategies share that client. */
const subscriptionsOf = new WeakMap<object, Subscriptions>();
function shared(client: object, make: () => Subscriptions): Subscriptions {
  let subs = subscriptionsOf.get(client);
  if (!subs) subscriptionsOf.set(client, (subs = make()));
  return subs;
}

/** ioredis 5 or 6: a single node, a Sentinel-managed master, or a Cluster. */
export function ioredisKV(client: Any, timeout: number): KV {
  const kind = client.isCluster === true ? 'ioredis-cluster' : 'ioredis';
  const subs = shared(client, () => new Subscriptions(async (dispatch) => {
    const conn = client.duplicate();
    conn.on('error', () => undefined);
    conn.on('message', (channel: string, message: string) => dispatch(channel, message));
    // The subscriber lives as long as the app's own client.
    client.once('end', () => conn.disconnect());
    try {
      await ready(conn, Math.max(timeout, 2000));
    } catch (err) {
      conn.disconnect();
      throw err;
    }
    return conn;
  }, async (conn, channel) => {
    await conn.subscribe(channel);
  }));
  return {
    kind,
    shared: true,
    get: (key) => withDeadline(timeout, 'GET', () => client.get(key)),
    set: async (key, value, px, nx = false, onLate) => {
      const run = () => (nx ? client.set(key, value, 'PX', px, 'NX') : client.set(key, value, 'PX', px));
      return (await withDeadline(timeout, 'SET', run, onLate && ((r) => { if (r === 'OK') onLate(); }))) === 'OK';
    },
    del: async (key) => { await withDeadline(timeout, 'DEL', () => client.del(key)); },
    run: (script, keys, args) => withDeadline(timeout, script.name, () => client.evalsha(shaOf(script), keys.length, ...keys, ...args)
      .catch((err: unknown) => (isNoScript(err) ? client.eval(script.lua, keys.length, ...keys, ...args) : Promise.reject(err)))),
    publish: async (channel, message) => { await withDeadline(timeout, 'PUBLISH', () => client.publish(channel, message)); },
    time: async () => timeReply(await withDeadline(timeout, 'TIME', () => client.time())),
    subscribe: (channel, onMessage) => subs.add(channel, onMessage),
  };
}

/** node-redis 4 or 5 (`redis`): `createClient()` or `createCluster()`. */
export function nodeRedisKV(client: Any, timeout: number): KV {
  const kind = 'masters' in client || typeof client.getSlotMaster === 'function' ? 'node-redis-cluster' : 'node-redis';
  const subs = shared(client, () => new Subscriptions(async () => {
    const conn = client.duplicate();
    conn.on('error', () => undefined);
    client.once?.('end', () => { conn.destroy?.(); });
    try {
      await withDeadline(Math.max(timeout, 2000), 'subscriber connect', () => conn.connect());
    } catch (err) {
      conn.destroy?.();
      throw err;
    }
    return conn;
  }, async (conn, channel, deliver) => {
    await conn.subscribe(channel, (message: string) => deliver(message));
  }));
  const strings = (args: Array<string | number>) => args.map(String);
  return {
    kind,
    shared: true,
    get: (key) => withDeadline(timeout, 'GET', () => client.get(key)),
    set: async (key, value, px, nx = false, onLate) => {
      const run = () => client.set(key, value, nx ? { PX: px, NX: true } : { PX: px });
      return (await withDeadline(timeout, 'SET', run, onLate && ((r) => { if (r === 'OK') onLate(); }))) === 'OK';
    },
    del: async (key) => { await withDeadline(timeout, 'DEL', () => client.del(key)); },
    run: (script, keys, args) => withDeadline(timeout, script.name, async () => {
      const options = { keys, arguments: strings(args) };
      try {
        return await client.evalSha(shaOf(script), options);
      } catch (err) {
        if (!isNoScript(err)) throw err;
        return client.eval(script.lua, options);
      }
    }),
    publish: async (channel, message) => { await withDeadline(timeout, 'PUBLISH', () => client.publish(channel, message)); },
    // The raw reply, whatever the version's transform of TIME; a cluster asks any node.
    time: async () => timeReply(await withDeadline(timeout, 'TIME', () => (kind === 'node-redis-cluster' ? client.sendCommand(undefined, true, ['TIME']) : client.sendCommand(['TIME'])))),
    subscribe: (channel, onMessage) => subs.add(channel, onMessage),
  };
}
