import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EhmiError } from '@ehmi/errors';
import { Conformance } from './conformance.ts';
import type { Json } from './types.ts';

/** Where the shipped conformance resources live (see packages/fhir/resources/PROVENANCE.md). */
export const RESOURCES_DIR = fileURLToPath(new URL('../../resources/', import.meta.url));
/** The stripped R4 base definitions (types, resources, extensions, terminology). */
export const R4_DIR = join(RESOURCES_DIR, 'r4');
/** MedCom (dk-core 3.4.0, core 2.4.0, messaging 3.0.0, acknowledgement 2.0.3, HomeCareObservation 1.2.1, …). */
export const MEDCOM_DIR = join(RESOURCES_DIR, 'medcom');
/** EHMI IGs: terminology, EDS, EER, EAS. */
export const EHMI_DIR = join(RESOURCES_DIR, 'ehmi');

const CONFORMANCE_TYPES = new Set([
  'StructureDefinition',
  'ValueSet',
  'CodeSystem',
  'MessageDefinition',
  'ImplementationGuide',
]);

export interface LoadOptions {
  /** Also load the shipped R4 base definitions (default true). */
  r4?: boolean;
}

function* jsonFiles(path: string): Iterable<string> {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (cause) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', `Cannot read conformance path ${path}`, { cause });
  }
  if (st.isFile()) {
    if (path.endsWith('.json')) yield path;
    return;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    yield* jsonFiles(join(path, name));
  }
}

function* resourcesIn(json: Json): Iterable<Json> {
  if (json.resourceType === 'Bundle' && Array.isArray(json.entry)) {
    for (const e of json.entry as { resource?: Json }[]) if (e.resource) yield* resourcesIn(e.resource);
  } else if (typeof json.resourceType === 'string' && CONFORMANCE_TYPES.has(json.resourceType)) {
    yield json;
  }
}

function readJson(file: string): Json {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (cause) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', `Cannot read conformance file ${file}`, { cause });
  }
}

/**
 * Adds every conformance resource found under `path` (a file, or a folder searched recursively) to `into`.
 * Resources without a `version` take their package's: the ImplementationGuide or `package.json` in the same
 * folder (SUSHI leaves `StructureDefinition.version` unset; the IG Publisher fills it from the IG).
 *
 * @example
 * const c = loadConformance([]);
 * addFromPath(c, './profiles/my-ig'); // number of resources added
 */
export function addFromPath(into: Conformance, path: string): number {
  const byDir = new Map<string, Json[]>();
  const packageVersion = new Map<string, string>();
  for (const file of jsonFiles(path)) {
    const dir = dirname(file);
    const json = readJson(file);
    if (typeof json !== 'object' || json === null) continue;
    if (basename(file) === 'package.json' && typeof json.version === 'string') {
      packageVersion.set(dir, json.version);
      continue;
    }
    const list = byDir.get(dir) ?? [];
    for (const r of resourcesIn(json)) {
      if (r.resourceType === 'ImplementationGuide' && typeof r.version === 'string')
        packageVersion.set(dir, r.version);
      list.push(r);
    }
    byDir.set(dir, list);
  }
  let n = 0;
  for (const [dir, list] of byDir) {
    const version = packageVersion.get(dir);
    for (const r of list) {
      const withVersion = r.version === undefined && version !== undefined ? { ...r, version } : r;
      if (into.add(withVersion)) n++;
    }
  }
  return n;
}

/**
 * Loads conformance resources (StructureDefinition, ValueSet, CodeSystem, MessageDefinition) from folders of
 * package-style JSON (one resource per file, or Bundles), plus the shipped R4 base unless `r4: false`.
 * Several versions of one canonical URL may be loaded; a bare URL resolves to the latest.
 *
 * @example
 * import { loadConformance, createValidator } from '@ehmi/fhir';
 * const conformance = loadConformance(['./profiles/medcom-messaging-3.0.0']);
 * const outcome = createValidator(conformance).validate(bundle);
 */
export function loadConformance(dirs: readonly string[], options: LoadOptions = {}): Conformance {
  const c = new Conformance();
  if (options.r4 !== false) addFromPath(c, R4_DIR);
  for (const d of dirs) addFromPath(c, d);
  return c;
}

let shipped: Conformance | undefined;

/**
 * The conformance resources shipped with the package (R4, MedCom, EHMI), loaded once on first use.
 *
 * @example
 * shippedConformance().structureDefinition('http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient');
 */
export function shippedConformance(): Conformance {
  shipped ??= loadConformance([MEDCOM_DIR, EHMI_DIR]);
  return shipped;
}
