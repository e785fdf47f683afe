// The one local network the access tests share (access.test.ts): started by the first suite that asks, closed
// once after the last. A network start is ~10 s of CPU; five files starting one each was four too many.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { freePortBase } from '../../../server/test/e2e/helpers.ts';
import { type RunningNetwork, startNetwork } from '../../src/index.ts';

export interface SharedNetwork {
  net: RunningNetwork;
  dataDir: string;
}

let started: Promise<SharedNetwork> | undefined;

/** The shared network, started on the first call (`CONSOLE_TEST_LOG=info` shows its logs). */
export function sharedNetwork(): Promise<SharedNetwork> {
  started ??= (async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-net-access-'));
    const level = (process.env.CONSOLE_TEST_LOG as 'info' | undefined) ?? 'silent';
    const net = await startNetwork({
      dataDir,
      portBase: await freePortBase(),
      logger: pino({ level }),
      base: {
        log: { level },
        // The console's readings of the nodes' /metrics every 2 s (15 by default), for the health page's test.
        console: { sampling: { intervalSeconds: 2 } },
      },
    });
    return { net, dataDir };
  })();
  return started;
}

/** Close the shared network, if it was started, and remove its folder. */
export async function closeSharedNetwork(): Promise<void> {
  if (!started) return;
  const { net, dataDir } = await started;
  started = undefined;
  try {
    await net.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
