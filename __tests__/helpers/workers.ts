import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

/** An app process started by a test: its child process and its base URL. */
export interface Worker {
  child: ChildProcess;
  url: string;
}

const ROOT = path.join(__dirname, '..', '..');

/**
 * Starts one of the app scripts of this folder (`worker-app.js`, `worker-authorize.js`, ...) as
 * a process of its own, configured by `config` (its `WORKER_CONFIG`), and resolves once it
 * listens (its first line of output is `{"port":N}`). `preload` runs first (`node -r`); `env` is
 * added to this process's environment.
 */
export async function startWorker(script: string, config: object, options: { preload?: string; env?: Record<string, string> } = {}): Promise<Worker> {
  const args = options.preload ? ['-r', path.join(__dirname, options.preload)] : [];
  const child = spawn(process.execPath, [...args, path.join(__dirname, script)], {
    cwd: ROOT,
    env: { ...process.env, ...options.env, WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it listened`)));
  });
  return { child, url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}` };
}

/** Stops app processes (SIGTERM, then SIGKILL after 5 s) and waits for each to exit. */
export async function stopWorkers(workers: Array<Worker | ChildProcess>): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => {
    const child = 'child' in w ? w.child : w;
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
      child.once('exit', resolve);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  }));
}
