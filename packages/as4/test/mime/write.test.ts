import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseXml } from '@ehmi/xml';
import { parseMediaType } from '../../src/mime/content-type.ts';
import { readMimeMessage } from '../../src/mime/parse.ts';
import { memorySink } from '../../src/mime/sink.ts';
import { writeAs4Message } from '../../src/mime/write.ts';
import type { As4Attachment } from '../../src/model/attachment.ts';
import { userMessageEnvelope } from '../helpers.ts';

const binary = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 256));
const att = (id: string, body: Buffer, extra: Record<string, string> = {}): As4Attachment => ({
  contentId: id,
  headers: { 'content-type': 'application/octet-stream', ...extra },
  open: () => Readable.from([body.subarray(0, 100), body.subarray(100)]),
});

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('writeAs4Message', () => {
  it('writes multipart/related with type and start, and reads back byte for byte', async () => {
    const doc = parseXml(userMessageEnvelope(['a@x', 'b@x']));
    const w = writeAs4Message(doc, [att('a@x', binary), att('b@x', Buffer.from('\r\n--not-a-boundary\r\n'))]);
    const media = parseMediaType(w.contentType);
    assert.equal(media.type, 'multipart/related');
    assert.equal(media.parameters.type, 'application/soap+xml');
    assert.match(media.parameters.start ?? '', /^<root\..+@ehmi>$/);
    const back = await readMimeMessage(w.body, { contentType: w.contentType, sink: memorySink() });
    assert.match(back.envelope.toString('utf8'), /^<\?xml version="1.0" encoding="UTF-8"\?><S12:Envelope/);
    assert.deepEqual(await collect(back.attachments[0]!.open()), binary);
    assert.equal((await collect(back.attachments[1]!.open())).toString(), '\r\n--not-a-boundary\r\n');
  });

  it('keeps the attachment content type and extra headers', async () => {
    const w = writeAs4Message(userMessageEnvelope(['a@x']), [
      att('a@x', Buffer.from('x'), { 'content-type': 'application/xml', 'content-description': 'Payload' }),
    ]);
    const back = await readMimeMessage(w.body, { contentType: w.contentType, sink: memorySink() });
    assert.equal(back.attachments[0]?.headers['content-type'], 'application/xml');
    assert.equal(back.attachments[0]?.headers['content-description'], 'Payload');
  });

  it('writes a plain application/soap+xml body when there are no attachments', async () => {
    const w = writeAs4Message('<x/>', []);
    assert.equal(w.contentType, 'application/soap+xml; charset=UTF-8');
    assert.equal((await collect(w.body)).toString(), '<?xml version="1.0" encoding="UTF-8"?><x/>');
  });

  it('refuses a Content-ID that would inject MIME headers', () => {
    const bad = att('a@x>\r\nX-Evil: 1', Buffer.from('x'));
    const w = writeAs4Message('<x/>', [bad]);
    return assert.rejects(collect(w.body), TypeError);
  });

  it('streams: an attachment is opened only when the body is read that far', async () => {
    let opened = 0;
    const lazy: As4Attachment = {
      contentId: 'a@x',
      headers: {},
      open: () => {
        opened++;
        return Readable.from([Buffer.from('x')]);
      },
    };
    const w = writeAs4Message('<x/>', [lazy]);
    assert.equal(opened, 0);
    await collect(w.body);
    assert.equal(opened, 1);
  });
});
