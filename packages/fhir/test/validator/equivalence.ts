// The validator's findings on every fixture example and on deterministic tampered copies of each, as one record
// per case. equivalence.test.ts compares them with equivalence.snapshot.json, written by this module from the
// validator as it was before its hot path was compiled and cached: any change of a result shows as a diff.
// Regenerate (only when a result is meant to change): node --conditions=ehmi-source --import tsx
//   packages/fhir/test/validator/equivalence.ts --write
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createValidator, type Issue, shippedValidator } from '../../src/index.ts';
import { CHAINS, conformanceFor, examples } from './corpus.ts';

export const SNAPSHOT = fileURLToPath(new URL('./equivalence.snapshot.json', import.meta.url));

type J = Record<string, unknown>;

/** Every property path of a JSON value (object keys and array indexes), depth first. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      paths(x, [...at, i], out);
    });
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push([...at, k]);
      paths(x, [...at, k], out);
    }
  }
  return out;
}

function mutate(resource: J, path: (string | number)[], how: 'delete' | 'string' | 'empty'): J {
  const copy = structuredClone(resource);
  let holder: Record<string | number, unknown> = copy;
  for (const p of path.slice(0, -1)) holder = holder[p] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string;
  if (how === 'delete') delete holder[last];
  else if (how === 'string') holder[last] = 'tampered-value';
  else holder[last] = Array.isArray(holder[last]) ? [] : {};
  return copy;
}

/** How many property paths of each example are tampered with (evenly spaced over the document). */
const PER_EXAMPLE = 6;
const HOW = ['delete', 'string', 'empty'] as const;

const brief = (issues: () => Issue[]) => {
  try {
    return issues().map((i) => [
      i.severity,
      i.code,
      i.expression,
      i.message,
      i.related ?? null,
      i.profile ?? null,
    ]);
  } catch (e) {
    // Recorded as it is: a throw is a result too (and a change of it shows).
    return { throws: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
};

/** One line per case: `folder/file [mutation] validator` → its issues. */
export function computeResults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const folder of Object.keys(CHAINS)) {
    const chain = createValidator(conformanceFor(folder));
    for (const ex of examples(folder)) {
      const name = `${folder}/${ex.file}`;
      out[`${name} chain`] = brief(() => chain.issues(ex.resource));
      out[`${name} shipped`] = brief(() => shippedValidator().issues(ex.resource));
      const all = paths(ex.resource);
      const step = Math.max(1, Math.floor(all.length / PER_EXAMPLE));
      for (let i = 0, n = 0; i < all.length && n < PER_EXAMPLE; i += step, n++) {
        const p = all[i] as (string | number)[];
        const how = HOW[n % HOW.length] as (typeof HOW)[number];
        const key = `${name} ${how} ${p.join('.')} shipped`;
        out[key] = brief(() => shippedValidator().issues(mutate(ex.resource, p, how)));
      }
    }
  }
  return out;
}

if (process.argv.includes('--write')) {
  const results = computeResults();
  const lines = Object.entries(results).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  writeFileSync(SNAPSHOT, `{\n${lines.join(',\n')}\n}\n`);
  console.log(`${lines.length} cases written to ${SNAPSHOT}`);
}
