import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { FIXTURES } from '../fixtures.ts';

export { FIXTURES };

/** fixtures/fhir/examples: the MedCom IGs' example instances. */
export const EXAMPLES = join(FIXTURES, 'fhir', 'examples');

export function example(folder: string, file: string): Bundle {
  return JSON.parse(readFileSync(join(EXAMPLES, folder, file), 'utf8')) as Bundle;
}

export const HOMECARE_401 = () =>
  example('medcom-homecareobservation-1.2.1', 'Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json');
export const ACK_FATAL = () =>
  example('medcom-acknowledgement-2.0.3', 'Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71.json');

export function resources(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).map((e) => e.resource as Resource);
}

export function ofType<T extends Resource>(bundle: Bundle, type: T['resourceType']): T[] {
  return resources(bundle).filter((r): r is T => r.resourceType === type);
}

/** The element paths a JSON value uses (`destination.extension.valueCoding.code`), ignoring values and indexes. */
export function shape(value: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) shape(v, prefix, out);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'resourceType' || k === 'id') continue;
      const path = prefix ? `${prefix}.${k}` : k;
      out.add(path);
      shape(v, path, out);
    }
  }
  return out;
}

/** Every `reference` string in a resource, with its JSON path. */
export function references(value: unknown, path = '', out: [string, string][] = []): [string, string][] {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) references(v, `${path}[${i}]`, out);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push([path, v]);
      else references(v, path ? `${path}.${k}` : k, out);
    }
  }
  return out;
}

/** True when `Type/id` names an entry of the Bundle (MedCom references are bundled). */
export function resolves(bundle: Bundle, reference: string): boolean {
  return (bundle.entry ?? []).some(
    (e) => e.fullUrl === reference || `${e.resource?.resourceType}/${e.resource?.id}` === reference,
  );
}

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
