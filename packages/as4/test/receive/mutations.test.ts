// Receiving never throws anything but an EhmiError with an ebMS code, and never hangs, whatever is done to a valid
// message: truncation, broken MIME structure, garbage XML, duplicated Body/ids, swapped attachments, byte flips.
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  type As4Attachment,
  buildErrorSignal,
  buildUserMessage,
  compressAttachment,
  createPMode,
  decryptAttachments,
  encryptAttachments,
  receiveAs4Message,
  signEnvelope,
  writeAs4Message,
} from '@ehmi/as4';
import { EhmiError } from '@ehmi/errors';
import { AS4_FIXTURES } from '../helpers.ts';

const key = createPrivateKey(readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.key.pem`));
const cert = readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.cert.pem`, 'utf8');
const GLN = 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088';
const pmode = createPMode({
  id: 'm',
  initiator: { partyIds: [{ value: '1', type: GLN }] },
  responder: { partyIds: [{ value: '2', type: GLN }] },
  service: { value: 'urn:s' },
  action: 'urn:a',
});

async function bytesOf(r: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function message(tag: string, binaryBytes = 40_000): Promise<{ contentType: string; body: Buffer }> {
  const source = (id: string, bytes: Buffer): As4Attachment => ({
    contentId: id,
    headers: { 'content-type': 'application/xml' },
    open: () => Readable.from([bytes]),
  });
  const parts = [
    compressAttachment(source(`x-${tag}@t`, Buffer.from('<a>hello</a>')), { mimeType: 'application/xml' }),
    compressAttachment(source(`y-${tag}@t`, randomBytes(binaryBytes)), {
      mimeType: 'application/octet-stream',
    }),
  ];
  const built = buildUserMessage(
    {
      messageProperties: [
        { name: 'originalSender', value: 'a' },
        { name: 'finalRecipient', value: 'b' },
      ],
      payloadInfo: parts.map((p) => ({
        href: `cid:${p.attachment.contentId}`,
        partProperties: p.partProperties,
      })),
    },
    pmode,
  );
  const plain = parts.map((p) => p.attachment);
  await signEnvelope(built.document, plain, { privateKey: key, certificate: cert });
  const { attachments } = await encryptAttachments(built.document, plain, { recipientCertificate: cert });
  const written = writeAs4Message(built.document, attachments);
  return { contentType: written.contentType, body: await bytesOf(written.body) };
}

/** The outcome of one receive: 'ok' or the ebMS code; anything else fails the test. */
async function outcome(contentType: string, body: Buffer, onRead = false): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('receive did not settle in 10 s')), 10_000);
  });
  try {
    const rx = await Promise.race([
      receiveAs4Message(Readable.from([body]), {
        contentType,
        selectPMode: () => pmode,
        verify: { trust: () => true },
        decrypt: (env, atts, sink) =>
          decryptAttachments(env.document, atts, { privateKey: key, sink, onRead }),
      }),
      timeout,
    ]);
    await rx.dispose();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof EhmiError, `not an EhmiError: ${String(err)}`);
    assert.match(err.ebmsCode ?? '', /^EBMS:\d{4}$/, `${err.code} has no ebMS code`);
    assert.equal(buildErrorSignal(err).signal.errors?.[0]?.errorCode, err.ebmsCode);
    return err.ebmsCode!;
  } finally {
    clearTimeout(timer);
  }
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('receive: mutated messages give ebMS errors only', () => {
  it('structural mutations give the expected codes', async () => {
    const m = await message('a');
    const other = await message('b');
    const s = m.body.toString('latin1');
    const from = s.indexOf('<?xml');
    const to = s.indexOf('</S12:Envelope>') + '</S12:Envelope>'.length;
    const env = s.slice(from, to);
    const withEnvelope = (xml: string) => Buffer.from(s.slice(0, from) + xml + s.slice(to), 'latin1');
    const msgId = /wsu:Id="(ehmi-msg-[^"]+)"/.exec(env)![1]!;
    const bodyOf = (part: string) => part.slice(part.indexOf('\r\n\r\n') + 4);
    const partsA = s.split(/\r\n--[^\r\n]*\r\n/);
    const partsB = other.body.toString('latin1').split(/\r\n--[^\r\n]*\r\n/);
    const cases: [string, string, Buffer, string][] = [
      ['valid', m.contentType, m.body, 'ok'],
      ['truncated', m.contentType, m.body.subarray(0, m.body.length - 100), 'EBMS:0007'],
      ['no start part', m.contentType.replace(/start="<[^>]*>"/, 'start="<none@x>"'), m.body, 'EBMS:0007'],
      ['wrong boundary', m.contentType.replace('boundary="', 'boundary="X'), m.body, 'EBMS:0007'],
      ['garbage XML', m.contentType, withEnvelope('<<<garbage'), 'EBMS:0004'],
      [
        'two Bodies',
        m.contentType,
        withEnvelope(env.replace(/(<S12:Body[^>]*\/>)/, '$1<S12:Body/>')),
        'EBMS:0009',
      ],
      [
        'duplicated wsu:Id',
        m.contentType,
        withEnvelope(env.replace(/(<S12:Body[^>]*?)wsu:Id="[^"]*"/, `$1wsu:Id="${msgId}"`)),
        'EBMS:0101',
      ],
      [
        'an attachment body from another message',
        m.contentType,
        Buffer.from(
          s.replace(bodyOf(partsA[2]!), () => bodyOf(partsB[2]!)),
          'latin1',
        ),
        'EBMS:0102',
      ],
      [
        "another message's attachment part",
        m.contentType,
        Buffer.from(
          s.replace(partsA[2]!, () => partsB[2]!),
          'latin1',
        ),
        'EBMS:0011',
      ],
    ];
    for (const [name, contentType, body, expected] of cases) {
      assert.equal(await outcome(contentType, body), expected, name);
      // Decrypted as read, in the pass that digests and decompresses: the same answers, the tag's failure first.
      assert.equal(await outcome(contentType, body, true), expected, `${name} (decrypted as read)`);
    }
  });

  it('a flipped ciphertext octet is EBMS:0102, never the decompression or digest failure it causes', async () => {
    // Larger than a read: the decompression fails on an early chunk, before the tag is read.
    const m = await message('d', 1_000_000);
    const s = m.body.toString('latin1');
    const parts = s.split(/\r\n--[^\r\n]*\r\n/);
    const start = s.indexOf(parts[2]!) + parts[2]!.indexOf('\r\n\r\n') + 4;
    // The IV (12 octets), the gzip header, the middle, the last octet before the tag, the tag itself.
    const end = s.indexOf('\r\n--', start);
    for (const at of [start + 1, start + 14, Math.floor((start + end) / 2), end - 17, end - 1]) {
      const body = Buffer.from(m.body);
      body[at] = body[at]! ^ 0x01;
      assert.equal(await outcome(m.contentType, body), 'EBMS:0102', `octet ${at - start}`);
      assert.equal(await outcome(m.contentType, body, true), 'EBMS:0102', `octet ${at - start}, as read`);
    }
  });

  it('random truncations and byte flips', async () => {
    const m = await message('c');
    const random = prng(20261126);
    const from = m.body.indexOf('<?xml');
    const to = m.body.indexOf('</S12:Envelope>');
    for (let i = 0; i < 120; i++) {
      let body: Buffer;
      if (i % 4 === 0) body = m.body.subarray(0, Math.floor(random() * m.body.length));
      else {
        body = Buffer.from(m.body);
        // Half the flips inside the envelope, where the XML and WS-Security checks are.
        const inEnvelope = i % 2 === 1;
        const at = inEnvelope
          ? from + Math.floor(random() * (to - from))
          : Math.floor(random() * body.length);
        body[at] = inEnvelope
          ? '<>"\'&/= x'.charCodeAt(Math.floor(random() * 9))
          : Math.floor(random() * 256);
      }
      await outcome(m.contentType, body, i % 3 === 0);
    }
  });
});
