import type { WalBarrier } from '../../src/store/index.ts';

/**
 * Holds each sync of `wal` until the test releases it, recording the order of events (`sync`, `released`, named
 * `<name> sync` … when `name` is given).
 */
export function holdSyncs(
  wal: WalBarrier,
  events: string[],
  name?: string,
  /** Hold only the syncs that begin once this is true; let the others run. */
  from: () => boolean = () => true,
) {
  const label = (what: string) => (name ? `${name} ${what}` : what);
  const held: (() => void)[] = [];
  const waiting = new Set<() => void>();
  wal.faults = {
    beforeSync: () => {
      if (!from()) return;
      return new Promise<void>((resolve) => {
        events.push(label('sync'));
        held.push(resolve);
        for (const w of [...waiting]) w();
      });
    },
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
      events.push(label('released'));
      held.shift()?.();
    },
    free(): void {
      events.push(label('freed'));
      wal.faults = undefined;
      for (const r of held.splice(0)) r();
    },
  };
}
