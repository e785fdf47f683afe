import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadEnvelope, parse } from '@ehmi/sbdh';
import { HeldEnvelopes } from '../../src/ap/held.ts';
import { sbdhHeaderOf } from '../../src/delivery-status/header.ts';

const SAMPLE = new URL(
  '../../../../fixtures/ehmi-sbdh/examples/ehmisbdh_fullsample_ack.xml',
  import.meta.url,
);

function held(octets: number, hash = 'sha256:aa') {
  const bytes = readFileSync(SAMPLE);
  return { hash, bytes: Buffer.alloc(octets, bytes.subarray(0, 1)), loaded: loadEnvelope(bytes) };
}

describe('envelopes held for the hand-over', () => {
  it('are taken once, and only for the blob they were read from', () => {
    const h = new HeldEnvelopes();
    const a = held(100);
    h.hold('m1', a);
    assert.equal(h.take('m1', 'sha256:bb'), undefined);
    assert.equal(h.take('m1', 'sha256:aa'), undefined, 'a take for another blob drops it');
    h.hold('m1', a);
    assert.equal(h.take('m1', 'sha256:aa'), a);
    assert.equal(h.take('m1', 'sha256:aa'), undefined);
    assert.equal(h.size, 0);
  });

  it('hold at most their octets, the oldest going first; a larger one is not held', () => {
    const h = new HeldEnvelopes(250);
    h.hold('m1', held(100));
    h.hold('m2', held(100));
    h.hold('m3', held(100));
    assert.equal(h.size, 2);
    assert.equal(h.take('m1', 'sha256:aa'), undefined);
    assert.ok(h.take('m2', 'sha256:aa'));
    h.hold('m4', held(251));
    assert.equal(h.take('m4', 'sha256:aa'), undefined);
    assert.ok(h.take('m3', 'sha256:aa'));
  });
});

describe('the header of an envelope in memory', () => {
  it('reads what the whole envelope says of its sender, receiver and identification', () => {
    const text = readFileSync(SAMPLE, 'utf8');
    const whole = parse(text);
    const header = sbdhHeaderOf(text);
    assert.ok(header);
    assert.deepEqual(header.sender, whole.sender);
    assert.deepEqual(header.receiver, whole.receiver);
    assert.deepEqual(header.documentIdentification, whole.documentIdentification);
    assert.deepEqual(header.scopes, whole.scopes);
  });

  it('is undefined when no header ends in the text', () => {
    const text = readFileSync(SAMPLE, 'utf8');
    assert.equal(sbdhHeaderOf(text.slice(0, text.indexOf('</') + 2)), undefined);
  });
});
