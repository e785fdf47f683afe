import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { jsonToXml, xmlToJson } from '../../src/index.ts';
import { FHIR_EXAMPLES, FIXTURES } from './fixtures.ts';

// Beyond fixtures/fhir/examples: every FHIR JSON resource elsewhere in the fixtures (MedCom profiles, value sets
// and code systems, EER/EAS/EDS resources, ehmi-sbdh messages and DocumentReferences with IG-Publisher
// narratives). ActorDefinition (R5, in the core 4.0.0 / messaging 4.0.1 builds) is not an R4 resource.
const NOT_R4 = new Set(['ActorDefinition']);

function jsonFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) {
      if (full !== FHIR_EXAMPLES.replace(/\/$/, '')) jsonFiles(full, out);
    } else if (name.endsWith('.json')) out.push(full);
  }
  return out;
}

const byFolder = new Map<string, [string, Record<string, unknown>][]>();
for (const file of jsonFiles(FIXTURES)) {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    continue;
  }
  const rt = (json as { resourceType?: unknown })?.resourceType;
  if (typeof rt !== 'string' || NOT_R4.has(rt)) continue;
  const folder = relative(FIXTURES, join(file, '..'));
  const list = byFolder.get(folder) ?? [];
  list.push([relative(FIXTURES, file), json as Record<string, unknown>]);
  byFolder.set(folder, list);
}

test('the other fixture folders yield FHIR resources', () => {
  const count = [...byFolder.values()].reduce((n, l) => n + l.length, 0);
  assert.ok(count >= 350, `found ${count}`);
});

for (const [folder, resources] of byFolder) {
  test(`JSON→XML→JSON is lossless for every resource in ${folder} (${resources.length})`, () => {
    for (const [name, resource] of resources)
      assert.deepStrictEqual(xmlToJson(jsonToXml(resource)), resource, name);
  });
}
