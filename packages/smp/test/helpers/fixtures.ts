import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository's fixtures/ (provenance in fixtures/SOURCES-*.md), resolved from packages/smp/test/helpers. */
export const FIXTURES = fileURLToPath(new URL('../../../../fixtures/', import.meta.url));
export const SMP_FIXTURES = `${FIXTURES}smp/`;

if (!existsSync(`${SMP_FIXTURES}peppol-signed-service-metadata2.xml`)) {
  throw new Error(`SMP fixtures not found at ${SMP_FIXTURES}`);
}

export function smpFixture(name: string): string {
  return readFileSync(`${SMP_FIXTURES}${name}`, 'utf8');
}

export function smpFixtureBytes(name: string): Buffer {
  return readFileSync(`${SMP_FIXTURES}${name}`);
}
