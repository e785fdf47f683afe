import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import type { CliContext } from '../context.ts';

/** Read a file named on the command line; a file that cannot be read is `EHMI_INPUT_UNREADABLE` (exit 2). */
export async function readInputFile(ctx: CliContext, file: string): Promise<Buffer> {
  try {
    return await readFile(resolve(ctx.cwd, file));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new EhmiError('EHMI_INPUT_UNREADABLE', `cannot read ${file}: ${reason}`, { cause: err });
  }
}
