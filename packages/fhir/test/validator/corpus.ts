// Shared by the corpus tests: which conformance folders each example folder is validated with (the IG's
// dependency chain, as in fixtures/SOURCES-medcom-fhir.md and SOURCES-ehmi-json.md).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Conformance, loadConformance } from '../../src/index.ts';
import { FIXTURES } from '../fixtures.ts';

export { FIXTURES };

const P = (ig: string) => join(FIXTURES, 'fhir/profiles', ig);
const E = (ig: string) => join(FIXTURES, ig, 'json');

const DK = P('dk-core-3.4.0');
const TERM = P('medcom-terminology-2.0.1');
const CORE2 = P('medcom-core-2.4.0');
const CORE4 = P('medcom-core-4.0.0');
const MSG3 = P('medcom-messaging-3.0.0');
const MSG4 = P('medcom-messaging-4.0.1');
const DEFS = P('medcom-messagedefinitions-1.0.0-trial-use');

/** Example folder → conformance folders. */
export const CHAINS: Record<string, string[]> = {
  'fhir/examples/dk-core-3.4.0': [DK],
  'fhir/examples/medcom-core-2.4.0': [DK, TERM, CORE2],
  'fhir/examples/medcom-core-4.0.0': [DK, TERM, CORE4],
  'fhir/examples/medcom-messaging-3.0.0': [DK, TERM, CORE2, MSG3],
  'fhir/examples/medcom-messaging-4.0.1': [DK, TERM, CORE4, MSG4],
  'fhir/examples/medcom-acknowledgement-2.0.3': [
    DK,
    TERM,
    CORE4,
    MSG4,
    DEFS,
    P('medcom-acknowledgement-2.0.3'),
  ],
  'fhir/examples/medcom-homecareobservation-1.2.1': [
    DK,
    TERM,
    CORE2,
    MSG3,
    DEFS,
    P('medcom-homecareobservation-1.2.1'),
  ],
  'eds/json': [DK, TERM, CORE2, MSG3, E('ehmi-terminology'), E('eds')],
  'eer/json': [DK, TERM, CORE2, MSG3, E('ehmi-terminology'), E('eer')],
  'eas/json': [DK, TERM, CORE2, MSG3, E('ehmi-terminology'), E('eer'), E('eas')],
};

const CONFORMANCE_TYPES = new Set([
  'StructureDefinition',
  'ValueSet',
  'CodeSystem',
  'ImplementationGuide',
  'SearchParameter',
  'OperationDefinition',
  'MessageDefinition',
]);

export interface Example {
  folder: string;
  file: string;
  resource: Record<string, unknown>;
}

/** The example instances of a folder (conformance resources left out). */
export function examples(folder: string): Example[] {
  const dir = join(FIXTURES, folder);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ folder, file, resource: JSON.parse(readFileSync(join(dir, file), 'utf8')) }))
    .filter((e) => !CONFORMANCE_TYPES.has(e.resource.resourceType as string));
}

const loaded = new Map<string, Conformance>();
export function conformanceFor(folder: string): Conformance {
  let c = loaded.get(folder);
  if (!c) {
    c = loadConformance(CHAINS[folder] ?? []);
    loaded.set(folder, c);
  }
  return c;
}
