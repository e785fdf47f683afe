// EDS search: the standard parameters (date with prefixes and partial dates, outcome, _id, _sort, _count, paging,
// _summary=count) and every EDS search parameter as its SearchParameter's expression says, in JSON and XML, over
// the EDS IG's sample events and two events shaped like the ones MedCom's EDS TestScripts register (our own values).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { xmlToJson } from '@ehmi/fhir';
import type { AuditNote } from '../../src/http/audit-note.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { call, edsFixture, edsSamples, type Json, type RunningEds, startEds } from './helpers.ts';

const DISPLAY: Record<string, string> = {
  ehmiPatient: 'Patient',
  ehmiMessage: 'Message',
  ehmiMessageEnvelope: 'Message Envelope',
  ehmiTransportEnvelope: 'Transport Envelope',
  ehmiOrigMessage: 'Original Message',
  ehmiOrigTransportEnvelope: 'Original Transport Envelope',
};
const OTHER_ID = 'http://medcomehmi.dk/ig/eds/StructureDefinition/eds-otherId';

/** An event like the TestScripts' fixtures: urn:uuid identifiers of every kind, a patient, its own organisations. */
function touchstoneLike(recorded: string, outcome: '0' | '8'): Json {
  const base = edsFixture('AuditEvent-EDS-BDS-07.1.json');
  const agent = (role: 'ehmiSender' | 'ehmiReceiver', sor: string, gln: string, name: string) => ({
    type: {
      coding: [
        {
          system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-participationroletype',
          code: role,
          display: role === 'ehmiSender' ? 'Sender' : 'Receiver',
        },
      ],
    },
    extension: [
      {
        url: OTHER_ID,
        valueIdentifier: {
          type: {
            coding: [
              {
                system:
                  'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-agent-who-identifier-types',
                code: 'GLN',
              },
            ],
          },
          value: gln,
        },
      },
    ],
    name,
    requestor: role === 'ehmiSender',
    who: { identifier: { value: sor } },
  });
  const entity = (code: string, value: string, detail?: [string, string][]) => ({
    type: {
      system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-entity-type',
      code,
      display: DISPLAY[code],
    },
    what: { identifier: { value } },
    ...(detail ? { detail: detail.map(([type, valueString]) => ({ type, valueString })) } : {}),
  });
  return {
    resourceType: 'AuditEvent',
    meta: {
      profile: ['http://medcomehmi.dk/ig/eds/StructureDefinition/EdsPatientDeliveryStatus'],
      tag: [{ id: 'our-tag', display: 'a tag with an element id' }],
    },
    type: base.type,
    subtype: base.subtype,
    action: 'C',
    recorded,
    outcome,
    agent: [
      agent(
        'ehmiSender',
        'urn:uuid:5f1c2a90-0000-4000-8000-000000000001',
        '5790000000011',
        'Our Test Sender',
      ),
      agent(
        'ehmiReceiver',
        'urn:uuid:5f1c2a90-0000-4000-8000-000000000002',
        '5790000000028',
        'Our Test Receiver',
      ),
    ],
    source: {
      observer: { identifier: { value: 'our-eua-device' } },
      type: [
        {
          system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-source-type',
          code: 'EUA',
        },
      ],
    },
    entity: [
      entity('ehmiPatient', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000aa'),
      entity('ehmiMessage', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b1', [
        ['ehmiMessageType', 'HomeCareObservation'],
        ['ehmiMessageVersion', '1.1'],
      ]),
      entity('ehmiMessageEnvelope', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b2', [
        ['ehmiMessageEnvelopeType', 'FHIR Bundle'],
      ]),
      entity('ehmiTransportEnvelope', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b3', [
        ['ehmiTransportEnvelopeType', 'SBDH'],
        ['ehmiTransportEnvelopeVersion', '2.0'],
      ]),
      entity('ehmiOrigMessage', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b4', [
        ['ehmiMessageType', 'HomeCareObservation'],
        ['ehmiMessageVersion', '1.1'],
      ]),
      entity('ehmiOrigTransportEnvelope', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b5', [
        ['ehmiTransportEnvelopeType', 'SBDH'],
        ['ehmiTransportEnvelopeVersion', '2.0'],
      ]),
    ],
  };
}

/** `entity.where(type.code = code).what.identifier.value` of a sample. */
const entityIds = (e: Json, code: string) =>
  (e.entity as Json[])
    .filter((x) => (x.type as Json).code === code)
    .map((x) => ((x.what as Json | undefined)?.identifier as Json | undefined)?.value)
    .filter((v): v is string => typeof v === 'string');
const agentOf = (e: Json, role: string) =>
  (e.agent as Json[]).find((a) => ((a.type as Json).coding as Json[]).some((c) => c.code === role))!;
const sorOf = (a: Json) => String((a.who as Json).identifier && ((a.who as Json).identifier as Json).value);
const glnOf = (a: Json) => String(((a.extension as Json[])[0]!.valueIdentifier as Json).value);

for (const engine of engines()) {
  describe(`EDS search (${engine.name})`, { skip: engine.skip }, () => {
    let ts: TestStore;
    let eds: RunningEds;
    /** Sample name (or `ts-create`, `ts-failure`) by the id EDS gave it. */
    const names = new Map<string, string>();
    const events = new Map<string, Json>();
    const notes: AuditNote[] = [];

    /** The names of the events a search finds, in JSON and in XML (both must agree); its total. */
    const find = async (query: string): Promise<{ names: string[]; total: number; bundle: Json }> => {
      const json = await call(`${eds.url}/AuditEvent?${query}`);
      assert.equal(json.status, 200, `${query}: ${json.text}`);
      const xml = await call(`${eds.url}/AuditEvent?${query}${query ? '&' : ''}_format=xml`);
      assert.equal(xml.status, 200, `${query} (xml): ${xml.text}`);
      const fromXml = xmlToJson(xml.text) as Json;
      const ids = (b: Json) =>
        ((b.entry as Json[] | undefined) ?? []).map((e) => String((e.resource as Json).id));
      assert.deepEqual(ids(fromXml), ids(json.body), `${query}: XML and JSON find the same`);
      assert.equal(fromXml.total, json.body.total);
      return {
        names: ids(json.body)
          .map((id) => names.get(id) ?? id)
          .sort(),
        total: json.body.total as number,
        bundle: json.body,
      };
    };
    const expect = (pick: (e: Json) => boolean) =>
      [...events]
        .filter(([, e]) => pick(e))
        .map(([n]) => n)
        .sort();

    before(async () => {
      ts = await engine.open();
      eds = await startEds(ts, { search: { defaultCount: 100 } }, undefined, {}, (role) => {
        role.app.addHook('onResponse', async (request) => {
          if (request.auditNote) notes.push(request.auditNote);
        });
      });
      const all = [
        ...edsSamples().map(({ name, event }) => [name.replace(/^AuditEvent-|\.json$/g, ''), event] as const),
        ['ts-create', touchstoneLike('1997-02-02T19:18:11.111+01:00', '0')] as const,
        ['ts-failure', touchstoneLike('1997-02-02T19:18:22.222+01:00', '8')] as const,
      ];
      for (const [name, event] of all) {
        const answer = await call(`${eds.url}/AuditEvent`, 'POST', event);
        assert.equal(answer.status, 201, `${name}: ${answer.text}`);
        names.set(String(answer.body.id), name);
        events.set(name, event);
      }
    });
    after(async () => {
      await eds?.close();
      await ts?.cleanup();
    });

    it('message-id: the ehmiMessage identifier, a case-insensitive prefix; :exact the whole value', async () => {
      const want = expect((e) => entityIds(e, 'ehmiMessage').includes('MSG1234567890'));
      assert.equal(want.length, 11);
      assert.deepEqual((await find('message-id=MSG1234567890')).names, want);
      assert.deepEqual((await find('message-id=msg1234567890')).names, want);
      assert.deepEqual((await find('message-id=MSG12345')).names, want);
      assert.deepEqual((await find('message-id:exact=msg1234567890')).names, []);
      assert.deepEqual((await find('message-id:exact=MSG1234567890')).names, want);
      assert.deepEqual(
        (await find('message-id=Ack1234567890,ACK-SBDH')).names,
        expect((e) =>
          entityIds(e, 'ehmiMessage').some((v) => v === 'Ack1234567890' || v.startsWith('ACK-SBDH')),
        ),
      );
    });

    it('orig-message-id and entityIdentifier (message, envelope, transport, original message, original transport)', async () => {
      assert.deepEqual(
        (await find('orig-message-id:exact=MSG1234567890')).names,
        expect((e) => entityIds(e, 'ehmiOrigMessage').includes('MSG1234567890')),
      );
      for (const [code, value] of [
        ['ehmiMessage', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b1'],
        ['ehmiMessageEnvelope', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b2'],
        ['ehmiTransportEnvelope', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b3'],
        ['ehmiOrigMessage', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b4'],
        ['ehmiOrigTransportEnvelope', 'urn:uuid:5f1c2a90-0000-4000-8000-0000000000b5'],
      ] as const) {
        assert.deepEqual(
          (await find(`entityIdentifier=${encodeURIComponent(value)}`)).names,
          ['ts-create', 'ts-failure'],
          code,
        );
      }
      const hco = 'SBDH-HCO-1234567890';
      assert.deepEqual(
        (await find(`entityIdentifier:exact=${hco}`)).names,
        expect(
          (e) =>
            entityIds(e, 'ehmiTransportEnvelope').includes(hco) ||
            entityIds(e, 'ehmiOrigTransportEnvelope').includes(hco),
        ),
      );
      assert.deepEqual(
        (await find('entityIdentifier=ENV2345678901')).names,
        expect((e) => entityIds(e, 'ehmiMessageEnvelope').includes('ENV2345678901')),
      );
      // The patient is no entity identifier.
      assert.deepEqual((await find('entityIdentifier=PAT1234567890')).names, []);
      assert.deepEqual((await find('entityIdentifier=invalid')).names, []);
    });

    it('sender-gln, sender-sor, sender-name, senderOrg; receiver-*, receiverOrg; participant-sor', async () => {
      const senderGln = (g: string) => expect((e) => glnOf(agentOf(e, 'ehmiSender')) === g);
      // GLN-1234 is a prefix of GLN-12345: string search finds both, :exact one.
      assert.deepEqual(
        (await find('sender-gln=GLN-1234')).names,
        expect((e) => glnOf(agentOf(e, 'ehmiSender')).startsWith('GLN-1234')),
      );
      assert.deepEqual((await find('sender-gln:exact=GLN-1234')).names, senderGln('GLN-1234'));
      assert.deepEqual((await find('sender-gln=GLN-12345')).names, senderGln('GLN-12345'));
      assert.deepEqual(
        (await find('receiver-gln:exact=GLN-1234')).names,
        expect((e) => glnOf(agentOf(e, 'ehmiReceiver')) === 'GLN-1234'),
      );
      const aarhus = '937961000016000';
      const fromAarhus = expect((e) => sorOf(agentOf(e, 'ehmiSender')) === aarhus);
      const toAarhus = expect((e) => sorOf(agentOf(e, 'ehmiReceiver')) === aarhus);
      assert.ok(fromAarhus.length > 0 && toAarhus.length > 0);
      assert.deepEqual((await find(`sender-sor=${aarhus}`)).names, fromAarhus);
      assert.deepEqual((await find(`receiver-sor=${aarhus}`)).names, toAarhus);
      assert.deepEqual((await find(`participant-sor=${aarhus}`)).names, [...fromAarhus, ...toAarhus].sort());
      assert.deepEqual((await find('sender-name=aarhus kommune')).names, fromAarhus);
      assert.deepEqual((await find('sender-name=Kommune')).names, [], 'a prefix, not a part');
      assert.deepEqual((await find('sender-name:contains=kommune')).names, fromAarhus);
      assert.deepEqual(
        (await find('receiver-name=LÆGERNE')).names,
        fromAarhus,
        'case-insensitive beyond ASCII',
      );
      // senderOrg / receiverOrg: the SOR id, the GLN or the name (what the TestScripts search by).
      for (const value of [
        'urn:uuid:5f1c2a90-0000-4000-8000-000000000001',
        '5790000000011',
        'Our Test Sender',
      ]) {
        assert.deepEqual(
          (await find(`senderOrg=${encodeURIComponent(value)}`)).names,
          ['ts-create', 'ts-failure'],
          value,
        );
      }
      for (const value of [
        'urn:uuid:5f1c2a90-0000-4000-8000-000000000002',
        '5790000000028',
        'Our Test Receiver',
      ]) {
        assert.deepEqual(
          (await find(`receiverOrg=${encodeURIComponent(value)}`)).names,
          ['ts-create', 'ts-failure'],
          value,
        );
      }
      for (const q of ['receiverOrg=invalid', 'senderOrg=invalid']) {
        const none = await find(q);
        assert.equal(none.total, 0);
        assert.deepEqual(none.names, []);
      }
    });

    it('cpr: the ehmiPatient identifier; the search is noted for the audit log as person-specific (MinLog)', async () => {
      notes.length = 0;
      assert.deepEqual(
        (await find('cpr=PAT1234567890')).names,
        expect((e) => entityIds(e, 'ehmiPatient').includes('PAT1234567890')),
      );
      assert.deepEqual(
        (await find(`cpr=${encodeURIComponent('urn:uuid:5f1c2a90-0000-4000-8000-0000000000aa')}`)).names,
        ['ts-create', 'ts-failure'],
      );
      assert.deepEqual((await find('cpr=invalid')).names, []);
      const cprNotes = notes.filter((n) => n.minlog);
      assert.equal(cprNotes.length, 6, JSON.stringify(notes));
      assert.deepEqual(cprNotes[0], {
        operation: 'search-type',
        resource: 'AuditEvent',
        patient: 'PAT1234567890',
        minlog: true,
      });
      notes.length = 0;
      await find('message-id=MSG1234567890');
      assert.ok(notes.length > 0 && notes.every((n) => !n.minlog && n.patient === undefined));
    });

    it('ehmiMessageType: a token on the message type details (the exact value)', async () => {
      const hco = expect((e) =>
        (e.entity as Json[]).some((x) =>
          ((x.detail as Json[] | undefined) ?? []).some(
            (d) => d.type === 'ehmiMessageType' && d.valueString === 'HomeCareObservation',
          ),
        ),
      );
      assert.ok(hco.length > 11);
      assert.deepEqual((await find('ehmiMessageType=HomeCareObservation')).names, hco);
      assert.deepEqual((await find('ehmiMessageType=|HomeCareObservation')).names, hco);
      assert.deepEqual((await find('ehmiMessageType=homecareobservation')).names, []);
      assert.deepEqual((await find('ehmiMessageType=HomeCare')).names, [], 'a token is no prefix');
      assert.deepEqual((await find('ehmiMessageType=invalid')).names, []);
      assert.deepEqual(
        (await find('ehmiMessageType=SBDH-Ack')).names,
        expect((e) =>
          (e.entity as Json[]).some((x) =>
            ((x.detail as Json[] | undefined) ?? []).some((d) => d.valueString === 'SBDH-Ack'),
          ),
        ),
      );
    });

    it('outcome: 8 finds the failure, 0 does not', async () => {
      assert.deepEqual((await find('outcome=8')).names, ['ts-failure']);
      assert.deepEqual((await find('outcome=http://hl7.org/fhir/audit-event-outcome|8')).names, [
        'ts-failure',
      ]);
      assert.deepEqual((await find('outcome=http://example.org|8')).names, []);
      const success = await find('outcome=0');
      assert.ok(success.names.includes('ts-create') && !success.names.includes('ts-failure'));
      assert.equal(success.total, 35);
    });

    it('date: ranges with ge/le around recorded (a minute either side), gt beyond it, precision and prefixes', async () => {
      const plus = encodeURIComponent('+');
      // What the TestScripts ask: recorded − 1 minute … recorded + 1 minute, and ge the upper end.
      assert.deepEqual(
        (await find(`date=ge1997-02-02T19:17:11.111${plus}01:00&date=le1997-02-02T19:19:11.111${plus}01:00`))
          .names,
        ['ts-create', 'ts-failure'],
      );
      assert.deepEqual(
        (await find(`date=ge1997-02-02T19:19:11.111${plus}01:00`)).names.filter((n) => n.startsWith('ts-')),
        [],
      );
      // An unencoded + arrives as a space; it is read as the + it was.
      assert.deepEqual(
        (await find('date=ge1997-02-02T19:18:20+01:00&date=lt1997-02-02T19:19:00+01:00')).names,
        ['ts-failure'],
      );
      // Precision: the second 00:00:01 (+02:00) holds 01.1 only; the year 1997 and the month hold both.
      assert.deepEqual((await find(`date=2025-11-01T00:00:01${plus}02:00`)).names, ['EDS-PDS-01.1']);
      assert.deepEqual((await find('date=1997')).names, ['ts-create', 'ts-failure']);
      assert.deepEqual((await find('date=1997-02')).names, ['ts-create', 'ts-failure']);
      assert.deepEqual((await find('date=1997-02-02T18:18Z')).names, ['ts-create', 'ts-failure']);
      assert.deepEqual((await find('date=1997-02-02T18:18:11.111Z')).names, ['ts-create']);
      assert.deepEqual(
        (await find(`date=ge2025-11-01T00:00:00${plus}02:00&date=lt2025-11-01T00:00:05${plus}02:00`)).names,
        ['EDS-PDS-01.1', 'EDS-PDS-01.2', 'EDS-PDS-02.1', 'EDS-PDS-02.2', 'EDS-PDS-03.1'],
      );
      assert.deepEqual((await find('date=lt2000')).names, ['ts-create', 'ts-failure']);
      assert.deepEqual((await find('date=eb2000')).names, ['ts-create', 'ts-failure']);
      assert.equal((await find('date=sa2000')).total, 34);
      // gt: after the whole second 22:00:23 (UTC); ge: from its start.
      assert.deepEqual((await find('date=gt2025-10-31T22:00:23Z')).names, ['EDS-BDS-20.1']);
      assert.deepEqual((await find('date=ge2025-10-31T22:00:23Z')).names, ['EDS-BDS-19.2', 'EDS-BDS-20.1']);
      assert.equal((await find('date=ne1997')).total, 34);
      assert.deepEqual((await find('date=le1997-02-02T18:18:11.111Z')).names, ['ts-create']);
      // OR within one parameter.
      assert.deepEqual((await find('date=1997,2024')).names, ['ts-create', 'ts-failure']);
      for (const bad of ['date=yesterday', 'date=ap1997', 'date=2025-13', 'date=2025-11-01T25:00Z']) {
        const answer = await call(`${eds.url}/AuditEvent?${bad}`);
        assert.equal(answer.status, 400, `${bad}: ${answer.text}`);
        assert.equal(answer.body.resourceType, 'OperationOutcome');
      }
    });

    it('_sort by date, -date and _lastUpdated; _id', async () => {
      const byDate = await find('message-id=MSG1234567890&_sort=date');
      const recorded = ((byDate.bundle.entry as Json[]) ?? []).map((e) =>
        Date.parse(String((e.resource as Json).recorded)),
      );
      assert.deepEqual(
        recorded,
        [...recorded].sort((a, b) => a - b),
      );
      const desc = await find('message-id=MSG1234567890&_sort=-date');
      const recordedDesc = ((desc.bundle.entry as Json[]) ?? []).map((e) =>
        Date.parse(String((e.resource as Json).recorded)),
      );
      assert.deepEqual(recordedDesc, [...recorded].reverse());
      const updated = await find('_sort=-_lastUpdated&_count=1');
      assert.deepEqual(updated.names, ['ts-failure']);
      const id = [...names].find(([, n]) => n === 'EDS-PDS-03.2')![0];
      assert.deepEqual((await find(`_id=${id}`)).names, ['EDS-PDS-03.2']);
      const bad = await call(`${eds.url}/AuditEvent?_sort=name`);
      assert.equal(bad.status, 400);
    });

    it('paging: _count pages through every match with next and previous links that work; _summary=count; total', async () => {
      const seen: string[] = [];
      let url: string | undefined = `${eds.url}/AuditEvent?message-id=MSG1234567890&_count=4&_sort=date`;
      const pages: Json[] = [];
      while (url) {
        const page = await call(url);
        assert.equal(page.status, 200, page.text);
        assert.equal(page.body.total, 11);
        pages.push(page.body);
        for (const e of (page.body.entry as Json[] | undefined) ?? [])
          seen.push(String((e.resource as Json).id));
        url =
          ((page.body.link as Json[]).find((l) => l.relation === 'next')?.url as string | undefined) ??
          undefined;
      }
      assert.equal(pages.length, 3);
      assert.equal(seen.length, 11);
      assert.equal(new Set(seen).size, 11);
      const previous = (pages[2]!.link as Json[]).find((l) => l.relation === 'previous')?.url as string;
      const back = await call(previous);
      assert.deepEqual(back.body.entry, pages[1]!.entry);
      assert.equal(
        (pages[0]!.link as Json[]).find((l) => l.relation === 'previous'),
        undefined,
      );
      const count = await call(`${eds.url}/AuditEvent?message-id=MSG1234567890&_summary=count`);
      assert.equal(count.body.total, 11);
      assert.equal(count.body.entry, undefined);
    });

    it('an unknown parameter or modifier is 400 with an OperationOutcome', async () => {
      for (const q of [
        'colour=blue',
        'message-id:missing=true',
        'ehmiMessageType:exact=x',
        'outcome:not=0',
        '_count=x',
      ]) {
        const answer = await call(`${eds.url}/AuditEvent?${q}`);
        assert.equal(answer.status, 400, `${q}: ${answer.text}`);
        assert.equal(answer.body.resourceType, 'OperationOutcome');
      }
    });
  });
}
