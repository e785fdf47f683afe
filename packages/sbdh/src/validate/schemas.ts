import { fileURLToPath } from 'node:url';
import { loadSchemaSet, type SchemaSet } from '@ehmi/xml';
import type { EnvelopeProfile } from '../constants.ts';

const RESOURCES = fileURLToPath(new URL('../../resources/', import.meta.url));

const ENTRIES: Record<EnvelopeProfile, { dir: string; entry: string }> = {
  ehmi: { dir: `${RESOURCES}xsd`, entry: 'ehmiStandardBusinessDocumentHeader.xsd' },
  gs1: { dir: `${RESOURCES}xsd-gs1`, entry: 'ehmi-gs1-entry.xsd' },
};

const cache = new Map<EnvelopeProfile, Promise<SchemaSet>>();

/** The packaged schema set for a profile, loaded once per process. */
export function schemaSet(profile: EnvelopeProfile): Promise<SchemaSet> {
  let set = cache.get(profile);
  if (!set) {
    const { dir, entry } = ENTRIES[profile];
    set = loadSchemaSet(dir, entry);
    cache.set(profile, set);
  }
  return set;
}
