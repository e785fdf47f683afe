import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
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

/** Where a top-level `"entry"` array is in JSON text: its brackets, its object elements, how many such keys. */
interface EntryLayout {
  open: number;
  close: number;
  spans: [number, number][];
  keys: number;
}

/**
 * The layout of the top-level `"entry"` array in JSON text, or undefined when there is none. Only strings and
 * brackets are tracked (UTF-8's multi-byte sequences never contain the ASCII bytes looked for); what lies between
 * is checked by {@link bundleEntries}.
 */
function entryLayout(b: Buffer): EntryLayout | undefined {
  const spans: [number, number][] = [];
  let depth = 0;
  let inEntry = false;
  let open = -1;
  let close = -1;
  let keys = 0;
  let start = -1;
  let lastString = '';
  let key = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === QUOTE) {
      const from = i;
      i++;
      for (;;) {
        i = b.indexOf(QUOTE, i);
        if (i < 0) return undefined;
        let slashes = 0;
        while (b[i - 1 - slashes] === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
        i++;
      }
      if (depth === 1) lastString = b.toString('latin1', from + 1, i);
    } else if (c === COLON) {
      if (depth === 1) {
        key = lastString;
        if (key === 'entry') keys++;
      }
    } else if (c === 0x7b || c === 0x5b) {
      // { or [
      depth++;
      if (c === 0x5b && depth === 2 && key === 'entry' && open < 0) {
        inEntry = true;
        open = i;
      } else if (inEntry && depth === 3 && c === 0x7b) start = i;
    } else if (c === 0x7d || c === 0x5d) {
      // } or ]
      if (inEntry && depth === 3 && c === 0x7d && start >= 0) {
        spans.push([start, i + 1]);
        start = -1;
      }
      if (inEntry && depth === 2 && c === 0x5d) {
        inEntry = false;
        close = i;
      }
      depth--;
    }
  }
  return open >= 0 && close > open ? { open, close, spans, keys } : undefined;
}

const isJsonSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * A Bundle file's root (its entry array empty) and its entries, each parsed on its own, exactly as JSON.parse of
 * the whole text would give them; undefined when anything is unusual (no entry, two `entry` keys, an element that
 * is not an object, anything but commas and white space between the elements, not a Bundle, text JSON refuses),
 * and the file is then parsed whole. So a file is never held whole as objects when its entries can be had one by
 * one: at load that would be the node's peak of memory (13 MB of JSON are ~50 MB of objects).
 */
function bundleEntries(
  b: Buffer,
  file: string,
): { root: Json; entries: Json[]; spans: [number, number][] } | undefined {
  const layout = b[0] === 0x7b ? entryLayout(b) : undefined;
  if (layout?.keys !== 1 || layout.spans.length === 0) return undefined;
  let at = layout.open + 1;
  for (let k = 0; k <= layout.spans.length; k++) {
    const end = k < layout.spans.length ? (layout.spans[k] as [number, number])[0] : layout.close;
    let commas = 0;
    for (; at < end; at++) {
      const c = b[at];
      if (c === 0x2c) commas++;
      else if (!isJsonSpace(c)) return undefined;
    }
    if (commas !== (k === 0 || k === layout.spans.length ? 0 : 1)) return undefined;
    if (k < layout.spans.length) at = (layout.spans[k] as [number, number])[1];
  }
  let root: Json;
  try {
    root = JSON.parse(
      `${b.toString('utf8', 0, layout.open)}[]${b.toString('utf8', layout.close + 1)}`,
    ) as Json;
  } catch {
    return undefined;
  }
  if (root?.resourceType !== 'Bundle' || !Array.isArray(root.entry) || root.entry.length !== 0)
    return undefined;
  const entries = layout.spans.map(([from, to]) => parse(b.toString('utf8', from, to), file));
  return { root, entries, spans: layout.spans };
}

/** A file's identity when it was indexed: a span is read from it only while it is still that file. */
interface FileState {
  ino: number;
  size: number;
  mtimeMs: number;
}

const sameState = (a: FileState, b: FileState): boolean =>
  a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

/**
 * Bytes [start, end) of `file` as text, or undefined when the file is no longer the one indexed (replaced, edited,
 * shorter) or cannot be read.
 */
function readSpan(file: string, state: FileState, start: number, end: number): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const st = fstatSync(fd);
    if (!sameState(state, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs })) return undefined;
    const buf = Buffer.allocUnsafe(end - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) return undefined;
      got += n;
    }
    return buf.toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const sameResource = (r: Json | undefined, s: ResourceSummary): boolean =>
  r !== undefined &&
  r.resourceType === s.resourceType &&
  r.url === s.url &&
  summaryOf(r as CanonicalResource).version === s.version;

/**
 * The body of a Bundle entry indexed at `span`: read from the file while it is the file indexed; else (the file
 * replaced or edited since, e.g. by an upgrade in place) the file read again whole and the resource of the same
 * type, URL and version taken from it. A resource that is no longer there is the node's fault, not the caller's:
 * EHMI_INTERNAL, with the file named in the server's log only.
 */
function readEntry(file: string, state: FileState, span: [number, number], summary: ResourceSummary): Json {
  const text = readSpan(file, state, span[0], span[1]);
  if (text !== undefined) {
    try {
      const r = (JSON.parse(text) as { resource?: Json }).resource;
      if (sameResource(r, summary)) return r as Json;
    } catch {
      // read again whole, below
    }
  }
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as Json;
    for (const r of resourcesIn(json)) if (sameResource(r, summary)) return r;
  } catch {
    // refused below
  }
  throw new EhmiError(
    'EHMI_INTERNAL',
    `The conformance resource ${summary.url} is no longer in ${file}, where it was when the node started`,
  );
}

interface Found {
  summary: ResourceSummary;
  /** The body, for a resource read whole (a single-resource file, a nested Bundle's). */
  resource?: Json;
  /** Where the body is: a Bundle entry's span, re-read on first resolution. */
  span?: [number, number];
  /** The file as it was when the span was found. */
  state?: FileState;
}

/**
 * The conformance resources of one JSON file. The file is parsed whole, as JSON decides (a broken file is refused
 * here, at load); a Bundle's entries are then kept as their spans in the file, when the spans found are exactly its
 * entries, one to one, else whole.
 */
function resourcesOfFile(file: string): { found: Found[]; packageVersion?: string } {
  let bytes: Buffer;
  let state: FileState;
  let fd: number | undefined;
  try {
    // The state and the bytes of one open file: an edit after this is seen by the state at a later read.
    fd = openSync(file, 'r');
    const st = fstatSync(fd);
    state = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    bytes = readFileSync(fd);
  } catch (cause) {
    throw unreadable(file, cause);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const found: Found[] = [];
  const whole = (json: Json) => {
    for (const r of resourcesIn(json))
      if (typeof r.url === 'string') found.push({ summary: summaryOf(r as CanonicalResource), resource: r });
  };
  const lean = basename(file) === 'package.json' ? undefined : bundleEntries(bytes, file);
  if (lean) {
    const { entries } = lean;
    // A root's entry of another kind than an object was refused by bundleEntries: each is an object here.
    for (let i = 0; i < entries.length; i++) {
      const r = (entries[i] as { resource?: Json }).resource;
      if (!r || typeof r !== 'object') continue;
      if (r.resourceType === 'Bundle') whole(r);
      else if (
        typeof r.resourceType === 'string' &&
        CONFORMANCE_TYPES.has(r.resourceType) &&
        typeof r.url === 'string'
      )
        found.push({
          summary: summaryOf(r as CanonicalResource),
          span: lean.spans[i] as [number, number],
          state,
        });
    }
  } else {
    const json = parse(bytes.toString('utf8'), file);
    if (typeof json !== 'object' || json === null) return { found };
    if (basename(file) === 'package.json')
      return typeof json.version === 'string' ? { found, packageVersion: json.version } : { found };
    whole(json);
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
 * asks for is not kept in memory. A file replaced or edited since is read again whole then, and the resource of the
 * same type, URL and version taken from it; one no longer there is EHMI_INTERNAL.
 *
 * @example
 * const c = loadConformance([]);
 * addFromPath(c, './profiles/my-ig'); // number of resources added
 */
export function addFromPath(into: Conformance, path: string): number {
  // Absolute: a body is read when first resolved, whatever the working directory is then.
  path = resolve(path);
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
      const span = found.span as [number, number];
      const state = found.state as FileState;
      const read = (): CanonicalResource =>
        withVersion(readEntry(file, state, span, found.summary)) as CanonicalResource;
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
