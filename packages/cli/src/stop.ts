import { getEventListeners } from 'node:events';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import { writeLine } from './context.ts';

/** The signals that ask a long-running command (`ehmi up`) to stop: Ctrl-C, `kill`, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

export interface StopWatch {
  /** Aborts on the first stop request; its reason names it (`SIGTERM`, `parent exited`). */
  signal: AbortSignal;
  /** Remove the signal handlers and the parent watch. */
  dispose(): void;
}

export interface StopWatchOptions {
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /**
   * Signals within this long of the first are the same request, not a second one: a Ctrl-C in a terminal reaches
   * `npm start` and `ehmi up` both, and npm forwards its copy as well. Default 1 s.
   */
  repeatGraceMs?: number;
  /** How often the parent process is checked (see `watchStop`). Default 1 s. */
  parentPollMs?: number;
}

/**
 * How the `ehmi` process learns that it should stop. A stop signal (SIGINT, SIGTERM, SIGHUP) aborts `signal` when
 * a command listens to it (`ehmi up` closes its servers, prints `stopped` and exits 0); a command that does not
 * listen ends as the signal's default would (exit 128 + its number). A further signal, more than `repeatGraceMs`
 * after the first, exits at once without closing.
 *
 * Run by a package manager (`npm start`, `npx`: `npm_lifecycle_event` is set), the process also stops when its
 * parent goes away without passing a signal on (npm killed with SIGKILL, or a shell between npm and node that
 * died of npm's SIGTERM): it would otherwise keep the network's ports bound with nobody left to stop it. Started
 * any other way (`nohup ehmi up &`, a service manager) it outlives its parent as a daemon should.
 */
export function watchStop(options: StopWatchOptions): StopWatch {
  const controller = new AbortController();
  const grace = options.repeatGraceMs ?? 1000;
  let firstAt: number | undefined;
  const request = (reason: string): void => {
    if (firstAt !== undefined) return;
    firstAt = Date.now();
    controller.abort(reason);
  };
  const onSignal = (signal: StopSignal): void => {
    const code = 128 + (constants.signals[signal] ?? 0);
    if (firstAt === undefined && getEventListeners(controller.signal, 'abort').length === 0) {
      // Nothing here stops gracefully: end as if no handler were installed.
      process.exit(code);
    }
    if (firstAt === undefined) {
      request(signal);
      return;
    }
    if (Date.now() - firstAt < grace) return;
    writeLine(options.stderr, `ehmi: ${signal} again while stopping: exiting without closing`);
    process.exit(code);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  let timer: NodeJS.Timeout | undefined;
  if (options.env.npm_lifecycle_event) {
    const parent = process.ppid;
    timer = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(timer);
      if (getEventListeners(controller.signal, 'abort').length === 0) return;
      writeLine(options.stderr, `ehmi: the parent process (${parent}) exited: stopping`);
      request('parent exited');
    }, options.parentPollMs ?? 1000);
    timer.unref();
  }
  return {
    signal: controller.signal,
    dispose() {
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
      if (timer) clearInterval(timer);
    },
  };
}
