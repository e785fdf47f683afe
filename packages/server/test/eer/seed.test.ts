import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isEhmiError } from '@ehmi/errors';
import { eerResourcesFor, seedEer } from '../../src/eer/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { smpTestPki } from '../smp/helpers.ts';
import { fhir, type Json, type RunningEer, startEer } from './helpers.ts';

describe('eerResourcesFor / seedEer', () => {
  let ts: TestStore;
  let eer: RunningEer;
  before(async () => {
    ts = await engines()[0]!.open();
    eer = await startEer(ts);
  });
  after(async () => {
    await eer?.close();
    await ts?.cleanup();
  });

  it('builds an Organization, Endpoint and AP Device that EER accepts and can search', async () => {
    const pki = await smpTestPki();
    const resources = eerResourcesFor({
      key: 'gp',
      title: 'Skødstrup Lægepraksis',
      sor: '52581000016005',
      gln: '5790000127092',
      ydernummer: '061654',
      apUrl: 'https://127.0.0.1:8721/as4',
      apCertificate: pki.ap.certificatePem,
      address: { line: ['Skødstrupvej 1'], city: 'Skødstrup', postalCode: '8541' },
    });
    await seedEer(eer.url, resources);
    const found = await fhir(`${eer.url}/Organization?gln=5790000127092&_include=Organization:endpoint`);
    assert.equal(found.body.total, 1);
    const entries = found.body.entry as Json[];
    assert.deepEqual(
      entries.map((e) => `${(e.resource as Json).resourceType}/${(e.resource as Json).id}`),
      ['Organization/gp', 'Endpoint/gp-endpoint'],
    );
    assert.equal((await fhir(`${eer.url}/Device/gp-ap`)).status, 200);
  });

  it('seedEer leaves an unchanged resource alone (no new history version) and PUTs only what changed', async () => {
    const pki = await smpTestPki();
    const input = {
      key: 'again',
      title: 'Genstart Klinik',
      sor: '52581000016006',
      gln: '5790000127092',
      apUrl: 'https://127.0.0.1:8721',
      apCertificate: pki.ap.certificatePem,
    };
    const ids = ['Device/again-ap', 'Organization/again', 'Endpoint/again-endpoint'];
    const versions = async () =>
      Promise.all(ids.map(async (id) => (await fhir(`${eer.url}/${id}/_history`)).body.total));
    assert.deepEqual(await seedEer(eer.url, eerResourcesFor(input)), { written: ids, unchanged: [] });
    // A restart of `ehmi up` seeds the same resources again: nothing is written.
    assert.deepEqual(await seedEer(eer.url, eerResourcesFor(input)), { written: [], unchanged: ids });
    assert.deepEqual(await versions(), [1, 1, 1]);
    // A changed AP URL is a change of the Endpoint only.
    assert.deepEqual(await seedEer(eer.url, eerResourcesFor({ ...input, apUrl: 'https://127.0.0.1:8731' })), {
      written: ['Endpoint/again-endpoint'],
      unchanged: ['Device/again-ap', 'Organization/again'],
    });
    assert.deepEqual(await versions(), [1, 1, 2]);
    // A deleted resource (410 Gone) is written again.
    assert.equal((await fhir(`${eer.url}/Device/again-ap`, 'DELETE')).status < 300, true);
    const after = await seedEer(eer.url, eerResourcesFor({ ...input, apUrl: 'https://127.0.0.1:8731' }));
    assert.deepEqual(after.written, ['Device/again-ap']);
  });

  it('seedEer throws EHMI_VALIDATION_FAILED with EER’s OperationOutcome when a resource is refused', async () => {
    const pki = await smpTestPki();
    const resources = eerResourcesFor({
      key: 'bad',
      title: 'Bad',
      sor: '52581000016007',
      gln: '5790000127092',
      apUrl: 'https://127.0.0.1:8721/as4',
      apCertificate: pki.ap.certificatePem,
      messageTypes: ['not-a-message-type'],
    });
    await assert.rejects(seedEer(eer.url, resources), (e: unknown) => {
      assert.ok(isEhmiError(e));
      assert.equal(e.code, 'EHMI_VALIDATION_FAILED');
      assert.match(e.message, /Endpoint\/bad-endpoint/);
      return true;
    });
  });
});
