// `kill -9` of either node at random moments while messages flow; each killed node is started again on its store.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultCluster } from './cluster.ts';
import type { Load } from './load.ts';
import type { Rng } from './rng.ts';

export interface KillOptions {
  messages: number;
  /** Kills at least this many times (more while the messages take longer, up to `maxKills`). */
  kills: number;
  maxKills: number;
  concurrency: number;
  /** Time between kills, drawn uniformly from this range (ms). */
  gapMs: [number, number];
}

/** Submit the messages and kill a node, drawn from `rng`, at moments drawn from `rng`; returns what was killed when. */
export async function killNodes(
  cluster: FaultCluster,
  load: Load,
  rng: Rng,
  o: KillOptions,
): Promise<string[]> {
  let loadDone = false;
  const sending = load.submit(o.messages, o.concurrency).finally(() => {
    loadDone = true;
  });
  const done: string[] = [];
  while ((!loadDone || done.length < o.kills) && done.length < o.maxKills) {
    await Promise.race([sleep(rng.int(o.gapMs[0], o.gapMs[1])), loadDone ? sleep(0) : sending]);
    if (loadDone && done.length >= o.kills) break;
    const node = rng.next() < 0.5 ? cluster.sender : cluster.receiver;
    const downMs = rng.int(0, 1500);
    cluster.recorder.write({
      kind: 'fault',
      fault: 'kill -9',
      detail: `${node.org} after ${load.answered} answered, down ${downMs} ms`,
    });
    await node.kill();
    done.push(`${node.org}@${load.answered}`);
    await sleep(downMs);
    await node.start();
  }
  await sending;
  return done;
}
