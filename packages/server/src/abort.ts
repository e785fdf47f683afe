import { getMaxListeners, setMaxListeners } from 'node:events';

/** Operations that may be in flight on one long-lived signal before Node warns of a listener leak. */
const MAX_IN_FLIGHT = 10_000;

/** The signal of one operation that also ends when a long-lived signal aborts; `unlink()` once the operation ended. */
export interface LinkedSignal {
  signal: AbortSignal;
  unlink: () => void;
}

/**
 * A signal that aborts when `signal` (one operation's: a job's, a request's) or `closing` (one that lives as long as
 * the node: its shutdown) aborts, with that one's reason, as `AbortSignal.any([signal, closing])` would. Node 20's
 * `AbortSignal.any` leaves an entry in every source for each signal it makes, never removed even once that signal is
 * collected: one per operation on a signal that lives as long as the process grows the heap without end. Here
 * `closing` holds only a listener, removed by `unlink()`; the combined signal's sources end with the operation.
 *
 * @example
 * const { signal: abort, unlink } = linkSignal(job.signal, closing);
 * try { await send(abort); } finally { unlink(); }
 */
export function linkSignal(signal: AbortSignal, closing: AbortSignal): LinkedSignal {
  const own = new AbortController();
  if (closing.aborted) {
    own.abort(closing.reason);
    return { signal: AbortSignal.any([signal, own.signal]), unlink: () => {} };
  }
  const onClose = () => own.abort(closing.reason);
  // One listener per operation in flight (a send, a webhook, a batch), each removed when its operation ends: far more
  // than Node's default of 10 may be in flight, but a number that keeps growing is a missed unlink, and still warned.
  if (getMaxListeners(closing) < MAX_IN_FLIGHT) setMaxListeners(MAX_IN_FLIGHT, closing);
  closing.addEventListener('abort', onClose, { once: true });
  return {
    signal: AbortSignal.any([signal, own.signal]),
    unlink: () => closing.removeEventListener('abort', onClose),
  };
}
