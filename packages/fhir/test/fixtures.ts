import { fileURLToPath } from 'node:url';

/**
 * The repository's fixtures/ folder (MedCom and EHMI examples, profiles; provenance in fixtures/SOURCES-*.md),
 * resolved from this file (packages/fhir/test → repo root). The one definition for the package's tests, bench and
 * resource build.
 */
export const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
