import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const deflateRaw = promisify(zlib.deflateRaw);

/** Input octets per segment: each is compressed on its own, or stored, after looking at its start. */
export const SEGMENT_BYTES = 256 * 1024;
/** The start of a segment that is deflated (level 1) to judge how well the segment compresses. */
const PROBE_BYTES = 8 * 1024;
/** A probe that shrinks by less than this is incompressible (encrypted, already compressed, random): stored. */
const STORE_ABOVE = 0.97;
/**
 * A probe that shrinks by less than this gains almost nothing from string matching (base64 text, for one: 6 bits of
 * 8 carry information): Huffman coding alone gives the same size at a quarter of the CPU.
 */
const HUFFMAN_ABOVE = 0.6;
/** A deflate stored block holds at most this many octets (RFC 1951 §3.2.4: LEN is 16 bits). */
const STORED_MAX = 0xffff;
/** RFC 1952 §2.3: ID1 ID2, CM = 8 (deflate), no flags, MTIME 0, XFL 0, OS 3 (Unix, as zlib writes it). */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);
/** The last block: an empty stored block with BFINAL set (RFC 1951 §3.2.3), on a byte boundary. */
const LAST_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);

/** How a segment is written; decided from the segment's own octets only, so every run writes the same stream. */
export type SegmentCoding = 'stored' | 'huffman' | 'deflate';

/**
 * Gzip (RFC 1952) a byte stream in independent segments of {@link SEGMENT_BYTES}, each written as what pays for
 * it: a segment whose first octets do not compress is stored (deflate stored blocks: a copy and a CRC, about a
 * tenth of the CPU of deflating it for nothing), one whose octets gain only from Huffman coding (base64) is
 * Huffman-coded, and any other is deflated at `level`. Each segment ends with a sync flush (byte-aligned, no
 * reference into an earlier segment), so any gzip reader reads the whole as one member. The output depends on the
 * input octets alone (not on how they arrive in chunks): every run over the same input gives the same octets, as
 * a signed attachment digest needs.
 *
 * @example
 * const gz = Readable.from(segmentedGzip(createReadStream(file), 6));
 */
export async function* segmentedGzip(
  input: AsyncIterable<Uint8Array | string>,
  level = 6,
): AsyncGenerator<Buffer> {
  yield HEADER;
  let crc = 0;
  let size = 0;
  // One segment buffer for the whole stream: each segment's output is a buffer of its own (stored blocks are copied
  // behind their headers), so the next segment can be gathered into the same memory.
  const segment = Buffer.allocUnsafe(SEGMENT_BYTES);
  let filled = 0;
  for await (const chunk of input) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    crc = crc32(buf, crc);
    size += buf.length;
    while (buf.length > 0) {
      const n = Math.min(buf.length, SEGMENT_BYTES - filled);
      buf.copy(segment, filled, 0, n);
      filled += n;
      buf = buf.subarray(n);
      if (filled === SEGMENT_BYTES) {
        yield await encodeSegment(segment, level);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield await encodeSegment(segment.subarray(0, filled), level);
  const trailer = Buffer.allocUnsafe(LAST_BLOCK.length + 8);
  LAST_BLOCK.copy(trailer);
  trailer.writeUInt32LE(crc >>> 0, LAST_BLOCK.length);
  // RFC 1952 §2.3.1: ISIZE is the input size modulo 2^32.
  trailer.writeUInt32LE(size % 0x1_0000_0000, LAST_BLOCK.length + 4);
  yield trailer;
}

/**
 * The coding a segment gets, from a level-1 deflate of its first {@link PROBE_BYTES}.
 *
 * @example
 * await segmentCoding(randomBytes(65536)); // 'stored'
 */
export async function segmentCoding(segment: Buffer): Promise<SegmentCoding> {
  const probe = segment.subarray(0, PROBE_BYTES);
  // On this thread: 8 KB at level 1 is about 0.2 ms, less than a round trip through libuv's thread pool, which in
  // a loaded process waits behind file reads and writes and held up every 256 KB segment of the stream.
  const out = zlib.deflateRawSync(probe, { level: 1 });
  const ratio = out.length / probe.length;
  return ratio >= STORE_ABOVE ? 'stored' : ratio >= HUFFMAN_ABOVE ? 'huffman' : 'deflate';
}

/**
 * A segment this small (a whole MedCom message) is deflated without a probe (one deflate costs less than two), and on
 * this thread, as the probe is: for 64 KiB at level 6 the thread pool's round trip and stream object cost about as
 * much CPU as the deflate itself (DESIGN-NOTES 2026-12-07, "A small part's gzip in one synchronous call").
 */
const UNPROBED_BYTES = 64 * 1024;

async function encodeSegment(segment: Buffer, level: number): Promise<Buffer> {
  const small = segment.length <= UNPROBED_BYTES;
  const coding = small ? 'deflate' : await segmentCoding(segment);
  if (coding !== 'stored') {
    const options: zlib.ZlibOptions = {
      level: coding === 'huffman' ? 1 : level,
      ...(coding === 'huffman' ? { strategy: zlib.constants.Z_HUFFMAN_ONLY } : {}),
      // Non-final blocks ending on a byte boundary (an empty stored block), so the next segment can follow.
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    };
    // The same deflate either way (same octets out); a large segment goes to the thread pool, off the event loop.
    const out = small ? zlib.deflateRawSync(segment, options) : await deflateRaw(segment, options);
    // The probe misjudged the rest of the segment: storing it is smaller.
    if (out.length < storedLength(segment.length)) return out;
  }
  return stored(segment);
}

function storedLength(n: number): number {
  return n + 5 * Math.ceil(n / STORED_MAX);
}

/** Deflate stored blocks (RFC 1951 §3.2.4), not final: BTYPE 00 on a byte boundary, LEN, NLEN, the octets. */
function stored(segment: Buffer): Buffer {
  const out = Buffer.allocUnsafe(storedLength(segment.length));
  let at = 0;
  for (let from = 0; from < segment.length; from += STORED_MAX) {
    const len = Math.min(STORED_MAX, segment.length - from);
    out[at] = 0x00;
    out.writeUInt16LE(len, at + 1);
    out.writeUInt16LE(~len & 0xffff, at + 3);
    segment.copy(out, at + 5, from, from + len);
    at += 5 + len;
  }
  return out;
}

/** CRC-32 (RFC 1952 §8): zlib's where Node has it (20.15, 22.2), else a table. */
const crc32: (data: Buffer, value: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (zlib as unknown as { crc32: (data: Buffer, value: number) => number }).crc32
    : tableCrc32;

let table: Int32Array | undefined;
function tableCrc32(data: Buffer, value: number): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
