// The database unavailable. SQLite: another process holds the database's write lock (BEGIN EXCLUSIVE) for longer
// than the node's busy timeout, so every write the node tries fails with SQLITE_BUSY. PostgreSQL: the suite's own
// cluster (scripts/postgres-test-cluster.sh, never the shared one of DATABASE_URL) is stopped and started again.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';

const CLUSTER_SCRIPT = fileURLToPath(
  new URL('../../../../scripts/postgres-test-cluster.sh', import.meta.url),
);

/** Hold the write lock of the SQLite database in `dataDir` for `ms`. */
export async function lockSqlite(dataDir: string, ms: number): Promise<void> {
  const db = new SqliteDatabase(join(dataDir, 'ehmi.sqlite'), { timeout: 30_000 });
  try {
    db.exec('BEGIN EXCLUSIVE');
    await new Promise((r) => setTimeout(r, ms));
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root).sort((a, b) => Number(a) - Number(b));
  if (versions.length === 0) throw new Error('no PostgreSQL server installed');
  return join(root, versions[versions.length - 1]!, 'bin');
}

function asPostgres(cmd: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  const r = spawnSync(root ? 'runuser' : cmd, root ? ['-u', 'postgres', '--', cmd, ...args] : args, {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

/** A PostgreSQL cluster of the suite's own, which it may stop and start. */
export interface PrivateCluster {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function privatePostgres(): Promise<PrivateCluster> {
  const url = execFileSync(CLUSTER_SCRIPT, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const port = new URL(url).port;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const dataDir = (await c.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
  await c.end();
  const bin = postgresBin();
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k /tmp -c max_connections=200`;
  return {
    url,
    async stop() {
      asPostgres(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    },
    async start() {
      asPostgres(join(bin, 'pg_ctl'), [
        '-D',
        dataDir,
        '-l',
        join(dataDir, 'server.log'),
        '-w',
        '-o',
        options,
        'start',
      ]);
    },
    async destroy() {
      spawnSync(
        'runuser',
        ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', 'stop'],
        {
          stdio: 'ignore',
        },
      );
      spawnSync('rm', ['-rf', dataDir, `${dataDir}.initdb.log`]);
    },
  };
}
