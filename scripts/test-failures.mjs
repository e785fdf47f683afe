// A node:test reporter that prints, after the run, every failed test with its file and the first lines of its error,
// so the end of a long log (what CI shows) names what failed. Used by scripts/test.mjs beside the usual reporter.
import { relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

export default async function* failures(source) {
  const failed = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    // A suite fails because a test in it did; the test itself is listed.
    if (details?.type === 'suite') continue;
    const err = details?.error;
    const cause = err?.cause ?? err;
    const message = String(cause?.message ?? cause ?? 'failed')
      .split('\n')
      .slice(0, 6)
      .join('\n    ');
    failed.push(`✖ ${name}\n    ${file ? relative(root, file) : '?'}\n    ${message}`);
  }
  if (failed.length === 0) return;
  yield `\n# ${failed.length} failed test${failed.length === 1 ? '' : 's'}:\n${failed.join('\n')}\n`;
}
