import { readFileSync } from 'node:fs';
import { EhmiError } from '@ehmi/errors';
import type { z } from 'zod';

/**
 * Read a JSON file of the network's data folder and check it against its schema. A file that cannot be read, is not
 * JSON or does not match is `EHMI_CONFIG_INVALID` naming the file and, for a mismatch, the first wrong element;
 * `whenMissing` decides what a file that does not exist gives (a value, or an error of the caller's).
 */
export function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  what: string,
  whenMissing: () => z.output<S>,
): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return whenMissing();
    throw new EhmiError('EHMI_CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `${file} is not JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `${file} is not ${what}: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  return result.data;
}
