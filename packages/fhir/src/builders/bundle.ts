import type { Bundle, BundleEntry, MessageHeader, Reference, Resource } from '@medplum/fhirtypes';
import { invalidInput } from './common.ts';

/**
 * The entry a reference points at inside a message Bundle. MedCom references are bundled (`aggregation =
 * #bundled`) and written `<Type>/<id>`; an absolute reference or `urn:uuid:` matches a `fullUrl` exactly.
 */
export function resolveInBundle(bundle: Bundle, reference: Reference | undefined): BundleEntry | undefined {
  const target = reference?.reference;
  if (!target) return undefined;
  const entries = bundle.entry ?? [];
  const byFullUrl = entries.find((e) => e.fullUrl === target);
  if (byFullUrl) return byFullUrl;
  const m = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/.*)?$/.exec(target);
  if (!m) return undefined;
  return entries.find(
    (e) =>
      (e.resource?.resourceType === m[1] && e.resource?.id === m[2]) ||
      e.fullUrl?.endsWith(`/${m[1]}/${m[2]}`),
  );
}

/** The resource a reference points at inside the Bundle, or an error naming the reference. */
export function requireInBundle<T extends Resource>(
  bundle: Bundle,
  reference: Reference | undefined,
  resourceType: T['resourceType'],
  path: string,
): T {
  const resource = resolveInBundle(bundle, reference)?.resource;
  if (!resource || resource.resourceType !== resourceType || !resource.id) {
    throw invalidInput(
      path,
      `does not resolve to a ${resourceType} with an id in the Bundle (${reference?.reference ?? 'none'})`,
    );
  }
  return resource as T;
}

/** The MessageHeader of a message: entry[0] (invariant medcom-messaging-1). */
export function messageHeaderOf(bundle: Bundle): MessageHeader {
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'message') {
    throw invalidInput('Bundle', 'is not a FHIR message Bundle (type = message)');
  }
  const first = bundle.entry?.[0]?.resource;
  if (first?.resourceType !== 'MessageHeader' || !first.id) {
    throw invalidInput('Bundle.entry[0].resource', 'is not a MessageHeader with an id (medcom-messaging-1)');
  }
  return first;
}
