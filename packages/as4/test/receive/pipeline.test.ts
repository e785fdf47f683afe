import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { describe, it } from 'node:test';
import { ByteBudget } from '../../src/budget.ts';
import {
  type As4Attachment,
  buildErrorSignal,
  buildUserMessage,
  compressAttachment,
  createPMode,
  type DecryptAttachments,
  memorySink,
  type PMode,
  parseAs4Message,
  type ReceiveOptions,
  receiveAs4Message,
  signReceipt,
  tempFileSink,
  verifyReceipt,
  writeAs4Message,
} from '../../src/index.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { encryptAttachments } from '../../src/wss/encrypt.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { AS4_FIXTURES, ebmsCodeOf } from '../helpers.ts';

const key = createPrivateKey(readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.key.pem`));
const cert = readFileSync(`${AS4_FIXTURES}keys/phase4-ph-as4.cert.pem`, 'utf8');
const GLN = 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088';

const pmodeFor = (encrypt: boolean): PMode => {
  const p = createPMode({
    id: 'test',
    initiator: { partyIds: [{ value: '5790000000001', type: GLN }] },
    responder: { partyIds: [{ value: '5790000000002', type: GLN }] },
    service: { value: 'urn:ehmi:test-service' },
    action: 'urn:ehmi:test-action',
  });
  p.leg.security.x509.encryption.required = encrypt;
  return p;
};

const payload = (id: string, body = '<Bundle xmlns="http://hl7.org/fhir"/>'): As4Attachment => ({
  contentId: id,
  headers: { 'content-type': 'application/xml' },
  open: () => Readable.from([Buffer.from(body)]),
});

const fourCorner = [
  { name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' },
  { name: 'finalRecipient', value: '0088:5790000000002', type: 'iso6523-actorid-upis' },
];

interface SendOptions {
  encrypt?: boolean;
  sign?: boolean;
  attachments?: As4Attachment[];
  /** Attachments to sign (default: all). */
  signed?: (a: As4Attachment[]) => As4Attachment[];
  /** Attachments actually sent (default: all). */
  sent?: (a: As4Attachment[]) => As4Attachment[];
  properties?: typeof fourCorner;
  partProperties?: (i: number) => { name: string; value: string }[];
  compress?: boolean;
  tamper?: (xml: string) => string;
  /** Build without the P-Mode's required-property check (to send what a careless sender would). */
  careless?: boolean;
}

async function send(options: SendOptions = {}) {
  const pmode = pmodeFor(options.encrypt ?? false);
  const sources = options.attachments ?? [payload('payload-1@ehmi.test')];
  const parts =
    options.compress === false
      ? sources.map((a) => ({
          attachment: a,
          partProperties: [{ name: 'MimeType', value: 'application/xml' }],
        }))
      : sources.map((a) => compressAttachment(a, { mimeType: 'application/xml', characterSet: 'utf-8' }));
  const built = buildUserMessage(
    {
      messageProperties: options.properties ?? fourCorner,
      payloadInfo: parts.map((p, i) => ({
        href: `cid:${p.attachment.contentId}`,
        partProperties: options.partProperties?.(i) ?? p.partProperties,
      })),
    },
    options.careless
      ? {
          ...pmode,
          leg: { ...pmode.leg, businessInfo: { ...pmode.leg.businessInfo, requiredProperties: [] } },
        }
      : pmode,
  );
  let attachments = parts.map((p) => p.attachment);
  let signResult: Awaited<ReturnType<typeof signEnvelope>> | undefined;
  if (options.sign !== false) {
    signResult = await signEnvelope(
      built.document,
      options.signed ? options.signed(attachments) : attachments,
      {
        privateKey: key,
        certificate: cert,
      },
    );
  }
  if (options.encrypt) {
    attachments = (await encryptAttachments(built.document, attachments, { recipientCertificate: cert }))
      .attachments;
  }
  const toSend = options.sent ? options.sent(attachments) : attachments;
  let written = writeAs4Message(built.document, toSend);
  if (options.tamper) {
    const xml = options.tamper((await collect(written.body)).toString('utf8'));
    written = { contentType: written.contentType, body: Readable.from([Buffer.from(xml)]) };
  }
  return { built, pmode, signResult, contentType: written.contentType, body: await collect(written.body) };
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

// As an access point wires it: the wss DecryptResult returned as is, plaintext in the message's sink.
const decrypt: DecryptAttachments = (env, atts, sink) =>
  decryptAttachments(env.document, atts, { privateKey: key, sink });

function receiveOptions(
  sent: { contentType: string; pmode: PMode },
  extra: Partial<ReceiveOptions> = {},
): ReceiveOptions {
  return {
    contentType: sent.contentType,
    sink: memorySink(),
    selectPMode: (um) =>
      um.collaborationInfo.service.value === sent.pmode.leg.businessInfo.service.value
        ? sent.pmode
        : undefined,
    verify: { trust: () => true },
    decrypt,
    ...extra,
  };
}

async function receive(sent: Awaited<ReturnType<typeof send>>, extra: Partial<ReceiveOptions> = {}) {
  return receiveAs4Message(Readable.from([sent.body]), receiveOptions(sent, extra));
}

describe('receive pipeline: a good message', () => {
  it('signed, encrypted and compressed: decrypts, verifies, decompresses and yields an NRR receipt', async () => {
    const sent = await send({ encrypt: true });
    const rx = await receive(sent);
    assert.equal(rx.kind, 'user');
    if (rx.kind !== 'user') return;
    assert.equal(rx.userMessage.messageInfo.messageId, sent.built.userMessage.messageInfo.messageId);
    assert.equal((await collect(rx.payloads[0]!.open())).toString(), '<Bundle xmlns="http://hl7.org/fhir"/>');
    assert.equal(rx.payloads[0]?.headers['content-type'], 'application/xml; charset=utf-8');
    // The receipt echoes every reference of the received signature (Messaging, Body, cid:).
    assert.deepEqual(
      rx.receipt.signal.receipt?.nonRepudiationInformation?.map((r) => r.uri),
      sent.signResult!.references.map((r) => r.uri),
    );
    await rx.dispose();
  });

  it('a Content-ID with a literal %xx, written raw in href and signature (as WSS4J does), resolves everywhere', async () => {
    // PartInfo lookup used to URL-decode only (pay%41load → payAload: EBMS:0011) while the signature and
    // decryption references try the Content-ID as written first.
    const sent = await send({ encrypt: true, attachments: [payload('pay%41load@ehmi.test')] });
    const rx = await receive(sent);
    assert.equal(rx.kind, 'user');
    if (rx.kind !== 'user') return;
    assert.equal((await collect(rx.payloads[0]!.open())).toString(), '<Bundle xmlns="http://hl7.org/fhir"/>');
    await rx.dispose();
  });

  it('the signed receipt verifies at the sender and matches what was sent', async () => {
    const sent = await send({ encrypt: true });
    const rx = await receive(sent);
    assert.equal(rx.kind, 'user');
    if (rx.kind !== 'user') return;
    const signed = await signReceipt(rx.receipt, { privateKey: key, certificate: cert });
    const response = writeAs4Message(signed.xml, []);
    assert.match(response.contentType, /^application\/soap\+xml/);
    const { signal } = await verifyReceipt(
      await collect(response.body),
      { messageId: sent.built.userMessage.messageInfo.messageId, references: sent.signResult!.references },
      { trust: () => true },
    );
    assert.equal(signal.messageInfo.refToMessageId, sent.built.userMessage.messageInfo.messageId);
  });

  it('keeps payloads in temporary files (default sink) until dispose()', async () => {
    const sent = await send({ encrypt: true });
    const opts = receiveOptions(sent);
    delete opts.sink;
    const rx = await receiveAs4Message(Readable.from([sent.body]), opts);
    assert.equal(rx.kind, 'user');
    if (rx.kind !== 'user') return;
    assert.equal((await collect(rx.payloads[0]!.open())).toString(), '<Bundle xmlns="http://hl7.org/fhir"/>');
    await rx.dispose();
    assert.throws(() => rx.payloads[0]!.open());
  });

  it('a signal message passes through as signals', async () => {
    const err = buildErrorSignal(new Error('x'), { refToMessageInError: 'm1@x' });
    const w = writeAs4Message(err.document, []);
    const rx = await receiveAs4Message(w.body, {
      contentType: w.contentType,
      selectPMode: () => undefined,
      verify: { trust: () => true },
    });
    assert.equal(rx.kind, 'signal');
  });
});

describe('receive pipeline: each failure gives its ebMS error', () => {
  it('EBMS:0010 when no P-Mode matches', async () => {
    const sent = await send();
    assert.equal(await ebmsCodeOf(() => receive(sent, { selectPMode: () => undefined })), 'EBMS:0010');
  });

  it('EBMS:0010 when the Action differs from the P-Mode', async () => {
    const sent = await send();
    const other = pmodeFor(false);
    other.leg.businessInfo.action = 'urn:other';
    assert.equal(await ebmsCodeOf(() => receive(sent, { selectPMode: () => other })), 'EBMS:0010');
  });

  it('EBMS:0010 when finalRecipient is missing (Four Corner, eDelivery AS4 1.15 §2.6.1)', async () => {
    const sent = await send({ properties: fourCorner.slice(0, 1), careless: true });
    assert.equal(await ebmsCodeOf(() => receive(sent)), 'EBMS:0010');
  });

  it('EBMS:0103 when the message is not signed', async () => {
    const sent = await send({ sign: false });
    assert.equal(await ebmsCodeOf(() => receive(sent)), 'EBMS:0103');
  });

  it('EBMS:0103 when the P-Mode requires encryption and the payload is not encrypted', async () => {
    const sent = await send();
    const strict = pmodeFor(true);
    assert.equal(await ebmsCodeOf(() => receive(sent, { selectPMode: () => strict })), 'EBMS:0103');
  });

  it('EBMS:0101 when eb:Messaging was changed after signing', async () => {
    const sent = await send({ tamper: (xml) => xml.replace('urn:ehmi:test-action', 'urn:ehmi:test-actioN') });
    const p = pmodeFor(false);
    p.leg.businessInfo.action = 'urn:ehmi:test-actioN';
    assert.equal(await ebmsCodeOf(() => receive(sent, { selectPMode: () => p })), 'EBMS:0101');
  });

  it('EBMS:0101 when an attachment body was changed after signing', async () => {
    const sent = await send({ compress: false });
    const body = Buffer.from(sent.body.toString('latin1').replace('<Bundle', '<Bundlx'), 'latin1');
    assert.equal(await ebmsCodeOf(() => receive({ ...sent, body })), 'EBMS:0101');
  });

  it('EBMS:0103 when an attachment is present but not signed', async () => {
    const sent = await send({
      attachments: [payload('a@ehmi.test'), payload('b@ehmi.test')],
      signed: (a) => a.slice(0, 1),
    });
    assert.equal(await ebmsCodeOf(() => receive(sent)), 'EBMS:0103');
  });

  it('EBMS:0011 when a PartInfo references an attachment that is missing', async () => {
    const sent = await send({ sent: () => [] });
    assert.equal(await ebmsCodeOf(() => receive(sent)), 'EBMS:0011');
  });

  it('EBMS:0102 when the payload is encrypted and no decryption is configured', async () => {
    const sent = await send({ encrypt: true });
    const opts = receiveOptions(sent);
    delete opts.decrypt;
    assert.equal(await ebmsCodeOf(() => receiveAs4Message(Readable.from([sent.body]), opts)), 'EBMS:0102');
  });

  it('EBMS:0102 when the decryption key is wrong', async () => {
    const sent = await send({ encrypt: true });
    const wrong = createPrivateKey(readFileSync(`${AS4_FIXTURES}keys/domibus-blue_gw.key.pem`));
    const badDecrypt: DecryptAttachments = async (env, atts) =>
      (await decryptAttachments(env.document, atts, { privateKey: wrong, sink: memorySink() })).attachments;
    assert.equal(await ebmsCodeOf(() => receive(sent, { decrypt: badDecrypt })), 'EBMS:0102');
  });

  it('EBMS:0303 when a part marked gzip is not gzip data', async () => {
    const sent = await send({
      compress: false,
      partProperties: () => [
        { name: 'MimeType', value: 'application/xml' },
        { name: 'CompressionType', value: 'application/gzip' },
      ],
    });
    assert.equal(await ebmsCodeOf(() => receive(sent)), 'EBMS:0303');
  });

  it('EBMS:0303 when the decompressed payload exceeds maxDecompressedBytes', async () => {
    const sent = await send({ attachments: [payload('big@ehmi.test', 'x'.repeat(5000))] });
    assert.equal(
      await ebmsCodeOf(() => receive(sent, { limits: { maxDecompressedBytes: 4999 } })),
      'EBMS:0303',
    );
  });

  it('EBMS:0004 (EHMI_TOO_LARGE) when the message has more parts than maxParts', async () => {
    const sent = await send({ attachments: [payload('a@ehmi.test'), payload('b@ehmi.test')] });
    assert.equal(await ebmsCodeOf(() => receive(sent, { limits: { maxParts: 2 } })), 'EBMS:0004');
  });

  it('a failure after the header was read carries the MessageId for RefToMessageInError', async () => {
    const sent = await send({ sign: false });
    let caught: unknown;
    try {
      await receive(sent);
    } catch (err) {
      caught = err;
    }
    const signal = buildErrorSignal(caught);
    const id = sent.built.userMessage.messageInfo.messageId;
    assert.equal(signal.signal.messageInfo.refToMessageId, id);
    assert.equal(signal.signal.errors[0]?.refToMessageInError, id);
    assert.equal(signal.signal.errors[0]?.errorCode, 'EBMS:0103');
  });
});

describe('parseAs4Message', () => {
  it('EBMS:0007 when a MIME part is not referenced by any PartInfo', async () => {
    const sent = await send({ attachments: [payload('a@ehmi.test'), payload('b@ehmi.test')] });
    // Drop b's PartInfo from the (unsigned view of the) header: parseAs4Message checks structure before security.
    const xml = sent.body
      .toString('latin1')
      .replace(/<eb:PartInfo href="cid:b@ehmi.test">.*?<\/eb:PartInfo>/, '');
    await assert.rejects(
      parseAs4Message(Readable.from([Buffer.from(xml, 'latin1')]), {
        contentType: sent.contentType,
        sink: memorySink(),
      }),
      { ebmsCode: 'EBMS:0007' },
    );
  });
});

describe('receive pipeline: algorithm policy from the P-Mode', () => {
  it('EBMS:0103 for an RSA-signed message matched to an eDelivery AS4 2.0 P-Mode (a known algorithm outside the profile)', async () => {
    const sent = await send();
    const p2: PMode = { ...sent.pmode, profile: 'edelivery-as4-2.0' };
    assert.equal(await ebmsCodeOf(() => receive(sent, { selectPMode: () => p2 })), 'EBMS:0103');
  });
});

describe('receive pipeline: a large part decrypted while the body still streams', () => {
  const MiB = 1024 * 1024;
  const big = (id: string, octets: Buffer): As4Attachment => ({
    contentId: id,
    headers: { 'content-type': 'application/octet-stream' },
    open: () => Readable.from([octets]),
    size: octets.length,
  });
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  /**
   * Receives `body` in 64 KiB reads whose last one is held back until the receiver has decrypted `before` octets
   * of plaintext: a pipeline that waited for the whole body would never get there (the test times out). Payloads
   * and the message's parts go to files in a folder of their own, which must be empty once the message is done.
   */
  async function receiveStreamed(
    sent: Awaited<ReturnType<typeof send>>,
    body: Buffer,
    before: number,
    extra: Partial<ReceiveOptions> & { cut?: () => Promise<void> } = {},
  ): Promise<{
    result: Promise<Awaited<ReturnType<typeof receiveAs4Message>>>;
    decrypts: () => number;
    dir: string;
  }> {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-as4-overlap-'));
    let decrypts = 0;
    let plaintext = 0;
    let reached!: () => void;
    const gate = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const tapped: DecryptAttachments = async (env, atts, sink) => {
      decrypts++;
      const out = await decryptAttachments(env.document, atts, { privateKey: key, sink, onRead: true });
      return {
        ...out,
        attachments: out.attachments.map((a) => ({
          ...a,
          open: () => {
            const counted = new Transform({
              transform(c: Buffer, _enc, cb) {
                plaintext += c.length;
                if (plaintext >= before) reached();
                cb(null, c);
              },
            });
            const plain = a.open();
            plain.once('error', (err) => counted.destroy(err));
            return plain.pipe(counted);
          },
        })),
      };
    };
    async function* streamed() {
      const step = 64 * 1024;
      for (let at = 0; at < body.length; at += step) {
        if (before > 0 && at + step >= body.length) {
          await gate;
          // The connection fails before the last read: the early run has begun, and made its files.
          await extra.cut?.();
        }
        yield body.subarray(at, at + step);
      }
    }
    const result = receiveAs4Message(
      streamed(),
      receiveOptions(sent, {
        sink: tempFileSink({ dir }),
        payloadSink: tempFileSink({ dir }),
        decrypt: tapped,
        ...extra,
      }),
    );
    return { result, decrypts: () => decrypts, dir };
  }

  it('decrypts, digests, decompresses and stores the part as it arrives; the run is taken as it is', {
    timeout: 60_000,
  }, async () => {
    const octets = randomBytes(3 * MiB);
    const sent = await send({ encrypt: true, attachments: [big('large@ehmi.test', octets)] });
    const { result, decrypts, dir } = await receiveStreamed(sent, sent.body, 256 * 1024);
    try {
      const rx = await result;
      assert.equal(rx.kind, 'user');
      if (rx.kind !== 'user') return;
      assert.equal(sha(await collect(rx.payloads[0]!.open())), sha(octets));
      assert.equal(rx.payloads[0]!.size, octets.length);
      assert.equal(decrypts(), 1);
      await rx.dispose();
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('EBMS:0102 when the last octet of the part (its GCM tag) is changed, and nothing is kept', {
    timeout: 60_000,
  }, async () => {
    const octets = randomBytes(3 * MiB);
    const sent = await send({ encrypt: true, attachments: [big('large@ehmi.test', octets)] });
    const body = Buffer.from(sent.body);
    // The part's last octet is the one before the CRLF of the closing delimiter.
    const close = body.lastIndexOf(Buffer.from('\r\n--'));
    body[close - 1]! ^= 0x01;
    const { result, decrypts, dir } = await receiveStreamed(sent, body, 256 * 1024);
    try {
      assert.equal(await ebmsCodeOf(() => result), 'EBMS:0102');
      await assert.rejects(result, /GCM tag/);
      // The run begun while the body streamed failed; the answer is that of the steps run again on the whole body.
      assert.equal(decrypts(), 2);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a body that fails after the early run began: the body’s error, no file left, the decompressed pool all given back', {
    timeout: 60_000,
  }, async () => {
    const octets = randomBytes(3 * MiB);
    const sent = await send({ encrypt: true, attachments: [big('large@ehmi.test', octets)] });
    let taken!: () => void;
    const decompressing = new Promise<void>((resolve) => {
      taken = resolve;
    });
    /** The pool, telling when the early run first takes from it (it has decompressed octets out). */
    const decompressed = new (class extends ByteBudget {
      override lease() {
        const lease = super.lease();
        return {
          take: (octets: number) => {
            lease.take(octets);
            taken();
          },
          get held() {
            return lease.held;
          },
          release: () => lease.release(),
        };
      }
    })(64 * MiB, 'decompressed payloads');
    let heldAtCut = -1;
    const { result, decrypts, dir } = await receiveStreamed(sent, sent.body, 256 * 1024, {
      budgets: { decompressed },
      cut: async () => {
        await decompressing;
        heldAtCut = decompressed.used;
        throw new Error('the connection was reset (test)');
      },
    });
    try {
      await assert.rejects(
        result,
        (err: Error) => (err.cause as Error | undefined)?.message === 'the connection was reset (test)',
      );
      assert.equal(decrypts(), 1, 'the early run had begun');
      assert.ok(heldAtCut > 0, `the early run held decompressed octets when the body failed (${heldAtCut})`);
      assert.deepEqual(await readdir(dir), [], 'every file of the message and its early run removed');
      assert.equal(decompressed.used, 0, 'the decompressed pool given back');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an attachment after those the early run saw: the steps run again on the whole message', {
    timeout: 60_000,
  }, async () => {
    const octets = randomBytes(3 * MiB);
    const sent = await send({
      encrypt: true,
      attachments: [big('large@ehmi.test', octets), payload('small@ehmi.test')],
    });
    // The run begun at the large part's first MiB sees one of the two parts PayloadInfo names (EBMS:0011 there):
    // not taken; the message is whole and good.
    const { result, decrypts, dir } = await receiveStreamed(sent, sent.body, 0);
    try {
      const rx = await result;
      assert.equal(rx.kind, 'user');
      if (rx.kind !== 'user') return;
      assert.equal(rx.payloads.length, 2);
      assert.equal(sha(await collect(rx.payloads[0]!.open())), sha(octets));
      assert.equal(
        (await collect(rx.payloads[1]!.open())).toString(),
        '<Bundle xmlns="http://hl7.org/fhir"/>',
      );
      assert.equal(decrypts(), 1);
      await rx.dispose();
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
