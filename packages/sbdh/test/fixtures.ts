import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's fixtures/ folder (provenance in fixtures/SOURCES-*.md), resolved from this file. */
export const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
export const HCO = join(FIXTURES, 'fhir/examples/medcom-homecareobservation-1.2.1');
export const ACK = join(FIXTURES, 'fhir/examples/medcom-acknowledgement-2.0.3');
export const SBDH = join(FIXTURES, 'ehmi-sbdh');

/** MedCom's example Bundles (JSON) of the HomeCareObservation and Acknowledgement packages: the messages we wrap. */
export function exampleBundles(): string[] {
  return [HCO, ACK].flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.startsWith('Bundle-') && f.endsWith('.json'))
      .map((f) => join(dir, f)),
  );
}

export function fixture(...parts: string[]): Buffer {
  return readFileSync(join(FIXTURES, ...parts));
}

export function json(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** A fixed clock for deterministic envelopes. */
export const NOW = new Date('2026-03-02T09:15:30Z');

const hasXmllint = spawnSync('xmllint', ['--version']).status === 0;

/**
 * Debian's xmllint as an independent XSD check; `undefined` when it is not installed (the caller skips).
 */
export function xmllint(xml: string, schema: string): { ok: boolean; output: string } | undefined {
  if (!hasXmllint) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sbdh-'));
  const file = join(dir, 'envelope.xml');
  writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', '--schema', schema, file], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export const IG_XSD = join(SBDH, 'xsd/ehmiStandardBusinessDocumentHeader.xsd');
export const GS1_XSD = join(SBDH, 'xsd-gs1-orig/StandardBusinessDocumentHeader.xsd');
