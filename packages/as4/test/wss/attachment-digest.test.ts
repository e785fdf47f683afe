import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { canonicalMimeHeaders, digestAttachment } from '../../src/wss/attachment-digest.ts';
import { SWA } from '../../src/wss/ns.ts';
import { attachmentFor } from '../../src/wss/verify.ts';
import { memoryAttachment } from './helpers.ts';

describe('SwA Profile 1.1 attachment transforms', () => {
  it('MIME header canonicalisation: listed headers only, sorted, values lower-cased and parameters quoted', () => {
    assert.equal(
      canonicalMimeHeaders({
        'content-type': 'Application/XML; Charset=UTF-8',
        'content-id': '<p1@x>',
        'content-transfer-encoding': 'binary',
      }),
      'Content-ID:<p1@x>\r\nContent-Type:application/xml;charset="utf-8"\r\n',
    );
  });

  it('MIME header canonicalisation removes comments and unfolds, and defaults Content-Type (§5.4.1)', () => {
    assert.equal(
      canonicalMimeHeaders({ 'content-description': 'a\r\n (note) b' }),
      'Content-Description:a  b\r\nContent-Type:text/plain;charset="us-ascii"\r\n',
    );
  });

  it('Attachment-Content-Signature-Transform digests the content octets only', async () => {
    const body = Buffer.from('hello');
    const att = memoryAttachment('a@x', body);
    const digest = await digestAttachment(att, SWA.contentSignatureTransform, 'sha256');
    assert.deepEqual(digest, createHash('sha256').update(body).digest());
  });

  it('Attachment-Complete-Signature-Transform digests the canonical headers, then the content', async () => {
    const body = Buffer.from('hello');
    const att = memoryAttachment('a@x', body, { 'content-type': 'text/plain' });
    const digest = await digestAttachment(att, SWA.completeSignatureTransform, 'sha256');
    const expected = createHash('sha256')
      .update(`${canonicalMimeHeaders(att.headers)}`)
      .update(body)
      .digest();
    assert.deepEqual(digest, expected);
    assert.notDeepEqual(digest, createHash('sha256').update(body).digest());
  });

  it('§5.4.2: XML content is digested in Exclusive XML Canonical form, as WSS4J does', async () => {
    // Declaration dropped, PI on its own line, attributes normalised, xmlns:b pushed down, comment removed
    // (cross-checked with `xmllint --exc-c14n`, which keeps comments).
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<?pi  x?>\n<r xmlns:b="urn:b" a='1'   xmlns="urn:a"><b:x/><!--c--></r>\n`;
    const canonical = '<?pi x?>\n<r xmlns="urn:a" a="1"><b:x xmlns:b="urn:b"></b:x></r>';
    for (const type of ['application/xml', 'text/xml; charset=UTF-8', 'application/fhir+xml']) {
      const att = memoryAttachment('x@x', Buffer.from(xml), { 'content-type': type });
      const digest = await digestAttachment(att, SWA.contentSignatureTransform, 'sha256');
      assert.deepEqual(digest, createHash('sha256').update(canonical).digest(), type);
    }
    // Compressed (octet-stream) parts, the usual AS4 case, stay raw octets.
    const raw = memoryAttachment('x@x', Buffer.from(xml));
    const digest = await digestAttachment(raw, SWA.contentSignatureTransform, 'sha256');
    assert.deepEqual(digest, createHash('sha256').update(xml).digest());
  });
  it('§5.4.2: other text/* content is digested with CRLF line ends, also across chunk boundaries', async () => {
    const att = {
      ...memoryAttachment('t@x', Buffer.alloc(0), { 'content-type': 'text/plain' }),
      open: () => Readable.from([Buffer.from('a\nb\r'), Buffer.from('\nc\rd\r')]),
    };
    const digest = await digestAttachment(att, SWA.contentSignatureTransform, 'sha256');
    assert.deepEqual(digest, createHash('sha256').update('a\r\nb\r\nc\r\nd\r\n').digest());
  });
});

describe('cid: URIs (RFC 2392)', () => {
  it('a URL-encoded cid: reference finds the attachment by its Content-ID', () => {
    const att = memoryAttachment('part 1@x', Buffer.from('a'));
    const byId = new Map([[att.contentId, att]]);
    assert.equal(attachmentFor(byId, 'cid:part%201@x'), att);
    assert.equal(attachmentFor(byId, 'cid:part 1@x'), att);
    assert.equal(attachmentFor(byId, 'cid:part%2@x'), undefined);
  });
});
