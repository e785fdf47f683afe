import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Note what a data folder holds before a start, so that a start that fails can take back what it added: a folder
 * that did not exist is removed (with any parents created for it), an existing one loses only the entries that
 * were not there before, at its top level and in the `nested` folders (`pki/`, where a new organisation's keys
 * go). Files inside entries that were already there are left alone.
 *
 * @example
 * const undo = noteDataDir(dataDir);
 * try { await start(); } catch (err) { undo(); throw err; }
 */
export function noteDataDir(dir: string, nested: readonly string[] = ['pki']): () => void {
  const root = resolve(dir);
  if (!existsSync(root)) {
    // The topmost folder the start will create.
    let top = root;
    while (!existsSync(dirname(top)) && dirname(top) !== top) top = dirname(top);
    return () => rmSync(top, { recursive: true, force: true });
  }
  const before = new Map<string, Set<string>>();
  for (const d of ['.', ...nested]) {
    const path = join(root, d);
    if (existsSync(path)) before.set(path, new Set(readdirSync(path)));
  }
  return () => {
    for (const [path, names] of before) {
      if (!existsSync(path)) continue;
      for (const name of readdirSync(path)) {
        if (!names.has(name)) rmSync(join(path, name), { recursive: true, force: true });
      }
    }
  };
}
