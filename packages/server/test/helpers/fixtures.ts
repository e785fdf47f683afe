import { fileURLToPath } from 'node:url';

/**
 * The repository's fixtures/ folder (EHMI and MedCom examples; provenance in fixtures/SOURCES-*.md), resolved from
 * this file (packages/server/test/helpers → repo root). The one definition for the server's tests.
 */
export const FIXTURES = fileURLToPath(new URL('../../../../fixtures/', import.meta.url));
