import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

// What is measured is the memory the code holds, not garbage a collection has not reached yet: the collector may
// leave tens of MiB of finished chunks behind, so a high reading is taken again after a collection. Readings are
// taken at every chunk the source yields and the sink takes (a timer alone is starved while the streams run on
// microtasks).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const memory = { before: 0, peak: 0, on: false };
function sampleMemory(): void {
  if (!memory.on) return;
  let now = process.memoryUsage().arrayBuffers;
  if (now - memory.before >= 8 * MIB) {
    collect();
    now = process.memoryUsage().arrayBuffers;
  }
  memory.peak = Math.max(memory.peak, now);
}

/** A 32 MiB attachment generated chunk by chunk (deterministic, never held whole). */
function generated(contentId = 'big@test'): As4Attachment {
  return {
    contentId,
    headers: { 'content-type': 'application/octet-stream' },
    size: SIZE,
    open: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < SIZE / (64 * 1024); i++) {
            sampleMemory();
            yield Buffer.alloc(64 * 1024, i & 0xff);
          }
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
          sampleMemory();
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
    collect();
    memory.before = process.memoryUsage().arrayBuffers;
    memory.peak = memory.before;
    memory.on = true;
    const sample = setInterval(sampleMemory, 5);
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
      memory.on = false;
    }
    const grew = memory.peak - memory.before;
    assert.ok(grew < 12 * MIB, `array buffers grew by ${(grew / MIB).toFixed(1)} MiB`);
  });
});
