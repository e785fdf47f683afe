import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { splitAs4File } from '../src/check/file.ts';

/** The repository's fixtures/ (provenance in fixtures/SOURCES-*.md), resolved from packages/as4/test. */
export const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
export const AS4_FIXTURES = `${FIXTURES}as4/`;

export interface Vector {
  name: string;
  /** The Content-Type of the body (from the HTTP/MIME headers in the file, or application/soap+xml). */
  contentType: string;
  body: Buffer;
}

/**
 * A vector from fixtures/as4. `.mime` and `.as4in` files start with HTTP or MIME headers; the library's
 * {@link splitAs4File} splits them off, so the body can be fed to the parser as the HTTP layer would.
 */
export function readVector(name: string): Vector {
  const raw = readFileSync(AS4_FIXTURES + name);
  if (!/\.(mime|as4in)$/.test(name))
    return { name, contentType: 'application/soap+xml; charset=UTF-8', body: raw };
  const { contentType, body } = splitAs4File(raw);
  return { name, contentType, body };
}

/** A body as a stream of small chunks, to exercise the streaming code paths. */
export function chunked(bytes: Buffer, size = 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

export const BOUNDARY = 'MIME_boundary_test';

/** A hand-made multipart/related body, for tests that need exact control over the MIME structure. */
export function multipart(
  parts: { headers: Record<string, string>; body: string | Buffer }[],
  options: { boundary?: string; close?: boolean } = {},
): { contentType: string; body: Buffer } {
  const boundary = options.boundary ?? BOUNDARY;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const head = Object.entries(p.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    chunks.push(Buffer.from(`--${boundary}\r\n${head}\r\n`), Buffer.from(p.body), Buffer.from('\r\n'));
  }
  if (options.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    contentType: `multipart/related; boundary="${boundary}"; type="application/soap+xml"`,
    body: Buffer.concat(chunks),
  };
}

/** A minimal valid SOAP 1.2 UserMessage envelope referencing the given content-ids. */
export function userMessageEnvelope(cids: string[] = [], extraHeader = '', messageId = 'm1@test'): string {
  const parts = cids
    .map(
      (c) =>
        `<eb:PartInfo href="cid:${c}"><eb:PartProperties><eb:Property name="MimeType">application/xml</eb:Property></eb:PartProperties></eb:PartInfo>`,
    )
    .join('');
  return (
    '<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"><S12:Header>' +
    extraHeader +
    '<eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"><eb:UserMessage>' +
    `<eb:MessageInfo><eb:Timestamp>2026-11-26T00:00:00Z</eb:Timestamp><eb:MessageId>${messageId}</eb:MessageId></eb:MessageInfo>` +
    '<eb:PartyInfo><eb:From><eb:PartyId type="urn:t">a</eb:PartyId><eb:Role>urn:r1</eb:Role></eb:From>' +
    '<eb:To><eb:PartyId type="urn:t">b</eb:PartyId><eb:Role>urn:r2</eb:Role></eb:To></eb:PartyInfo>' +
    '<eb:CollaborationInfo><eb:Service>urn:s</eb:Service><eb:Action>urn:a</eb:Action><eb:ConversationId>c1</eb:ConversationId></eb:CollaborationInfo>' +
    (parts ? `<eb:PayloadInfo>${parts}</eb:PayloadInfo>` : '') +
    '</eb:UserMessage></eb:Messaging></S12:Header><S12:Body/></S12:Envelope>'
  );
}

/** Runs `fn` and returns the ebMS code of the EhmiError it throws (fails the test when nothing is thrown). */
export async function ebmsCodeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    const code = (err as { ebmsCode?: string }).ebmsCode;
    if (code === undefined) throw err;
    return code;
  }
  throw new Error('expected an error, none was thrown');
}
