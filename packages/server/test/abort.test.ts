import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { linkSignal } from '../src/abort.ts';

/** The entries Node keeps in a source signal for the signals `AbortSignal.any` made of it (none where it keeps none). */
function dependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const held = key ? (signal as unknown as Record<symbol, Set<unknown> | undefined>)[key] : undefined;
  return held?.size ?? 0;
}

describe('linkSignal', () => {
  it('aborts when the long-lived signal does, with its reason', () => {
    const closing = new AbortController();
    const { signal } = linkSignal(new AbortController().signal, closing.signal);
    assert.equal(signal.aborted, false);
    const reason = new Error('stopping');
    closing.abort(reason);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, reason);
  });

  it("aborts when the operation's signal does, with its reason", () => {
    const job = new AbortController();
    const { signal } = linkSignal(job.signal, new AbortController().signal);
    job.abort('timeout');
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, 'timeout');
  });

  it('is aborted at once when the long-lived signal already is', () => {
    const closing = new AbortController();
    closing.abort('closed');
    const { signal } = linkSignal(new AbortController().signal, closing.signal);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, 'closed');
  });

  it('leaves nothing in the long-lived signal once unlinked, and no longer follows it', () => {
    const closing = new AbortController();
    const linked = Array.from({ length: 1000 }, () =>
      linkSignal(new AbortController().signal, closing.signal),
    );
    assert.equal(getEventListeners(closing.signal, 'abort').length, 1000);
    for (const l of linked) l.unlink();
    assert.equal(getEventListeners(closing.signal, 'abort').length, 0);
    assert.equal(dependants(closing.signal), 0);
    closing.abort();
    assert.ok(linked.every((l) => !l.signal.aborted));
  });

  it('takes many operations in flight on one long-lived signal without a listener warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const closing = new AbortController();
      const linked = Array.from({ length: 50 }, () =>
        linkSignal(new AbortController().signal, closing.signal),
      );
      closing.abort();
      assert.ok(linked.every((l) => l.signal.aborted));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });
});
