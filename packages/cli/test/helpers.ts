import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { FIXTURES } from '../../server/test/helpers/fixtures.ts';
import type { CliContext } from '../src/context.ts';
import { main } from '../src/main.ts';

export { FIXTURES };

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `ehmi` in-process with captured streams, in the given environment and working folder. */
export async function runEhmi(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Run> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  err.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const ctx: CliContext = {
    stdout: out,
    stderr: err,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    exitCode: 0,
    stopSignal: new AbortController().signal,
  };
  const code = await main(argv, ctx);
  return { code, stdout, stderr };
}

/** Run `ehmi` in-process with captured streams. */
export function ehmi(...argv: string[]): Promise<Run> {
  return runEhmi(argv);
}

/** Write a temporary file and return its path. */
export function tempFile(name: string, content: string | Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'ehmi-cli-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}
