import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyNaptrRegexp,
  base32,
  bdxlHostname,
  type NaptrRecord,
  participantId,
  smlHostname,
  smpUrlFromNaptr,
} from '../../src/index.ts';

const pid = (v: string) => participantId(v, { lenient: true });

// Vectors: peppol-commons PeppolURLProviderTest / PeppolNaptrURLProviderTest (Peppol SML spec and POLICY 7 examples).
describe('Peppol SML CNAME names', () => {
  it('hash the lower-cased value with MD5 under B-', () => {
    assert.equal(
      smlHostname(pid('0088:123abc'), 'edelivery.tech.ec.europa.eu.'),
      'B-f5e78500450d37de5aabe6648ac3bb70.iso6523-actorid-upis.edelivery.tech.ec.europa.eu',
    );
  });

  it('give the same name for another casing of the value', () => {
    assert.equal(
      smlHostname(pid('0088:123ABC'), 'edelivery.tech.ec.europa.eu'),
      'B-f5e78500450d37de5aabe6648ac3bb70.iso6523-actorid-upis.edelivery.tech.ec.europa.eu',
    );
  });

  it('match the acceptance-zone vector for 9915:test', () => {
    assert.equal(
      smlHostname(pid('9915:test'), 'acc.edelivery.tech.ec.europa.eu'),
      'B-85008b8279e07ab0392da75fa55856a2.iso6523-actorid-upis.acc.edelivery.tech.ec.europa.eu',
    );
  });
});

describe('BDXL / Peppol NAPTR names', () => {
  it('match the POLICY 7 example (base32 SHA-256 of the lower-cased value, no padding)', () => {
    assert.equal(
      bdxlHostname(pid('0088:123ABC'), 'acc.edelivery.tech.ec.europa.eu'),
      'y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq.iso6523-actorid-upis.acc.edelivery.tech.ec.europa.eu',
    );
  });

  it('match the Peppol SML specification example', () => {
    assert.equal(
      bdxlHostname(pid('0010:5798000000001'), 'acc.edelivery.tech.ec.europa.eu.'),
      'xukhfqabqziki3ykvr2fhr4snfa3pf5vpq6k4tonv3lmvsy5arvq.iso6523-actorid-upis.acc.edelivery.tech.ec.europa.eu',
    );
  });

  it('match the peppol-commons vector for a 13-digit value', () => {
    assert.equal(
      bdxlHostname(pid('0088:1234567890123'), 'acc.edelivery.tech.ec.europa.eu'),
      'sjsyvccmqyjxk3weuapffq4x3umcrf4qryherj4vovhmonh7gccq.iso6523-actorid-upis.acc.edelivery.tech.ec.europa.eu',
    );
  });

  it('hash the whole encoded identifier when the scheme is not in the zone', () => {
    const name = bdxlHostname(pid('0088:123abc'), 'zone.test', { schemeInZone: false });
    assert.match(name, /^[a-z2-7]{52}\.zone\.test$/);
    assert.notEqual(name.split('.')[0], 'y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq');
  });

  it('encode base32 as RFC 4648 §10 without padding, lower case', () => {
    assert.equal(base32(Buffer.from('foobar')), 'mzxw6ytboi');
    assert.equal(base32(Buffer.from('f')), 'my');
    assert.equal(base32(Buffer.alloc(0)), '');
  });
});

const rec = (over: Partial<NaptrRecord>): NaptrRecord => ({
  flags: 'U',
  service: 'Meta:SMP',
  regexp: '!^.*$!https://smp.example/!',
  replacement: '.',
  order: 100,
  preference: 10,
  ...over,
});

describe('U-NAPTR Meta:SMP', () => {
  it('take the regexp result as the SMP URL', () => {
    assert.equal(smpUrlFromNaptr([rec({})], 'x.zone'), 'https://smp.example/');
  });

  it('prefer the lowest order, then the lowest preference', () => {
    const records = [
      rec({ order: 200, regexp: '!^.*$!https://late/!' }),
      rec({ order: 100, preference: 20, regexp: '!^.*$!https://second/!' }),
      rec({ order: 100, preference: 5, regexp: '!^.*$!https://first/!' }),
    ];
    assert.equal(smpUrlFromNaptr(records, 'x'), 'https://first/');
  });

  it('ignore records with another service or without the U flag', () => {
    const records = [rec({ service: 'Meta:Other', order: 1 }), rec({ flags: 'S', order: 2 })];
    assert.equal(smpUrlFromNaptr(records, 'x'), undefined);
  });

  it('match the service case-insensitively', () => {
    assert.equal(smpUrlFromNaptr([rec({ service: 'meta:smp', flags: 'u' })], 'x'), 'https://smp.example/');
  });

  it('apply back-references and escaped delimiters', () => {
    assert.equal(
      applyNaptrRegexp('!^([a-z]+)\\.zone$!https://\\1.smp/a\\!b!', 'abc.zone'),
      'https://abc.smp/a!b',
    );
  });

  it('refuse a result that is not an http(s) URL', () => {
    assert.equal(smpUrlFromNaptr([rec({ regexp: '!^.*$!ftp://smp/!' })], 'x'), undefined);
  });
});
