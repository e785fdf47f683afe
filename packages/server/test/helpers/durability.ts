import type { WalBarrier } from '../../src/store/index.ts';

/** Holds each sync of `wal` until the test releases it, recording the order of events. */
export function holdSyncs(wal: WalBarrier, events: string[]) {
  const held: (() => void)[] = [];
  const waiting = new Set<() => void>();
  wal.faults = {
    beforeSync: () =>
      new Promise<void>((resolve) => {
        events.push('sync');
        held.push(resolve);
        for (const w of [...waiting]) w();
      }),
  };
  return {
    /** Resolves once a sync is held. */
    held(): Promise<void> {
      if (held.length > 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const w = () => {
          waiting.delete(w);
          resolve();
        };
        waiting.add(w);
      });
    },
    release(): void {
      events.push('released');
      held.shift()?.();
    },
    free(): void {
      wal.faults = undefined;
      for (const r of held.splice(0)) r();
    },
  };
}
