import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EhmiError } from '@ehmi/errors';
import { Conformance, type ResourceSummary, summaryOf } from './conformance.ts';
import type { CanonicalResource, Json } from './types.ts';

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

function unreadable(file: string, cause?: unknown): EhmiError {
  return new EhmiError('EHMI_INPUT_UNREADABLE', `Cannot read conformance file ${file}`, { cause });
}

function parse(text: string, file: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (cause) {
    throw unreadable(file, cause);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * The byte spans of the elements of a top-level `"entry"` array in JSON text, or undefined when the text has
 * none (a single resource). Only strings and brackets are tracked: the text is parsed as JSON span by span
 * afterwards, so malformed text is still refused there. UTF-8's multi-byte sequences never contain the ASCII
 * bytes looked for.
 */
function entrySpans(b: Buffer): [number, number][] | undefined {
  const spans: [number, number][] = [];
  let depth = 0;
  let inEntry = false;
  let entryDepth = 0;
  let start = -1;
  let keyStart = -1;
  let lastString = '';
  let key = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === QUOTE) {
      const open = i;
      i++;
      for (;;) {
        i = b.indexOf(QUOTE, i);
        if (i < 0) return undefined;
        let slashes = 0;
        while (b[i - 1 - slashes] === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
        i++;
      }
      if (depth === 1) {
        keyStart = open;
        lastString = b.toString('latin1', open + 1, i);
      }
    } else if (c === COLON) {
      if (depth === 1 && keyStart >= 0) key = lastString;
    } else if (c === 0x7b || c === 0x5b) {
      // { or [
      depth++;
      if (c === 0x5b && depth === 2 && key === 'entry') {
        inEntry = true;
        entryDepth = depth;
      } else if (inEntry && depth === entryDepth + 1 && c === 0x7b) start = i;
    } else if (c === 0x7d || c === 0x5d) {
      // } or ]
      if (inEntry && depth === entryDepth + 1 && c === 0x7d && start >= 0) {
        spans.push([start, i + 1]);
        start = -1;
      }
      if (inEntry && depth === entryDepth && c === 0x5d) inEntry = false;
      depth--;
    }
  }
  return spans.length > 0 ? spans : undefined;
}

/** Reads bytes [start, end) of `file`: a resource's body, read when it is first resolved. */
function readSpan(file: string, start: number, end: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.allocUnsafe(end - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    if (got !== buf.length) throw new Error('the file is shorter than when it was indexed');
    return buf.toString('utf8');
  } catch (cause) {
    throw unreadable(file, cause);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

interface Found {
  summary: ResourceSummary;
  /** The body, for a resource read whole (a single-resource file, a nested Bundle's). */
  resource?: Json;
  /** Where the body is: a Bundle entry's span, re-read on first resolution. */
  span?: [number, number];
}

/** The conformance resources of one JSON file: a Bundle's entries by their spans, anything else whole. */
function resourcesOfFile(file: string): { found: Found[]; packageVersion?: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    throw unreadable(file, cause);
  }
  const found: Found[] = [];
  const whole = (json: Json) => {
    for (const r of resourcesIn(json))
      if (typeof r.url === 'string') found.push({ summary: summaryOf(r as CanonicalResource), resource: r });
  };
  const spans = bytes[0] === 0x7b ? entrySpans(bytes) : undefined;
  if (spans === undefined) {
    const json = parse(bytes.toString('utf8'), file);
    if (typeof json !== 'object' || json === null) return { found };
    if (basename(file) === 'package.json')
      return typeof json.version === 'string' ? { found, packageVersion: json.version } : { found };
    whole(json);
  } else {
    for (const span of spans) {
      const entry = parse(bytes.toString('utf8', span[0], span[1]), file) as { resource?: Json };
      const r = entry.resource;
      if (!r) continue;
      if (r.resourceType === 'Bundle') whole(r);
      else if (
        typeof r.resourceType === 'string' &&
        CONFORMANCE_TYPES.has(r.resourceType) &&
        typeof r.url === 'string'
      )
        found.push({ summary: summaryOf(r as CanonicalResource), span });
    }
  }
  let packageVersion: string | undefined;
  for (const f of found)
    if (f.summary.resourceType === 'ImplementationGuide' && f.summary.version !== undefined)
      packageVersion = f.summary.version;
  return packageVersion === undefined ? { found } : { found, packageVersion };
}

/**
 * Adds every conformance resource found under `path` (a file, or a folder searched recursively) to `into`.
 * Resources without a `version` take their package's: the ImplementationGuide or `package.json` in the same
 * folder (SUSHI leaves `StructureDefinition.version` unset; the IG Publisher fills it from the IG). A Bundle's
 * entries are indexed by their place in the file and read when first resolved, so that what validation never
 * asks for is not kept in memory; a file changed since it was indexed is refused then (EHMI_INPUT_UNREADABLE).
 *
 * @example
 * const c = loadConformance([]);
 * addFromPath(c, './profiles/my-ig'); // number of resources added
 */
export function addFromPath(into: Conformance, path: string): number {
  const byDir = new Map<string, { file: string; found: Found }[]>();
  const packageVersion = new Map<string, string>();
  for (const file of jsonFiles(path)) {
    const dir = dirname(file);
    const { found, packageVersion: version } = resourcesOfFile(file);
    if (version !== undefined) packageVersion.set(dir, version);
    const list = byDir.get(dir) ?? [];
    for (const f of found) list.push({ file, found: f });
    byDir.set(dir, list);
  }
  let n = 0;
  for (const [dir, list] of byDir) {
    const version = packageVersion.get(dir);
    for (const { file, found } of list) {
      const own = found.summary.version;
      const summary =
        own === undefined && version !== undefined ? { ...found.summary, version } : found.summary;
      const withVersion = (r: Json): Json =>
        own === undefined && version !== undefined ? { ...r, version } : r;
      if (found.resource) {
        if (into.add(withVersion(found.resource))) n++;
        continue;
      }
      const [start, end] = found.span as [number, number];
      const read = (): CanonicalResource => {
        const entry = parse(readSpan(file, start, end), file) as { resource?: Json };
        const r = entry.resource;
        if (
          !r ||
          r.resourceType !== found.summary.resourceType ||
          r.url !== found.summary.url ||
          r.version !== own
        )
          throw unreadable(file, new Error(`${found.summary.url} is not where it was: the file changed`));
        return withVersion(r) as CanonicalResource;
      };
      if (into.addLazily(summary, read)) n++;
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
