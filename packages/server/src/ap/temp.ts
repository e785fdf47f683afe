import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** The folders the instances in this process own (tests and tools run several access points in one process). */
const live = new Set<string>();

/** The file in an instance's folder that names its owner; its modification time is the owner's heartbeat. */
const OWNER = 'owner.json';

interface Owner {
  host: string;
  pid: number;
  startedAt: number;
}

export interface InstanceTempOptions {
  logger: Logger;
  /** A folder whose owner has not beaten its heart for this long is taken for dead (a crash on another host). */
  staleAfterMs?: number;
  /** How often the owner file is touched, and the other folders looked at. */
  heartbeatMs?: number;
}

/** This instance's folder for temporary files, and its clean-up. */
export interface InstanceTempDir {
  readonly dir: string;
  /** Removes the folder and stops the heartbeat. */
  close(): Promise<void>;
}

/**
 * The access point's own folder for the temporary files of the messages it receives (decrypted payloads, with
 * personal data): `<root>/<host>-<pid>-<random>/`, with an owner file naming the host and process. Each message's
 * files are removed when it is done; what a crash leaves is removed at the next start. Several instances may share
 * one data folder (behind a load balancer), so a start removes only the folders of instances that are known to be
 * gone: on this host, a process that no longer runs (or that had this process's own id: a restarted container); on
 * another host, an owner whose heartbeat stopped `staleAfterMs` ago. A live instance's folder is never touched.
 * Folders without an owner file (written before this scheme, or being created right now) go once they are stale.
 *
 * @example
 * const temp = await openInstanceTempDir(join(dataDir, 'tmp', 'as4'), { logger });
 * const sink = tempFileSink({ dir: temp.dir });
 * await temp.close();
 */
export async function openInstanceTempDir(
  root: string,
  options: InstanceTempOptions,
): Promise<InstanceTempDir> {
  const staleAfterMs = options.staleAfterMs ?? 10 * 60_000;
  const heartbeatMs = options.heartbeatMs ?? 60_000;
  const host = hostname();
  await mkdir(root, { recursive: true });
  const name = `${host.replace(/[^A-Za-z0-9.-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = join(root, name);
  const sweep = async () => {
    for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || entry.name === name) continue;
      const folder = join(root, entry.name);
      const why = await goneBecause(folder, { host, staleAfterMs });
      if (why === undefined) continue;
      await rm(folder, { recursive: true, force: true });
      options.logger.info({ folder, why }, 'AP: removed the temporary files of an instance that is gone');
    }
  };
  await sweep();
  live.add(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const owner: Owner = { host, pid: process.pid, startedAt: Date.now() };
  await writeFile(join(dir, OWNER), JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
  const timer = setInterval(() => {
    const now = new Date();
    utimes(join(dir, OWNER), now, now)
      .then(sweep)
      .catch((err) => options.logger.warn({ err, dir }, 'AP: the temporary folder heartbeat failed'));
  }, heartbeatMs);
  timer.unref();
  return {
    dir,
    async close() {
      clearInterval(timer);
      // A receive still finishing may write into the folder while it is removed (ENOTEMPTY): rm tries again.
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
      live.delete(dir);
    },
  };
}

/** Why the instance that owns `folder` is known to be gone, or undefined while it may be alive. */
async function goneBecause(
  folder: string,
  here: { host: string; staleAfterMs: number },
): Promise<string | undefined> {
  let owner: Owner | undefined;
  try {
    owner = JSON.parse(await readFile(join(folder, OWNER), 'utf8')) as Owner;
  } catch {
    owner = undefined;
  }
  if (owner && owner.host === here.host && Number.isInteger(owner.pid)) {
    // Our own id, in a folder no instance of this process made: a process before us had it (a container restarted
    // as pid 1).
    if (owner.pid === process.pid)
      return live.has(folder) ? undefined : 'its process id is ours: a previous run';
    if (!isRunning(owner.pid)) return `process ${owner.pid} is not running`;
    return undefined;
  }
  // Another host, or no owner file: only a heartbeat that stopped long ago says it is gone.
  const beat = await stat(owner ? join(folder, OWNER) : folder).catch(() => undefined);
  if (!beat) return undefined;
  const age = Date.now() - beat.mtimeMs;
  return age > here.staleAfterMs ? `no heartbeat for ${Math.round(age / 1000)} s` : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
