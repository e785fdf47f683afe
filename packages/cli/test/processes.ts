// Running `ehmi` and `npm start` as real processes in tests: output, waiting for a line, exit, free ports.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../bin/ehmi.js', import.meta.url));

/** The environment of the started programs: quiet logs, no npm variables of the test run itself. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // The run's test key cache stays: `ehmi up` takes its PKI's keys from it (packages/network/src/test-keys.ts).
    if (
      !k.startsWith('npm_') &&
      k !== 'DATABASE_URL' &&
      (!k.startsWith('EHMI_') || k === 'EHMI_TEST_KEY_CACHE')
    ) {
      env[k] = v;
    }
  }
  return { ...env, EHMI_LOG_LEVEL: 'warn' };
}

export interface Launched {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves once stdout has a line matching `pattern`; rejects if the process exits first. */
  line(pattern: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when every writer of stdout (npm and the node it started) has closed it. */
  stdoutClosed: Promise<void>;
}

export function launch(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; detached?: boolean } = {},
): Launched {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    err += c;
  });
  child.stdout!.on('data', (c: string) => {
    out += c;
    for (const w of [...waiters]) {
      const m = out.split('\n').find((l) => w.pattern.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const stdoutClosed = new Promise<void>((resolve) => child.stdout!.once('close', () => resolve()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    out: () => out,
    err: () => err,
    stdoutClosed,
    exited,
    line(pattern) {
      const seen = out.split('\n').find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exited.then(({ code, signal }) =>
          reject(
            new Error(
              `${command} ${args.join(' ')} exited (${code ?? signal}) before ${pattern}:\n${out}\n${err}`,
            ),
          ),
        );
      });
    },
  };
}

export function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind({ address: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
