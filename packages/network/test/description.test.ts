// The network description of `ehmi up --network FILE`: the built-in network is one, the published JSON Schema is the
// one the code checks with, the examples are valid, and a wrong field is refused naming its path.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MESSAGE_TYPES } from '@ehmi/server';
import pino from 'pino';
import {
  centralServicesOf,
  DEFAULT_NETWORK,
  isValidCvr,
  LOCAL_ORGANISATIONS,
  NETWORK_MESSAGE_TYPES,
  type NetworkDescription,
  networkJsonSchema,
  organisationsOf,
  parseNetworkDescription,
  planNetwork,
  readNetworkDescription,
} from '../src/index.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const json = (path: string): unknown => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));

/** The built-in network with one organisation changed. */
function withOrganisation(index: number, change: Record<string, unknown>): NetworkDescription {
  const organisations = DEFAULT_NETWORK.organisations.map((o, i) => (i === index ? { ...o, ...change } : o));
  return { ...DEFAULT_NETWORK, organisations } as NetworkDescription;
}

function refused(description: unknown, message: RegExp): void {
  assert.throws(
    () => parseNetworkDescription(description, 'net.json'),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'EHMI_CONFIG_INVALID');
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('network description', () => {
  it('the built-in network is a description of the three organisations of LOCAL_ORGANISATIONS', () => {
    const specs = organisationsOf(DEFAULT_NETWORK);
    assert.deepEqual(
      specs,
      LOCAL_ORGANISATIONS.map((o) => ({ ...o, receives: [...NETWORK_MESSAGE_TYPES] })),
    );
    assert.deepEqual(centralServicesOf(DEFAULT_NETWORK), [
      'auth',
      'eer',
      'eas',
      'smp',
      'dns',
      'eds',
      'console',
    ]);
    for (const o of LOCAL_ORGANISATIONS) assert.ok(isValidCvr(o.cvr), o.cvr);
  });

  it('examples/networks/local.json is the built-in network', () => {
    const { $schema, ...file } = json('examples/networks/local.json') as Record<string, unknown>;
    assert.equal($schema, '../../packages/network/schema/network.schema.json');
    assert.deepEqual(file, DEFAULT_NETWORK);
  });

  it('examples/networks/two-municipalities.json: four organisations, two of them municipalities', () => {
    const d = readNetworkDescription(join(ROOT, 'examples/networks/two-municipalities.json'));
    const specs = organisationsOf(d);
    assert.deepEqual(
      specs.map((s) => [s.name, s.role]),
      [
        ['municipality', 'municipality'],
        ['randers', 'municipality'],
        ['gp', 'gp'],
        ['hospital', 'hospital'],
      ],
    );
    assert.equal(specs[1]!.receives?.length, 2);
    assert.equal(specs[0]!.receives, undefined, 'receives left out: the default message types');
  });

  it('packages/network/schema/network.schema.json is the JSON Schema the code checks with (ehmi up --print-schema)', () => {
    const schema = networkJsonSchema();
    assert.deepEqual(json('packages/network/schema/network.schema.json'), schema);
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    const org = (schema.properties as Record<string, { items: { properties: Record<string, unknown> } }>)
      .organisations!.items.properties;
    assert.deepEqual((org.role as { enum: string[] }).enum, ['municipality', 'gp', 'hospital']);
    assert.deepEqual((org.gln as { pattern: string }).pattern, '^\\d{13}$');
  });

  it('refuses a wrong field naming its path', () => {
    refused(
      withOrganisation(1, { gln: '5790000127093' }),
      /^net\.json: organisations\[1\]\.gln: the last digit is not the GS1 check digit/,
    );
    refused(
      withOrganisation(0, { cvr: '29178438' }),
      /organisations\[0\]\.cvr: fails the CVR modulus-11 check/,
    );
    refused(
      withOrganisation(1, { ydernummer: undefined }),
      /organisations\[1\]\.ydernummer: a GP practice needs its ydernummer/,
    );
    refused(withOrganisation(2, { role: 'pharmacy' }), /organisations\[2\]\.role: /);
    refused(withOrganisation(2, { colour: 'blue' }), /organisations\[2\]: .*colour/);
    refused(withOrganisation(0, { name: 'Municipality A' }), /organisations\[0\]\.name: a lower-case name/);
    refused(
      withOrganisation(0, { name: 'central' }),
      /organisations\[0\]\.name: "central" is the central node's name/,
    );
    refused(
      withOrganisation(2, { gln: LOCAL_ORGANISATIONS[0]!.gln }),
      /organisations\[2\]\.gln: the GLN 5790000123117 is organisations\[0\]'s too/,
    );
    refused(
      withOrganisation(2, { name: 'gp' }),
      /organisations\[2\]\.name: the name gp is organisations\[1\]'s too/,
    );
    refused(
      withOrganisation(0, { receives: [DEFAULT_MESSAGE_TYPES[0]] }),
      /organisations\[0\]\.receives: must include the EnvelopeReceipt/,
    );
    refused(withOrganisation(0, { ports: { msh: 70000 } }), /organisations\[0\]\.ports\.msh: /);
    refused(
      { ...DEFAULT_NETWORK, central: { services: ['eer', 'eas', 'smp', 'dns'] } },
      /central\.services: auth is required/,
    );
    refused({ organisations: [] }, /^net\.json: organisations: /);
    refused([], /^net\.json: \(root\): /);
  });

  it('a file that is not JSON, or not there, is refused naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-description-'));
    try {
      assert.throws(
        () => readNetworkDescription(join(dir, 'missing.json')),
        /no network description at .*missing\.json/,
      );
      const bad = join(dir, 'bad.json');
      await import('node:fs/promises').then((fs) => fs.writeFile(bad, '{"organisations": ['));
      assert.throws(() => readNetworkDescription(bad), /bad\.json is not JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('two servers on one port are refused before anything is written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-description-'));
    try {
      const organisations = organisationsOf(withOrganisation(2, { ports: { ap: 20010 } }));
      await assert.rejects(
        planNetwork({
          dataDir: join(dir, 'net'),
          portBase: 20000,
          logger: pino({ level: 'silent' }),
          organisations,
        }),
        /organisation hospital: its ap port 20010 is organisation municipality's msh's too/,
      );
      assert.deepEqual(await import('node:fs/promises').then((fs) => fs.readdir(dir)), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
