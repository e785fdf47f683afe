import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnvelope } from '../../src/soap/envelope.ts';
import { userMessageEnvelope } from '../helpers.ts';

const EB = 'xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"';
const S12 = 'xmlns:S12="http://www.w3.org/2003/05/soap-envelope"';
const WSU = 'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"';

describe('parseEnvelope', () => {
  it('locates Header, Body and the one eb:Messaging of a SOAP 1.2 envelope', () => {
    const env = parseEnvelope(userMessageEnvelope());
    assert.equal(env.soapVersion, '1.2');
    assert.equal(env.messaging.localName, 'Messaging');
    assert.equal(env.body.localName, 'Body');
    assert.equal(env.security, undefined);
  });

  it('EBMS:0103 for any DOCTYPE (no DTD, no entity expansion)', () => {
    const xml = `<!DOCTYPE x [<!ENTITY a "aaaa">]>${userMessageEnvelope()}`;
    assert.throws(() => parseEnvelope(xml), { code: 'EHMI_XML_DOCTYPE_FORBIDDEN', ebmsCode: 'EBMS:0103' });
  });

  it('EBMS:0103 for an external entity attempt (XXE) too', () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE S12:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${userMessageEnvelope().replace('urn:a', '&xxe;')}`;
    assert.throws(() => parseEnvelope(xml), { ebmsCode: 'EBMS:0103' });
  });

  it('EBMS:0009 when a second eb:Messaging hides in the Body (signature wrapping)', () => {
    const xml = userMessageEnvelope().replace('<S12:Body/>', `<S12:Body><eb:Messaging ${EB}/></S12:Body>`);
    assert.throws(() => parseEnvelope(xml), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 for two eb:Messaging header blocks', () => {
    const xml = userMessageEnvelope().replace('</S12:Header>', `<eb:Messaging ${EB}/></S12:Header>`);
    assert.throws(() => parseEnvelope(xml), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 when eb:Messaging is nested below another header block', () => {
    const xml = userMessageEnvelope()
      .replace('<eb:Messaging', '<x:Wrapper xmlns:x="urn:x"><eb:Messaging')
      .replace('</eb:Messaging>', '</eb:Messaging></x:Wrapper>');
    assert.throws(() => parseEnvelope(xml), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 for two SOAP Bodies', () => {
    const xml = userMessageEnvelope().replace('<S12:Body/>', '<S12:Body/><S12:Body/>');
    assert.throws(() => parseEnvelope(xml), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0009 without a SOAP Header', () => {
    assert.throws(() => parseEnvelope(`<S12:Envelope ${S12}><S12:Body/></S12:Envelope>`), {
      ebmsCode: 'EBMS:0009',
    });
  });

  it('EBMS:0009 when the root is not a SOAP Envelope', () => {
    assert.throws(() => parseEnvelope(`<eb:Messaging ${EB}/>`), { ebmsCode: 'EBMS:0009' });
  });

  it('EBMS:0101 when two elements share an id (ambiguous signature reference)', () => {
    const xml = userMessageEnvelope()
      .replace('<eb:Messaging ', `<eb:Messaging ${WSU} wsu:Id="dup" `)
      .replace('<S12:Body/>', `<S12:Body ${WSU} wsu:Id="dup"/>`);
    assert.throws(() => parseEnvelope(xml), {
      code: 'EHMI_AS4_FAILED_AUTHENTICATION',
      ebmsCode: 'EBMS:0101',
    });
  });

  it('EBMS:0101 when a wsu:Id and a plain Id collide', () => {
    const xml = userMessageEnvelope()
      .replace('<eb:Messaging ', `<eb:Messaging ${WSU} wsu:Id="dup" `)
      .replace('<S12:Body/>', '<S12:Body Id="dup"/>');
    assert.throws(() => parseEnvelope(xml), { ebmsCode: 'EBMS:0101' });
  });

  it('maps every id to its element', () => {
    const xml = userMessageEnvelope().replace('<S12:Body/>', `<S12:Body ${WSU} wsu:Id="body-1"/>`);
    const env = parseEnvelope(xml);
    assert.equal(env.ids.get('body-1'), env.body);
  });

  it('refuses an envelope over maxBytes', () => {
    assert.throws(() => parseEnvelope(userMessageEnvelope(), { maxBytes: 100 }), { code: 'EHMI_TOO_LARGE' });
  });
});

describe('parseEnvelope: mustUnderstand (SOAP 1.2 Part 1 §5.2.3)', () => {
  it('EBMS:0008 for an unknown header block marked mustUnderstand="true"', () => {
    const xml = userMessageEnvelope([], '<x:Other xmlns:x="urn:x" S12:mustUnderstand="true"/>');
    assert.throws(() => parseEnvelope(xml), { ebmsCode: 'EBMS:0008' });
  });

  it('ignores an unknown header block that need not be understood', () => {
    parseEnvelope(userMessageEnvelope([], '<x:Other xmlns:x="urn:x" S12:mustUnderstand="false"/>'));
  });
});

describe('parseEnvelope: mustUnderstand for other roles', () => {
  it('ignores a mustUnderstand header block addressed to another role', () => {
    parseEnvelope(
      userMessageEnvelope(
        [],
        '<x:Other xmlns:x="urn:x" S12:role="urn:someone-else" S12:mustUnderstand="true"/>',
      ),
    );
  });

  it('EBMS:0008 for one addressed to the ultimate receiver', () => {
    const block =
      '<x:Other xmlns:x="urn:x" S12:role="http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver" S12:mustUnderstand="1"/>';
    assert.throws(() => parseEnvelope(userMessageEnvelope([], block)), { ebmsCode: 'EBMS:0008' });
  });
});
