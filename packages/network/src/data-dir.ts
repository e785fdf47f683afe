import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface NoteDataDirOptions {
  /** Folders inside the data folder whose new entries are taken back too (`pki/`, where a new organisation's keys go). */
  nested?: readonly string[];
  /**
   * The top-level names the start may create (the organisations' folders, `pki`, `network.json`…). Only new entries
   * of these names are taken back: the data folder may be one the user shares with other programs (`--data ~`).
   */
  owns: (name: string) => boolean;
}

/**
 * Prepares a data folder for a start and returns how to take the start back if it fails. The folder is created here,
 * and a folder this call created (with any parents it created for it) is removed whole by the undo: whether the start
 * made it is decided when it is made, so a folder another process created meanwhile, or a symlink whose target is
 * missing, is never taken for ours. In a folder that existed, the undo removes only entries that were not there
 * before and that the start owns (`owns`), at the top level and in the `nested` folders; files inside entries that
 * were already there are left alone. The undo never throws: what it could not remove is returned, so the error that
 * made the start fail stays the one reported.
 *
 * @example
 * const undo = noteDataDir(dataDir, { owns: (name) => name === 'pki' || name === 'network.json' });
 * try { await start(); } catch (err) { undo(); throw err; }
 */
export function noteDataDir(dir: string, options: NoteDataDirOptions): () => string[] {
  const root = resolve(dir);
  const created = mkdirSync(root, { recursive: true });
  const remove = (path: string, failed: string[]) => {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      failed.push(path);
    }
  };
  if (created !== undefined) {
    return () => {
      const failed: string[] = [];
      remove(created, failed);
      return failed;
    };
  }
  const before = new Map<string, Set<string>>();
  for (const d of ['.', ...(options.nested ?? [])]) {
    const path = join(root, d);
    if (existsSync(path)) before.set(path, new Set(readdirSync(path)));
  }
  return () => {
    const failed: string[] = [];
    for (const [path, names] of before) {
      let now: string[];
      try {
        now = readdirSync(path);
      } catch {
        continue;
      }
      for (const name of now) {
        if (names.has(name) || (path === root && !options.owns(name))) continue;
        remove(join(path, name), failed);
      }
    }
    return failed;
  };
}
