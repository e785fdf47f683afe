// `ehmi registers` against a running local network: the EER's organisations with their publication to the SMP and
// EAS, and a failed publication (EAS stopped) shown with its reason and exit 1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EER_WRITE_SCOPES, fetchWithToken, type RunningNetwork, startNetwork } from '@ehmi/network';
import pino from 'pino';
import { eventually, freePortBase } from '../../server/test/e2e/helpers.ts';
import { runEhmi } from './helpers.ts';

interface Entry {
  id: string;
  sor: string;
  publications: { target: string; status: string; retrying?: boolean; reason?: string }[];
}

describe('ehmi registers', () => {
  let dir: string;
  let net: RunningNetwork | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-cli-registers-'));
  });
  after(async () => {
    await net?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists each organisation published to the SMP and EAS; a publication EAS cannot take is FAILED with its reason, exit 1', {
    timeout: 180_000,
  }, async () => {
    net = await startNetwork({
      dataDir: dir,
      portBase: await freePortBase(),
      logger: pino({ level: 'silent' }),
    });
    const entries = await eventually('every seeded organisation published', async () => {
      const r = await runEhmi(['registers', '--json', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      const list = JSON.parse(r.stdout) as Entry[];
      const done = list.every(
        (e) => e.publications.length === 2 && e.publications.every((p) => p.status === 'published'),
      );
      return done ? list : undefined;
    });
    // The document archive is registered as an organisation is.
    assert.deepEqual(entries.map((e) => e.id).sort(), ['archive', 'gp', 'hospital', 'municipality']);
    const human = await runEhmi(['registers', '--data', dir]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^EER: 4 organisations\n/);
    assert.match(human.stdout, /Organization\/gp .* SOR \d+\n {2}eas published \S+\n {2}smp published \S+\n/);

    // EAS goes away; a write to the gp's Organization cannot be pushed there.
    await net.central.roles.eas!.close();
    const m = net.manifest;
    const maintainer = fetchWithToken({
      authUrl: m.services.auth!,
      caPem: readFileSync(m.trustAnchor, 'utf8'),
      tls: m.maintainer.tls,
      clientId: m.maintainer.clientId,
      scope: EER_WRITE_SCOPES.join(' '),
      resource: m.services.eer!,
    });
    try {
      const url = `${m.services.eer}/Organization/gp`;
      const headers = { accept: 'application/fhir+json', 'content-type': 'application/fhir+json' };
      const gp = (await (await maintainer.fetch(url, { headers })).json()) as Record<string, unknown>;
      const put = await maintainer.fetch(url, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ ...gp, name: `${String(gp.name)} (renamed)` }),
      });
      assert.equal(put.status, 200, await put.text());
    } finally {
      await maintainer.close();
    }
    const failed = await eventually('the EAS publication failed', async () => {
      const r = await runEhmi(['registers', '--data', dir]);
      return r.code === 1 ? r : undefined;
    });
    assert.match(failed.stdout, /^EER: 4 organisations, 1 with a failed publication\n/);
    assert.match(
      failed.stdout,
      /Organization\/gp .*\n {2}eas FAILED \(\d+ attempts?, retrying\): EAS admin PUT \S+ failed/,
    );
    assert.match(failed.stdout, /Organization\/gp .*\n {2}eas FAILED .*\n {2}smp published/);
  });
});
