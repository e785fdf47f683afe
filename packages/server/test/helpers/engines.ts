import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type NodeTables, openNodeStore } from '../../src/role-list.ts';
import type { Store } from '../../src/store/index.ts';

/** One database engine the store and queue tests run on. */
export interface EngineCase {
  name: 'sqlite' | 'postgres';
  /** Why this engine's tests are skipped here (a laptop without DATABASE_URL), if they are. */
  skip: string | undefined;
  /** A fresh, empty store: its own data folder, and on PostgreSQL its own schema. */
  open(): Promise<TestStore>;
}

export interface TestStore {
  store: Store<NodeTables>;
  dataDir: string;
  /** What another process needs to open the same store. */
  connection: { dataDir: string; databaseUrl: string | undefined; schema: string };
  cleanup(): Promise<void>;
}

/**
 * SQLite always; PostgreSQL when DATABASE_URL is set. In CI (CI=true) a missing DATABASE_URL is an error, so a CI run
 * can never pass without the PostgreSQL pass.
 */
export function engines(): EngineCase[] {
  const url = process.env.DATABASE_URL;
  if (!url && process.env.CI === 'true') {
    throw new Error('CI=true but DATABASE_URL is not set: the PostgreSQL pass of the store tests cannot run');
  }
  return [
    { name: 'sqlite', skip: undefined, open: () => openTestStore(undefined) },
    {
      name: 'postgres',
      skip: url ? undefined : 'DATABASE_URL is not set: the PostgreSQL pass is skipped',
      open: () => openTestStore(url),
    },
  ];
}

async function openTestStore(databaseUrl: string | undefined): Promise<TestStore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-store-'));
  const schema = databaseUrl ? `test_${randomBytes(6).toString('hex')}` : 'public';
  const store = await openNodeStore({ dataDir, databaseUrl, schema, busyTimeoutMs: 5000, poolSize: 4 });
  return {
    store,
    dataDir,
    connection: { dataDir, databaseUrl, schema },
    async cleanup() {
      await store.close();
      if (databaseUrl) {
        const client = new pg.Client({ connectionString: databaseUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
