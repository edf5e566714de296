import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { freePort } from './redis';

// Real Redis topologies for the scale tests: a 3-master Cluster with one replica each, and a
// master + replica watched by three Sentinels. Every process is started here, on free ports,
// with its files in a temp dir, and stopped by pid; nothing is left running.

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One redis-server (or sentinel) process of a topology. */
interface Proc {
  port: number;
  child: ChildProcess;
}

const running = new Set<ChildProcess>();
// A test that dies halfway still leaves nothing running.
process.once('exit', () => { for (const c of running) c.kill('SIGKILL'); });

function startProc(args: string[], port: number): Proc {
  const child = spawn('redis-server', args, { stdio: process.env.TOPOLOGY_LOGS ? 'inherit' : 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return { port, child };
}

async function stopProc(proc: Proc): Promise<void> {
  const c = proc.child;
  if (c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGCONT');
    c.kill('SIGKILL');
  });
}

/** A short-lived connection to one node that never queues nor retries. */
async function probe<T>(port: number, use: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, '127.0.0.1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await use(r);
  } finally {
    r.disconnect();
  }
}

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function waitUp(port: number): Promise<void> {
  await until(`redis on ${port}`, 10_000, () => probe(port, async (r) => (await r.ping()) === 'PONG'));
}

const BASE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/** A Redis Cluster of three masters, each with one replica. */
export interface TestCluster {
  /** Every node's port (masters and replicas, as started). */
  ports: number[];
  /** `[{ host, port }]` for `new Redis.Cluster(...)` / `createCluster({ rootNodes })`. */
  nodes: Array<{ host: string; port: number }>;
  /** The port of the master that holds `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** SIGKILLs the master holding `key`'s slot; answers its port. */
  killMasterOf(key: string): Promise<number>;
  /** Waits until a replica took over `key`'s slot from `deadPort` and the cluster is ok again. */
  waitForFailover(key: string, deadPort: number): Promise<number>;
  stop(): Promise<void>;
}

/** Node timeout of the test cluster: how long a dead master goes unnoticed. */
export const CLUSTER_NODE_TIMEOUT = 1000;

export async function startCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pjs-cluster-'));
  const ports: number[] = [];
  while (ports.length < 6) {
    const p = await freePort();
    // The cluster bus listens on port + 10000: keep both free and distinct.
    if (p < 55_000 && !ports.includes(p)) ports.push(p);
  }
  const procs = ports.map((port) => startProc([
    '--port', String(port), ...BASE, '--dir', dir,
    '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout', String(CLUSTER_NODE_TIMEOUT),
  ], port));
  const stop = async () => {
    await Promise.all(procs.map(stopProc));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map(waitUp));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
    await until('cluster_state:ok', 30_000, async () => {
      const states = await Promise.all(ports.map((p) => probe(p, (r) => r.cluster('INFO') as Promise<string>)));
      return states.every((s) => s.includes('cluster_state:ok'));
    });
    // Every replica has caught up with its master's view of the slots.
    await until('slots known everywhere', 10_000, async () => {
      const views = await Promise.all(ports.map((p) => probe(p, (r) => r.cluster('SLOTS') as Promise<unknown[]>)));
      return views.every((v) => v.length === 3);
    });
    // Replicas synced (a replica that never synced would refuse to take over).
    await until('replicas in sync', 20_000, async () => {
      const infos = await Promise.all(ports.map((p) => probe(p, (r) => r.info('replication'))));
      return infos.filter((i) => i.includes('role:slave')).length === 3 && infos.every((i) => i.includes('role:master') || i.includes('master_link_status:up'));
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const alive = () => procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  const masterOf = async (key: string): Promise<number> => {
    for (const proc of alive()) {
      try {
        const slot = await probe(proc.port, (r) => r.cluster('KEYSLOT', key) as Promise<number>);
        const slots = await probe(proc.port, (r) => r.cluster('SLOTS'));
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        if (range?.[2]) return range[2][1];
      } catch {
        // try the next node
      }
    }
    throw new Error('no node knows the slot');
  };
  return {
    ports,
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    masterOf,
    async killMasterOf(key) {
      const port = await masterOf(key);
      const proc = procs.find((p) => p.port === port)!;
      proc.child.kill('SIGKILL');
      await new Promise((r) => (proc.child.exitCode !== null || proc.child.signalCode !== null ? r(undefined) : proc.child.once('exit', r)));
      return port;
    },
    async waitForFailover(key, deadPort) {
      let now = deadPort;
      await until('cluster failover', 30_000, async () => {
        now = await masterOf(key);
        if (now === deadPort) return false;
        const states = await Promise.all(alive().map((p) => probe(p.port, (r) => r.cluster('INFO') as Promise<string>)));
        return states.every((s) => s.includes('cluster_state:ok'));
      });
      return now;
    },
    stop,
  };
}

/** A master and a replica, watched by three Sentinels (quorum 2) as `mymaster`. */
export interface TestSentinel {
  name: 'mymaster';
  /** `[{ host, port }]` of the three Sentinels, for `new Redis({ sentinels, name })`. */
  sentinels: Array<{ host: string; port: number }>;
  /** The port the Sentinels name as master now. */
  masterPort(): Promise<number>;
  /** SIGKILLs the current master; answers its port. */
  killMaster(): Promise<number>;
  /** Waits until the Sentinels promoted another server and it takes writes. */
  waitForFailover(deadPort: number): Promise<number>;
  stop(): Promise<void>;
}

/** Sentinel's `down-after-milliseconds` in the tests: how long a dead master goes unnoticed. */
export const SENTINEL_DOWN_AFTER = 1000;

export async function startSentinel(): Promise<TestSentinel> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pjs-sentinel-'));
  const masterPort = await freePort();
  let replicaPort = await freePort();
  while (replicaPort === masterPort) replicaPort = await freePort();
  const servers = [
    startProc(['--port', String(masterPort), ...BASE, '--dir', dir], masterPort),
    startProc(['--port', String(replicaPort), ...BASE, '--dir', dir, '--replicaof', '127.0.0.1', String(masterPort)], replicaPort),
  ];
  const sentinels: Proc[] = [];
  const stop = async () => {
    await Promise.all([...sentinels, ...servers].map(stopProc));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all([masterPort, replicaPort].map(waitUp));
    await until('replica in sync', 10_000, () => probe(replicaPort, async (r) => (await r.info('replication')).includes('master_link_status:up')));
    const used = new Set([masterPort, replicaPort]);
    for (let i = 0; i < 3; i++) {
      let port = await freePort();
      while (used.has(port)) port = await freePort();
      used.add(port);
      const conf = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(conf, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
        `sentinel monitor mymaster 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds mymaster ${SENTINEL_DOWN_AFTER}`,
        'sentinel failover-timeout mymaster 5000',
        'sentinel parallel-syncs mymaster 1',
        '',
      ].join('\n'));
      sentinels.push(startProc([conf, '--sentinel'], port));
    }
    await Promise.all(sentinels.map((s) => waitUp(s.port)));
    // Each Sentinel knows the replica and the two other Sentinels before anything is killed.
    await until('sentinels agree', 20_000, async () => {
      const views = await Promise.all(sentinels.map((s) => probe(s.port, async (r) => {
        const master = (await r.call('SENTINEL', 'MASTER', 'mymaster')) as string[];
        const field = (name: string) => Number(master[master.indexOf(name) + 1]);
        return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
      })));
      return views.every(Boolean);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const currentMaster = async (): Promise<number> => {
    for (const s of sentinels) {
      try {
        const addr = await probe(s.port, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster') as Promise<[string, string]>);
        return Number(addr[1]);
      } catch {
        // try the next Sentinel
      }
    }
    throw new Error('no Sentinel answered');
  };
  return {
    name: 'mymaster',
    sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    masterPort: currentMaster,
    async killMaster() {
      const port = await currentMaster();
      const proc = servers.find((p) => p.port === port)!;
      proc.child.kill('SIGKILL');
      await new Promise((r) => (proc.child.exitCode !== null || proc.child.signalCode !== null ? r(undefined) : proc.child.once('exit', r)));
      return port;
    },
    async waitForFailover(deadPort) {
      let now = deadPort;
      await until('sentinel failover', 30_000, async () => {
        now = await currentMaster();
        if (now === deadPort) return false;
        return probe(now, async (r) => (await r.info('replication')).includes('role:master'));
      });
      return now;
    },
    stop,
  };
}
