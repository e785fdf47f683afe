// The TestScript engine (test/helpers/testscript.ts) itself, against the EDS role alone: what it reports holds when
// the server does what a script asks and fails when it does not, so a script that passes proves something. Scripts
// written here, in the shape of MedCom's; fixtures from the EDS TestScripts (fixtures/eds-testscripts/generated/).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { engines, type TestStore } from '../helpers/engines.ts';
import { FIXTURES } from '../helpers/fixtures.ts';
import { compare, containsMinimum, evaluate, runTestScript } from '../helpers/testscript.ts';
import { call, type Json, type RunningEds, startEds } from './helpers.ts';

/** A script beside the generated ones, so `../Fixtures/…` resolves as in MedCom's. */
const SCRIPT_PATH = join(FIXTURES, 'eds-testscripts', 'generated', 'ServerTests', 'engine-test.json');
const CREATE_FIXTURE = '../Fixtures/EdsPatientDeliveryStatusCreateFixture.json';
const op = (code: string, more: Json = {}): Json => ({
  operation: { type: { code }, resource: 'AuditEvent', ...more },
});
const check = (more: Json): Json => ({ assert: { description: JSON.stringify(more), ...more } });

describe('TestScript engine: FHIRPath and comparisons', () => {
  it("date arithmetic with a quoted calendar word ('minute') and a dateTime compared with a string literal", () => {
    const r = { resourceType: 'AuditEvent', recorded: '1997-02-02T19:18:11.111+01:00' };
    assert.deepEqual(evaluate(r, "recorded + 1 'minute' > recorded"), [true]);
    assert.deepEqual(evaluate(r, "recorded = '1997-02-02T19:18:11.111+01:00'"), [true]);
    assert.deepEqual(evaluate(r, "recorded = '1997-02-02T19:18:12.111+01:00'"), [false]);
  });
  it('operators: equals, in, greaterThan, empty … and minimumId containment', () => {
    assert.ok(compare('equals', '1', '1'));
    assert.ok(!compare('equals', '1', '0'));
    assert.ok(!compare('equals', undefined, ''));
    assert.ok(compare('in', '204', '200,204,404'));
    assert.ok(!compare('in', '405', '200,204,404'));
    assert.ok(compare('greaterThan', '8.2', '8.1'));
    assert.ok(compare('greaterThan', '10', '9.5'));
    assert.ok(compare('empty', undefined, undefined));
    assert.ok(compare('notContains', 'abc', 'x'));
    assert.throws(() => compare('bogus', 'a', 'b'));
    assert.ok(containsMinimum({ a: [{ b: 1 }, { b: 2 }], c: 'x' }, { a: [{ b: 2 }] }));
    assert.ok(!containsMinimum({ a: [{ b: 1 }] }, { a: [{ b: 2 }] }));
  });
});

for (const engine of engines()) {
  describe(`TestScript engine against the EDS role (${engine.name})`, { skip: engine.skip }, () => {
    let ts: TestStore;
    let eds: RunningEds;
    before(async () => {
      ts = await engine.open();
      eds = await startEds(ts);
    });
    after(async () => {
      await eds?.close();
      await ts?.cleanup();
    });

    const run = (script: Json, skipAssert?: (a: Json) => string | undefined) =>
      runTestScript(
        { resourceType: 'TestScript', id: 'engine-test', ...script },
        { baseUrl: eds.url, scriptPath: SCRIPT_PATH, ...(skipAssert ? { skipAssert } : {}) },
      );

    it('autocreate posts the fixture, variables read it and the search finds it; a wrong expectation fails', async () => {
      const report = await run({
        fixture: [
          { id: 'event', autocreate: true, autodelete: false, resource: { reference: CREATE_FIXTURE } },
        ],
        variable: [
          { name: 'recorded', expression: 'recorded', sourceId: 'event' },
          { name: 'from', expression: "recorded - 1 'minute'", sourceId: 'event' },
          { name: 'type', path: "entity.detail.where(type = 'ehmiMessageType').value", sourceId: 'event' },
        ],
        test: [
          {
            name: 'search',
            action: [
              op('search', {
                accept: 'json',
                // biome-ignore lint/suspicious/noTemplateCurlyInString: a TestScript variable, which the engine substitutes
                params: '?date=ge${from}&ehmiMessageType=${type}',
                responseId: 'found',
              }),
              check({ response: 'okay' }),
              check({ responseCode: '200' }),
              check({ contentType: 'json' }),
              check({ resource: 'Bundle' }),
              check({ headerField: 'Content-Type', operator: 'contains', value: 'fhir+json' }),
              check({
                // biome-ignore lint/suspicious/noTemplateCurlyInString: a TestScript variable, which the engine substitutes
                expression: "Bundle.entry.resource.where(recorded = '${recorded}').count()",
                value: '1',
              }),
              check({ expression: 'Bundle.entry.exists()' }),
              // Deliberately wrong: the engine must say so.
              check({ expression: 'Bundle.entry.count()', value: '2' }),
              check({ response: 'notFound' }),
              check({ expression: 'Bundle.total', operator: 'greaterThan', value: '5', warningOnly: true }),
              check({ expression: 'Bundle.total', value: '1', sourceId: 'found' }),
            ],
          },
        ],
      });
      const statuses = report.actions.map((a) => `${a.kind}:${a.status}`);
      assert.deepEqual(
        statuses,
        [
          'operation:pass', // autocreate
          'operation:pass',
          'assert:pass',
          'assert:pass',
          'assert:pass',
          'assert:pass',
          'assert:pass',
          'assert:pass',
          'assert:pass',
          'assert:fail',
          'assert:fail',
          'assert:warning',
          'assert:pass',
        ],
        JSON.stringify(report.actions, null, 1),
      );
      assert.match(report.failures[0]!.message, /Bundle\.entry\.count\(\): 1 equals 2 is false/);
      assert.match(report.failures[1]!.message, /response: 200 equals 404/);
      // The search URL had its values percent-encoded (encodeRequestUrl), so `+01:00`… arrived intact.
      assert.match(report.actions[1]!.message, /date=ge1997-02-02T\d\d%3A17%3A11\.111/);
    });

    it('operations EDS refuses are reported as answered (405), and a skipped assert is not evaluated', async () => {
      const report = await run(
        {
          fixture: [{ id: 'event', resource: { reference: CREATE_FIXTURE } }],
          test: [
            {
              name: 'refusals',
              action: [
                op('delete', { params: '?date=1997-02-02' }),
                check({ operator: 'in', responseCode: '200,204,404' }),
                op('capabilities', { resource: undefined, accept: 'xml' }),
                check({ contentType: 'xml' }),
                check({ validateProfileId: 'cap' }),
                check({ expression: 'software.version = "never"' }),
              ],
            },
          ],
          profile: [{ id: 'cap', reference: 'http://hl7.org/fhir/StructureDefinition/CapabilityStatement' }],
        },
        (a) => (String(a.expression).startsWith('software') ? 'about another product' : undefined),
      );
      assert.deepEqual(
        report.actions.map((a) => `${a.kind}:${a.status}`),
        ['operation:pass', 'assert:fail', 'operation:pass', 'assert:pass', 'assert:pass', 'assert:skip'],
        JSON.stringify(report.actions, null, 1),
      );
      assert.match(report.actions[0]!.message, /^DELETE .* → 405$/);
      assert.match(report.actions[2]!.message, /^GET .*\/metadata → 200$/);
    });

    it('a fixture that is not there fails the operation that posts it; teardown still runs', async () => {
      const report = await run({
        test: [{ name: 'create', action: [op('create', { sourceId: 'missing' })] }],
        teardown: { action: [op('search', { params: '?_summary=count' })] },
      });
      assert.deepEqual(
        report.actions.map((a) => `${a.section}:${a.status}`),
        ['test:fail', 'teardown:pass'],
      );
      const total = await call(`${eds.url}/AuditEvent?_summary=count`);
      assert.equal(total.status, 200);
    });
  });
}
