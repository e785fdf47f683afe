import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseXml } from '@ehmi/xml';
import type { AttachmentSink } from '../../src/mime/sink.ts';
import type { As4Attachment } from '../../src/model/attachment.ts';
import { decryptAttachments } from '../../src/wss/decrypt.ts';
import { encryptAttachments } from '../../src/wss/encrypt.ts';
import { signEnvelope } from '../../src/wss/sign.ts';
import { verifyEnvelope } from '../../src/wss/verify.ts';
import { reparse, testPki, trustRoot, userMessageXml } from './helpers.ts';

const MIB = 1024 * 1024;
const SIZE = 32 * MIB;

/** A 32 MiB attachment generated chunk by chunk (deterministic, never held whole). */
function generated(contentId = 'big@test'): As4Attachment {
  return {
    contentId,
    headers: { 'content-type': 'application/octet-stream' },
    size: SIZE,
    open: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < SIZE / (64 * 1024); i++) yield Buffer.alloc(64 * 1024, i & 0xff);
        })(),
      ),
  };
}

/** A sink that hashes what it receives and keeps nothing. */
function hashingSink(hashes: Map<string, string>): AttachmentSink {
  return {
    create(part) {
      const h = createHash('sha256');
      const writable = new Writable({
        write(chunk: Buffer, _e, cb) {
          h.update(chunk);
          cb();
        },
        final(cb) {
          hashes.set(part.contentId, h.digest('hex'));
          cb();
        },
      });
      return { writable, open: () => Readable.from([]) };
    },
    async dispose() {},
  };
}

async function sha256(att: As4Attachment): Promise<string> {
  const h = createHash('sha256');
  for await (const c of att.open()) h.update(c as Buffer);
  return h.digest('hex');
}

describe('streaming: attachment bodies are never held whole in memory', () => {
  it('signs, verifies, encrypts and decrypts a 32 MiB attachment with bounded memory', async () => {
    const pki = await testPki();
    const att = generated();
    const doc = parseXml(userMessageXml());
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const sample = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 5);
    try {
      await signEnvelope(doc, [att], { privateKey: pki.rsa.key, certificate: pki.rsa.certificate });
      const enc = await encryptAttachments(doc, [att], { recipientCertificate: pki.rsa2.certificate });
      const received = reparse(doc);
      const hashes = new Map<string, string>();
      await decryptAttachments(received, enc.attachments, {
        privateKey: pki.rsa2.key,
        sink: hashingSink(hashes),
      });
      assert.equal(hashes.get('big@test'), await sha256(att));
      await verifyEnvelope(received, [att], { trust: trustRoot(pki.root) });
    } finally {
      clearInterval(sample);
    }
    assert.ok(peak - before < 12 * MIB, `array buffers grew by ${((peak - before) / MIB).toFixed(1)} MiB`);
  });
});
