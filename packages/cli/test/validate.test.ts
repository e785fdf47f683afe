import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ehmi, FIXTURES, tempFile } from './helpers.ts';

const SBDH = join(FIXTURES, 'ehmi-sbdh');
const valid = join(SBDH, 'examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml');
const variant = join(SBDH, 'examples/ehmiSBDH_9a6ff822_HomeCareObservation_XDS_full.xml');
const text = readFileSync(valid, 'utf8');
const BIN = fileURLToPath(new URL('../bin/ehmi.js', import.meta.url));

describe('ehmi validate', () => {
  it('exits 0 for valid envelopes and names the schema', async () => {
    const r = await ehmi('validate', valid, join(SBDH, 'pages/TestExampleXDSEmbeddedHCO.xml'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid against ehmiSBDH 2\.0\.1/);
  });

  it('exits 0 for a known variant and prints its warnings', async () => {
    const r = await ehmi('validate', variant);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: .*XDS_METADATA/);
  });

  it('exits 1 for a missing Receiver, one line naming file and element', async () => {
    const file = tempFile('no-receiver.xml', text.replace(/<Receiver>[\s\S]*?<\/Receiver>/, ''));
    const r = await ehmi('validate', file);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`^${file}:\\d+: error: StandardBusinessDocumentHeader/Receiver: `, 'm'),
    );
  });

  it('exits 1 for a wrong HeaderVersion', async () => {
    const r = await ehmi(
      'validate',
      tempFile('hv.xml', text.replace('<HeaderVersion>1.0<', '<HeaderVersion>1.1<')),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: HeaderVersion: /);
  });

  it('exits 1 for an unknown Scope Type', async () => {
    const r = await ehmi(
      'validate',
      tempFile('st.xml', text.replace('<Type>PROCESSID</Type>', '<Type>PROCESS_ID</Type>')),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /PROCESS_ID/);
  });

  it('exits 1 for a broken BinaryContent', async () => {
    const r = await ehmi(
      'validate',
      tempFile('bc.xml', text.replace(/(<BinaryContent[^>]*>)\s*[^<]*/, '$1QUJD=x')),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: BinaryContent: /);
  });

  it('exits 1 for malformed XML and for a DOCTYPE', async () => {
    assert.equal((await ehmi('validate', tempFile('m.xml', text.replace('</Sender>', '</Sendr>')))).code, 1);
    assert.equal((await ehmi('validate', tempFile('d.xml', text.replace('?>', '?><!DOCTYPE x>')))).code, 1);
  });

  it('exits 1 when any one file of several is invalid', async () => {
    const r = await ehmi(
      'validate',
      valid,
      tempFile('hv.xml', text.replace('<HeaderVersion>1.0<', '<HeaderVersion>2<')),
    );
    assert.equal(r.code, 1);
  });

  it('exits 2 for a file that cannot be read', async () => {
    const r = await ehmi('validate', '/nonexistent/envelope.xml');
    assert.equal(r.code, 2);
  });

  it('exits 2 for a file whose kind it does not recognise', async () => {
    assert.equal((await ehmi('validate', tempFile('other.xml', '<Invoice xmlns="urn:x"/>'))).code, 2);
    assert.equal((await ehmi('validate', tempFile('notes.txt', 'plain text'))).code, 2);
  });

  it('exits 2 without arguments', async () => {
    assert.equal((await ehmi('validate')).code, 2);
  });

  it('keeps its exit codes as a process', () => {
    const r = spawnSync(process.execPath, [BIN, 'validate', valid, '/nonexistent.xml'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    const bad = spawnSync(
      process.execPath,
      [BIN, 'validate', tempFile('x.xml', text.replace('<HeaderVersion>1.0<', '<HeaderVersion>2<'))],
      { encoding: 'utf8' },
    );
    assert.equal(bad.status, 1);
  });
});
