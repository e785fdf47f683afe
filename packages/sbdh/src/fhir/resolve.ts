/** Minimal helpers to read a FHIR message Bundle as plain JSON (no profile validation: that is `@ehmi/fhir`'s job). */

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export interface BundleEntry {
  fullUrl?: string;
  resource: Json;
  index: number;
}

export function entries(bundle: Json): BundleEntry[] {
  return arr(bundle.entry).flatMap((e, index) => {
    if (!isObject(e) || !isObject(e.resource)) return [];
    const fullUrl = str(e.fullUrl);
    return [fullUrl ? { fullUrl, resource: e.resource, index } : { resource: e.resource, index }];
  });
}

/**
 * Resolve a reference inside the Bundle (MedCom references are `aggregation = #bundled`): a relative `Type/id`, an
 * absolute URL matching an entry's fullUrl, or a `urn:uuid:` fullUrl.
 */
export function resolveReference(bundle: Json, reference: unknown): Json | undefined {
  const ref = isObject(reference) ? str(reference.reference) : undefined;
  if (!ref) return undefined;
  const all = entries(bundle);
  const byUrl = all.find((e) => e.fullUrl === ref);
  if (byUrl) return byUrl.resource;
  const m = /(?:^|\/)([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  if (!m) return undefined;
  const [, type, id] = m;
  return all.find((e) => e.resource.resourceType === type && e.resource.id === id)?.resource;
}

/** `identifier.where(system = <system>).value` of a resource, first match. */
export function identifierValue(resource: Json | undefined, system: string): string | undefined {
  if (!resource) return undefined;
  for (const id of arr(resource.identifier)) {
    if (isObject(id) && id.system === system) {
      const v = str(id.value);
      if (v) return v;
    }
  }
  return undefined;
}
