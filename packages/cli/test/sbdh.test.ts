import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseReceipt, scopeValue } from '@ehmi/sbdh';
import { ehmi, FIXTURES, tempFile } from './helpers.ts';

const HCO = join(
  FIXTURES,
  'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
);
const BIN = fileURLToPath(new URL('../bin/ehmi.js', import.meta.url));

describe('ehmi sbdh wrap', () => {
  it('prints the envelope of a MedCom FHIR message on stdout', async () => {
    const r = await ehmi('sbdh', 'wrap', HCO);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(scopeValue(parse(r.stdout), 'MESSAGEIDENTIFIER'), '489de4f2-0d8d-4de2-a7ce-ccb93568799f');
  });

  it('prints the archive copy with XDS-METADATA', async () => {
    const r = await ehmi('sbdh', 'wrap', '--archive', HCO);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(scopeValue(parse(r.stdout), 'XDS-METADATA')?.includes('DocumentReference'));
  });

  it('wraps a payload from --metadata', async () => {
    const payload = tempFile('letter.xml', '<Emessage xmlns="urn:oio"/>');
    const meta = tempFile(
      'meta.json',
      JSON.stringify({
        kind: 'oioxml',
        sender: '5790000123117',
        receiver: '5790000127092',
        standard: 'XDIS01',
        typeVersion: 'XD0131',
        documentId: 'urn:x',
        patientId: '0101010227',
      }),
    );
    const r = await ehmi('sbdh', 'wrap', payload, '--metadata', meta);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parse(r.stdout).profile, 'gs1');
  });

  it('fills an acknowledgement’s ORIGINAL* scopes from --original', async () => {
    const original = tempFile('orig.xml', (await ehmi('sbdh', 'wrap', HCO)).stdout);
    const ack = join(
      FIXTURES,
      'fhir/examples/medcom-acknowledgement-2.0.3/Bundle-a8c041b8-c65a-4fde-a90f-962076918834.json',
    );
    const r = await ehmi('sbdh', 'wrap', '--original', original, ack);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      scopeValue(parse(r.stdout), 'ORIGINALMESSAGEENVELOPEIDENTIFIER'),
      '401cbc36-db1e-4fe0-bf90-6df331dde179',
    );
  });

  it('exits 2 for a file it cannot read', async () => {
    const r = await ehmi('sbdh', 'wrap', '/nonexistent/message.json');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read/);
  });

  it('exits 1 naming the element when the MessageHeader is not first', async () => {
    const bundle = JSON.parse((await import('node:fs')).readFileSync(HCO, 'utf8')) as { entry: unknown[] };
    bundle.entry.reverse();
    const r = await ehmi('sbdh', 'wrap', tempFile('b.json', JSON.stringify(bundle)));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Bundle\.entry\[0\]\.resource/);
  });

  it('exits 1 for FHIR XML with a DOCTYPE', async () => {
    const r = await ehmi(
      'sbdh',
      'wrap',
      tempFile('b.xml', '<!DOCTYPE b><Bundle xmlns="http://hl7.org/fhir"/>'),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DOCTYPE/);
  });
});

describe('ehmi sbdh receipt', () => {
  it('prints a ReceiptAcknowledgement that correlates to the envelope', async () => {
    const envelope = (await ehmi('sbdh', 'wrap', HCO)).stdout;
    const r = await ehmi('sbdh', 'receipt', tempFile('env.xml', envelope));
    assert.equal(r.code, 0, r.stderr);
    const receipt = parseReceipt(r.stdout, parse(envelope));
    assert.equal(receipt.kind, 'ReceiptAcknowledgement');
    assert.equal(receipt.correlation?.matches, true);
  });

  it('prints a ReceiptException with --exception', async () => {
    const envelope = (await ehmi('sbdh', 'wrap', HCO)).stdout;
    const r = await ehmi(
      'sbdh',
      'receipt',
      tempFile('env.xml', envelope),
      '--exception',
      'schema invalid',
      '--category',
      'Syntax',
    );
    assert.equal(r.code, 0, r.stderr);
    const receipt = parseReceipt(r.stdout, parse(envelope));
    assert.equal(receipt.kind, 'ReceiptException');
    assert.deepEqual(receipt.exception, { category: 'Syntax', reason: 'schema invalid' });
  });

  it('refuses a ReceiptAcknowledgement for an invalid envelope, naming file and element', async () => {
    const envelope = (await ehmi('sbdh', 'wrap', HCO)).stdout.replace(
      '<HeaderVersion>1.0<',
      '<HeaderVersion>1.1<',
    );
    const file = tempFile('bad.xml', envelope);
    const r = await ehmi('sbdh', 'receipt', file);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bad\.xml:\d+: error: HeaderVersion/);
    assert.match(r.stderr, /--exception/);
  });

  it('answers an envelope with a broken BinaryContent with a ReceiptException', async () => {
    const envelope = (await ehmi('sbdh', 'wrap', HCO)).stdout;
    const broken = envelope.replace(/(<BinaryContent[^>]*>)[^<]*/, '$1%%%');
    const r = await ehmi('sbdh', 'receipt', tempFile('broken.xml', broken), '--exception', 'bad base64');
    assert.equal(r.code, 0, r.stderr);
    const receipt = parseReceipt(r.stdout, parse(envelope));
    assert.equal(receipt.kind, 'ReceiptException');
    assert.equal(receipt.correlation?.matches, true);
  });

  it('exits 2 for an unknown --category', async () => {
    const envelope = (await ehmi('sbdh', 'wrap', HCO)).stdout;
    const r = await ehmi(
      'sbdh',
      'receipt',
      tempFile('env.xml', envelope),
      '--exception',
      'x',
      '--category',
      'Bogus',
    );
    assert.equal(r.code, 2);
  });

  it('runs as a process through bin/ehmi.js', () => {
    const r = spawnSync(process.execPath, [BIN, 'sbdh', 'wrap', HCO], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /<StandardBusinessDocument /);
  });
});
