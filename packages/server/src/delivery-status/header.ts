import type { Readable } from 'node:stream';
import { type EhmiEnvelope, loadEnvelope } from '@ehmi/sbdh';

/** The header of an ehmiSBDH is a few kilobytes; the payload (BinaryContent) comes after it and is never read. */
const MAX_HEADER_BYTES = 256 * 1024;

/**
 * The StandardBusinessDocumentHeader of an ehmiSBDH read from the start of its bytes, without the payload: what a
 * receiving access point needs to report its steps to EDS (sender, receiver, DocumentIdentification, scopes). Reads
 * at most 256 KiB; undefined when no header ends within them or the header is illegible (the MSH answers for a
 * broken envelope; the AP then reports nothing of it).
 */
export async function readSbdhHeader(stream: Readable): Promise<EhmiEnvelope | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let text = '';
  let end = -1;
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(buf);
      size += buf.byteLength;
      text = Buffer.concat(chunks).toString('utf8');
      end = headerEnd(text);
      if (end >= 0 || size >= MAX_HEADER_BYTES) break;
    }
  } finally {
    stream.destroy();
  }
  return end < 0 ? undefined : headerOf(text, end);
}

/**
 * {@link readSbdhHeader} of an envelope whose text is in memory: the header is parsed, the payload after it is not.
 * For a reader that needs no more than the header of a large envelope (a 10 KB envelope's payload is most of it).
 */
export function sbdhHeaderOf(text: string): EhmiEnvelope | undefined {
  const end = headerEnd(text);
  return end < 0 ? undefined : headerOf(text, end);
}

function headerOf(text: string, end: number): EhmiEnvelope | undefined {
  const root = /<([A-Za-z_][\w.-]*:)?StandardBusinessDocument[\s>]/.exec(text);
  if (!root) return undefined;
  const xml = `${text.slice(0, end)}</${root[1] ?? ''}StandardBusinessDocument>`;
  try {
    return loadEnvelope(xml, 'the envelope header').envelope;
  } catch {
    return undefined;
  }
}

function headerEnd(text: string): number {
  const m = /<\/([A-Za-z_][\w.-]*:)?StandardBusinessDocumentHeader\s*>/.exec(text);
  return m ? m.index + m[0].length : -1;
}
