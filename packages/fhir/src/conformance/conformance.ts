import { EhmiError } from '@ehmi/errors';
import { generateSnapshot } from './snapshot.ts';
import type { CanonicalResource, CodeSystem, Json, StructureDefinition, ValueSet } from './types.ts';

/**
 * Compares FHIR business versions: numeric parts numerically, the rest as text; `undefined` sorts first.
 *
 * @example
 * compareVersions('2.10.0', '2.9.1'); // > 0
 */
export function compareVersions(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * An index of conformance resources by canonical URL and version (FHIR R4 §2.1.0.8 "canonical references":
 * `url|version` picks a version, a bare `url` the latest loaded one).
 *
 * @example
 * const c = new Conformance();
 * c.add(structureDefinition);
 * c.structureDefinition('http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-message');
 */
/**
 * What the index knows of a resource without its body: enough to find it by URL and version, and the few fields
 * that callers scanning every resource filter on (a StructureDefinition's `type` and `derivation`, a CodeSystem's
 * `valueSet`), so that a scan does not read every body.
 */
export interface ResourceSummary {
  resourceType: string;
  url: string;
  version?: string;
  type?: string;
  derivation?: string;
  valueSet?: string;
}

/** The summary of a resource body (see {@link ResourceSummary}). */
export function summaryOf(resource: CanonicalResource): ResourceSummary {
  const r = resource as Json;
  const s: ResourceSummary = { resourceType: resource.resourceType, url: resource.url };
  if (typeof r.version === 'string') s.version = r.version;
  if (typeof r.type === 'string') s.type = r.type;
  if (typeof r.derivation === 'string') s.derivation = r.derivation;
  if (typeof r.valueSet === 'string') s.valueSet = r.valueSet;
  return s;
}

interface Entry {
  summary: ResourceSummary;
  /** The body, once added or read. */
  resource?: CanonicalResource;
  /** Reads the body (a resource added with {@link Conformance.addLazily} and not read yet). */
  read?: () => CanonicalResource;
}

function bodyOf(e: Entry): CanonicalResource {
  if (e.resource === undefined) {
    e.resource = (e.read as () => CanonicalResource)();
    e.read = undefined;
  }
  return e.resource;
}

/**
 * An index of conformance resources by canonical URL and version (FHIR R4 §2.1.0.8 "canonical references":
 * `url|version` picks a version, a bare `url` the latest loaded one). A resource may be added with its body or
 * lazily (its summary and a function reading the body, on first resolution): the shipped resources are 13 MB of
 * JSON of which one message type's validation reads well under a tenth.
 *
 * @example
 * const c = new Conformance();
 * c.add(structureDefinition);
 * c.structureDefinition('http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-message');
 */
export class Conformance {
  readonly #byUrl = new Map<string, Entry[]>();
  readonly #byType = new Map<string, StructureDefinition>();
  #messageProfiles: Map<string, string> | undefined;
  readonly #problems = new WeakMap<StructureDefinition, string>();
  #generation = 0;

  /** Grows with every resource added: what is derived from the index (and cached) is stale when it changed. */
  get generation(): number {
    return this.#generation;
  }

  /** Adds a resource with a `url`; resources without one are ignored. Returns whether it was indexed. */
  add(resource: Json): boolean {
    const url = resource.url;
    if (typeof url !== 'string' || typeof resource.resourceType !== 'string') return false;
    const r = resource as CanonicalResource;
    return this.#index({ summary: summaryOf(r), resource: r });
  }

  /**
   * Adds a resource by its summary; `read` returns its body the first time it is resolved (and must return one
   * with the summary's `resourceType`, `url` and `version`). Returns whether it was indexed.
   */
  addLazily(summary: ResourceSummary, read: () => CanonicalResource): boolean {
    return this.#index({ summary, read });
  }

  #index(entry: Entry): boolean {
    const s = entry.summary;
    const list = this.#byUrl.get(s.url) ?? [];
    if (list.some((x) => x.summary.version === s.version && x.summary.resourceType === s.resourceType))
      return false;
    list.push(entry);
    list.sort((a, b) => compareVersions(b.summary.version, a.summary.version));
    this.#byUrl.set(s.url, list);
    this.#messageProfiles = undefined;
    this.#generation++;
    return true;
  }

  /** Every indexed resource (latest version of each URL first); reads every body not read yet. */
  *all(): Iterable<CanonicalResource> {
    for (const list of this.#byUrl.values()) for (const e of list) yield bodyOf(e);
  }

  /** What the index knows of every resource, without reading a body (latest version of each URL first). */
  *summaries(): Iterable<ResourceSummary> {
    for (const list of this.#byUrl.values()) for (const e of list) yield e.summary;
  }

  /** The body of a resource {@link summaries} gave (read now if it was not yet). */
  bodyOf(summary: ResourceSummary): CanonicalResource | undefined {
    const e = this.#byUrl.get(summary.url)?.find((x) => x.summary === summary);
    return e && bodyOf(e);
  }

  /** Looks up `url` or `url|version` (FHIR R4 canonical). */
  resolve(canonical: string, resourceType?: string): CanonicalResource | undefined {
    const bar = canonical.indexOf('|');
    const url = bar < 0 ? canonical : canonical.slice(0, bar);
    const version = bar < 0 ? undefined : canonical.slice(bar + 1);
    const list = this.#byUrl.get(url);
    if (!list) return undefined;
    const typed = resourceType ? list.filter((e) => e.summary.resourceType === resourceType) : list;
    // A version given as `1.2` also matches `1.2.x` (FHIR R4 "partial versions" habit of the IG Publisher).
    const found =
      version === undefined
        ? typed[0]
        : (typed.find((e) => e.summary.version === version) ??
          typed.find((e) => e.summary.version?.startsWith(`${version}.`)));
    return found && bodyOf(found);
  }

  /**
   * A StructureDefinition with a snapshot (generated from the differential when missing). One whose snapshot
   * cannot be generated is treated as not loaded; {@link problem} says why.
   */
  structureDefinition(canonical: string): StructureDefinition | undefined {
    const sd = this.resolve(canonical, 'StructureDefinition') as StructureDefinition | undefined;
    if (sd && !sd.snapshot) {
      if (this.#problems.has(sd)) return undefined;
      try {
        generateSnapshot(sd, this);
      } catch (e) {
        this.#problems.set(sd, e instanceof Error ? e.message : String(e));
        return undefined;
      }
    }
    return sd;
  }

  /** Why a loaded StructureDefinition cannot be used (its snapshot could not be generated), if it cannot. */
  problem(canonical: string): string | undefined {
    const sd = this.resolve(canonical, 'StructureDefinition') as StructureDefinition | undefined;
    return sd ? this.#problems.get(sd) : undefined;
  }

  /** The base (specialization) StructureDefinition of a FHIR type, e.g. `Patient` or `Coding`. */
  typeDefinition(type: string): StructureDefinition | undefined {
    const cached = this.#byType.get(type);
    if (cached) return cached;
    const url = type.includes('/') ? type : `http://hl7.org/fhir/StructureDefinition/${type}`;
    const sd = this.structureDefinition(url);
    if (sd) this.#byType.set(type, sd);
    return sd;
  }

  valueSet(canonical: string): ValueSet | undefined {
    return this.resolve(canonical, 'ValueSet') as ValueSet | undefined;
  }

  codeSystem(canonical: string): CodeSystem | undefined {
    return this.resolve(canonical, 'CodeSystem') as CodeSystem | undefined;
  }

  /** The StructureDefinition, or an EHMI_NOT_FOUND error naming the URL. */
  requireStructureDefinition(canonical: string): StructureDefinition {
    const sd = this.structureDefinition(canonical);
    if (!sd) throw new EhmiError('EHMI_NOT_FOUND', `No StructureDefinition loaded for ${canonical}`);
    return sd;
  }

  /** Cached map event code (`system|code` and bare `code`) → message Bundle profile; see message-profiles.ts. */
  get messageProfiles(): Map<string, string> | undefined {
    return this.#messageProfiles;
  }

  set messageProfiles(map: Map<string, string> | undefined) {
    this.#messageProfiles = map;
  }
}
