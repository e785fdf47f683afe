import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./queue-worker.ts', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  lines: string[];
  /**
   * Resolves with the first stdout line that starts with `prefix`; rejects when the worker exits first, or after
   * `timeoutMs` if given (else the test's own timeout bounds the wait: a worker's start, a Node process compiling the
   * store's TypeScript, takes seconds of CPU, many more on a loaded machine).
   */
  waitFor(prefix: string, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

/** Start tests/helpers/queue-worker.ts in its own Node process. */
export function spawnWorker(settings: Record<string, unknown>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, EHMI_TEST_WORKER: JSON.stringify(settings) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (line.startsWith(w.prefix)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
      nl = buffer.indexOf('\n');
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(prefix, timeoutMs) {
      const seen = lines.find((l) => l.startsWith(prefix));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(
                () => reject(new Error(`worker did not print "${prefix}" within ${timeoutMs} ms`)),
                timeoutMs,
              );
        waiters.push({
          prefix,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        child.once('exit', () => {
          clearTimeout(timer);
          reject(new Error(`worker exited before printing "${prefix}"`));
        });
      });
    },
  };
}
