// AS4 message layer throughput and memory: parse + header of a small message per second, and streaming a large
// attachment through the MIME reader and gzip decompression with bounded memory.
// Targets (docs/specs/as4-smp.md §5): ≥150 msg/s for small messages on one node; constant memory for large
// payloads.
// Run: node --expose-gc --conditions=ehmi-source --import tsx packages/as4/bench/mime.bench.ts [MiB, default 256]

import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import {
  buildUserMessage,
  memorySink,
  parseAs4Message,
  tempFileSink,
  writeAs4Message,
} from '../src/index.ts';
import type { As4Attachment } from '../src/model/attachment.ts';
import { decompressStep } from '../src/receive/decompress.ts';

const MIB = 1024 * 1024;
const largeMiB = Number(process.argv[2] ?? 256);

const party = (v: string) => ({ partyIds: [{ value: v, type: 'urn:t' }], role: 'urn:r' });
function message(att: As4Attachment, compressed: boolean) {
  return buildUserMessage({
    from: party('a'),
    to: party('b'),
    service: { value: 'urn:s' },
    action: 'urn:a',
    payloadInfo: [
      {
        href: `cid:${att.contentId}`,
        partProperties: compressed
          ? [
              { name: 'MimeType', value: 'application/xml' },
              { name: 'CompressionType', value: 'application/gzip' },
            ]
          : [{ name: 'MimeType', value: 'application/xml' }],
      },
    ],
  });
}

async function small(): Promise<void> {
  const body = Buffer.alloc(10 * 1024, 0x61);
  const att: As4Attachment = { contentId: 'p@bench', headers: {}, open: () => Readable.from([body]) };
  const built = message(att, false);
  const chunks: Buffer[] = [];
  const w = writeAs4Message(built.document, [att]);
  for await (const c of w.body) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  const once = async () => {
    const m = await parseAs4Message(Readable.from([bytes]), {
      contentType: w.contentType,
      sink: memorySink(),
    });
    await m.dispose();
  };
  for (let i = 0; i < 50; i++) await once();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 3000) {
    await once();
    n++;
  }
  const s = (performance.now() - start) / 1000;
  console.log(`parseAs4Message, 10 KiB attachment (MIME + envelope + header)  ${(n / s).toFixed(0)} msg/s`);
}

async function large(): Promise<void> {
  // A generated gzip payload: `largeMiB` of XML-ish text, compressed on the fly, never materialised.
  const line = Buffer.from('<Observation><value>42</value><code>8867-4</code></Observation>\n');
  const plain = () =>
    Readable.from(
      (function* () {
        const block = Buffer.concat(Array(16384).fill(line));
        for (let sent = 0; sent < largeMiB * MIB; sent += block.length) yield block;
      })(),
    );
  const att: As4Attachment = { contentId: 'big@bench', headers: {}, open: () => plain().pipe(createGzip()) };
  const built = message(att, true);
  const w = writeAs4Message(built.document, [att]);
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const start = performance.now();
  const sink = tempFileSink();
  const m = await parseAs4Message(w.body, { contentType: w.contentType, sink });
  if (m.messaging.kind !== 'user') throw new Error('expected a UserMessage');
  const [plainAtt] = await decompressStep(m.messaging.userMessage, m.attachments, sink, {
    maxDecompressedBytes: 4 * 1024 * MIB,
  });
  const s = (performance.now() - start) / 1000;
  clearInterval(timer);
  await sink.dispose();
  console.log(
    `stream ${largeMiB} MiB (gzip on the wire) → temp file → gunzip → temp file   ${(largeMiB / s).toFixed(0)} MiB/s, ` +
      `decompressed ${(plainAtt!.size! / MIB).toFixed(0)} MiB, RSS +${((peak - before) / MIB).toFixed(0)} MiB`,
  );
}

await small();
await large();
