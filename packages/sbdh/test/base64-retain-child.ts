// Started by base64.test.ts with --expose-gc: reads a few envelopes, each with a large value elsewhere in the
// document, drops every reference to them and prints the heap before and after (MB), as JSON on stdout.
import { loadPlainEnvelope, validateMany } from '../src/index.ts';
import { built } from './envelope-corpus.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('start with --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};
const base = built[0]!.xml;
/** In a function of its own: no variable of the module refers to a document. */
async function readOne(i: number): Promise<void> {
  // A distinct small BinaryContent without whitespace per document (a slice of the source text), and 16 MB in
  // TypeVersion: kept by the BinaryContent's text, the whole document would stay alive with it.
  const xml = base
    .replace(/<TypeVersion>([^<]*)</, `<TypeVersion>$1${String(i).repeat(16_000_000)}<`)
    .replace(
      /(<BinaryContent[^>]*>)([^<]*)</,
      (_m, open: string, b64: string) =>
        `${open}${Buffer.from(`doc${i}${b64.slice(0, 40)}`).toString('base64')}<`,
    );
  const loaded = loadPlainEnvelope(xml);
  if (!('schemaValid' in loaded)) throw new Error(`document ${i} not read by the plain reader`);
  await validateMany([{ xml, loaded }]);
}
const start = heap();
for (let i = 0; i < 4; i++) await readOne(i);
// V8 keeps the subject of the last regular expression match (RegExp.input, a legacy feature) until the next one:
// a few matches on a small text, of the kinds the readers run (with a group, global, sticky), let the last go.
/(x)/.exec('x');
'x'.replace(/x/g, 'y');
/x/y.exec('x');
process.stdout.write(JSON.stringify({ start, end: heap() }));
