import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { BundleEntry, Reference, Resource } from '@medplum/fhirtypes';

/** Clock and id source, injectable for tests; defaults are the system clock and `crypto.randomUUID`. */
export interface BuildContext {
  /** Current time. Default `new Date()`. */
  now?: () => Date;
  /** A new id. Default `crypto.randomUUID()` (MedCom ids are UUID v4: medcom-fhir.md §1.5). */
  newId?: () => string;
}

export interface ResolvedContext {
  now: () => Date;
  newId: () => string;
}

export function resolveContext(ctx: BuildContext | undefined): ResolvedContext {
  return { now: ctx?.now ?? (() => new Date()), newId: ctx?.newId ?? (() => randomUUID()) };
}

/**
 * A FHIR `instant` in UTC with an explicit `Z`, to the second. MedCom: every dateTime and instant SHALL carry a
 * timezone (052.2 MessageHeader Identifiers and Timestamps, medcom-fhir.md §1.5).
 */
export function instant(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// FHIR dateTime with a time part must carry a timezone; MedCom requires it (medcom-fhir.md §1.5).
const DATE_TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

export function requireDateTime(value: string, path: string): string {
  if (!DATE_TIME_WITH_ZONE.test(value)) {
    throw invalidInput(path, `${JSON.stringify(value)} is not a FHIR dateTime with a timezone (Z or ±hh:mm)`);
  }
  return value;
}

export function requireText(value: string | undefined, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalidInput(path, 'is required');
  return value;
}

export function invalidInput(path: string, message: string): EhmiError {
  return new EhmiError('EHMI_VALIDATION_FAILED', `${path} ${message}`, { expression: [path] });
}

/** The relative reference MedCom uses inside a message: `<Type>/<id>` (medcom-fhir.md §1.1). */
export function ref<T extends Resource>(resource: T): Reference<T> {
  return { reference: `${resource.resourceType}/${resource.id}` };
}

/** A Bundle entry with `fullUrl` `<base>/<Type>/<id>`, the form of the MedCom examples. */
export function entry(base: string, resource: Resource): BundleEntry {
  return { fullUrl: `${base.replace(/\/+$/, '')}/${resource.resourceType}/${resource.id}`, resource };
}
