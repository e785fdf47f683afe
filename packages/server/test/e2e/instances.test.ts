// The receiving organisation as two instances on one PostgreSQL schema and one data folder, behind a TCP load
// balancer on the ports its AP and MSH are published at: both start at once on an empty schema (the migrations run
// under a lock), both take work, and one is killed (SIGKILL) while messages flow. Every message the sender accepted
// still ends receipted and is in the inbox exactly once: what the dead instance held (leased jobs, an AS4 exchange
// in flight) is taken over by the other when its lease ends, or sent again by the sender and recognised as a
// duplicate.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Config } from '../../src/role-list.ts';
import { freePort } from '../helpers/ports.ts';
import {
  engines,
  eventually,
  inbox,
  makePair,
  type NodeProcess,
  type Pair,
  reaches,
  spawnNode,
  submit,
} from './helpers.ts';
import { instanceConfig } from './instances.ts';
import { startTcpBalancer, type TcpBalancer } from './tcp-balancer.ts';

const engine = engines().find((e) => e.name === 'postgres')!;

describe('two instances of the receiving organisation on one PostgreSQL', {
  skip:
    engine.skip && 'DATABASE_URL is not set: instances share a PostgreSQL database, so this test is skipped',
}, () => {
  let pair: Pair;
  let balancers: TcpBalancer[] = [];
  const instances: NodeProcess[] = [];
  let db: pg.Client;

  /** Jobs of the receiving organisation finished by each instance (`jobs.locked_by` names its process). */
  async function jobsDoneBy(instance: NodeProcess): Promise<number> {
    const schema = pair.plan.organisations.find((o) => o.spec.name === 'gp')!.config.database.schema;
    const { rows } = await db.query<{ n: string }>(
      `select count(*) as n from "${schema}".jobs where status = 'done' and split_part(locked_by, ':', 2) = $1`,
      [String(instance.child.pid)],
    );
    return Number(rows[0]!.n);
  }

  before(async () => {
    pair = await makePair(engine);
    db = new pg.Client({ connectionString: engine.databaseUrl });
    await db.connect();
    const gp = pair.plan.organisations.find((o) => o.spec.name === 'gp')!;
    const configs: Config[] = [];
    for (let i = 0; i < 2; i++)
      configs.push(
        instanceConfig(gp.config, { msh: await freePort(), ap: await freePort(), node: await freePort() }),
      );
    balancers = await Promise.all(
      (['ap', 'msh'] as const).map((role) =>
        startTcpBalancer({
          host: '127.0.0.1',
          port: gp.ports[role],
          backends: configs.map((c) => ({ host: '127.0.0.1', port: c[role].port })),
        }),
      ),
    );
    // Both at once on an empty schema, as an orchestrator starts them.
    for (const config of configs) instances.push(spawnNode(config));
    await Promise.all(instances.map((i) => i.ready));
    await pair.start('municipality');
  });
  after(async () => {
    for (const i of instances)
      if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGTERM');
    await Promise.all(instances.map((i) => i.exited));
    for (const b of balancers) await b.close();
    await db?.end();
    await pair?.cleanup();
  });

  it('both take work; one killed mid-run, every message is receipted and in the inbox exactly once', {
    timeout: 180_000,
  }, async () => {
    const [survivor, victim] = instances as [NodeProcess, NodeProcess];
    const count = 24;
    const sent: { id: string; bundleId: string }[] = [];
    let next = 0;
    // Four clients submit while the instances work; the victim dies once it has finished work of its own.
    const submitting = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next++ < count) {
          sent.push((await submit(pair)).body);
          await new Promise((r) => setTimeout(r, 50));
        }
      }),
    );
    await eventually(
      'the second instance finished a job',
      async () => ((await jobsDoneBy(victim)) > 0 ? true : undefined),
      60_000,
    );
    victim.child.kill('SIGKILL');
    assert.equal(await victim.exited, 'SIGKILL');
    await submitting;
    assert.equal(sent.length, count);
    for (const s of sent) await reaches(pair, 'municipality', s.id, 'receipted', 90_000);
    assert.ok((await jobsDoneBy(survivor)) > 0, 'the first instance took work too');
    const items = await inbox(pair, 'gp');
    for (const s of sent)
      assert.equal(
        items.filter((i) => i.bundleId === s.bundleId).length,
        1,
        `message ${s.id} is in the inbox exactly once`,
      );
    const schema = pair.plan.organisations.find((o) => o.spec.name === 'gp')!.config.database.schema;
    const dead = await db.query(`select queue, last_error from "${schema}".jobs where status = 'dead'`);
    assert.deepEqual(dead.rows, [], 'no job of the receiving organisation was dead-lettered');
  });
});
