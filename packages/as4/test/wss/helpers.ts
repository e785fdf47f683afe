import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EhmiError } from '@ehmi/errors';
import {
  type Credential,
  createCertificateAuthority,
  issueCertificate,
  type KeyType,
  type Purpose,
} from '@ehmi/pki';
import { type Document, parseXml, serializeXml } from '@ehmi/xml';
import type { As4Attachment } from '../../src/model/attachment.ts';
import { FIXTURES } from '../helpers.ts';

export { FIXTURES };
export const AS4 = `${FIXTURES}as4/`;
export const KEYS = `${AS4}keys/`;

/** An in-memory attachment (tests only; production bodies live in a sink). */
export function memoryAttachment(
  contentId: string,
  body: Buffer,
  headers: Record<string, string> = {},
): As4Attachment {
  return {
    contentId,
    headers: { 'content-type': 'application/octet-stream', 'content-id': `<${contentId}>`, ...headers },
    open: () => Readable.from(body.length === 0 ? [] : [body]),
    size: body.length,
  };
}

export async function readAll(att: As4Attachment): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of att.open()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface TestParty {
  key: KeyObject;
  certificate: X509Certificate;
  chain: X509Certificate[];
}

export interface TestPki {
  root: X509Certificate;
  rsa: TestParty;
  rsa2: TestParty;
  ed25519: TestParty;
  ecdsa: TestParty;
  x25519: TestParty;
}

const notBefore = new Date('2025-01-01T00:00:00Z');
const notAfter = new Date('2035-01-01T00:00:00Z');

function party(c: Credential): TestParty {
  return { key: c.privateKey, certificate: c.certificate, chain: c.chain };
}

let pki: Promise<TestPki> | undefined;

/** A small test PKI: an RSA root CA issuing AP certificates with RSA 2048, Ed25519, ECDSA P-256 and X25519 keys. */
export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const root = await createCertificateAuthority({
      subject: 'CN=EHMI Test Root CA, O=EHMI Test, C=DK',
      notBefore,
      notAfter,
      pathLength: 1,
    });
    const ap = (subject: string, keyType: KeyType, purposes: Purpose[]) =>
      issueCertificate(root, { subject, keyType, purposes, notBefore, notAfter }).then(party);
    const [rsa, rsa2, ed25519, ecdsa, x25519] = await Promise.all([
      ap('CN=AP RSA, O=EHMI Test, C=DK', 'rsa-2048', ['signing', 'encryption']),
      ap('CN=AP RSA 2, O=EHMI Test, C=DK', 'rsa-2048', ['signing', 'encryption']),
      ap('CN=AP Ed25519, O=EHMI Test, C=DK', 'ed25519', ['signing']),
      ap('CN=AP P-256, O=EHMI Test, C=DK', 'p-256', ['signing']),
      ap('CN=AP X25519, O=EHMI Test, C=DK', 'x25519', ['encryption']),
    ]);
    return { root: root.certificate, rsa, rsa2, ed25519, ecdsa, x25519 };
  })();
  return pki;
}

/** An OCES3-like party: a 3072-bit RSA function certificate issued by a CA that signs with RSASSA-PSS. */
export async function psSignedParty(): Promise<TestParty> {
  const root = await createCertificateAuthority({
    subject: 'CN=Den Danske Stat OCES udstedende-CA 1 (test), O=Test, C=DK',
    keyType: 'rsa-pss-2048',
    notBefore,
    notAfter,
  });
  const ap = await issueCertificate(root, {
    subject: 'CN=EHMI AP (funktionscertifikat), O=Test, C=DK',
    keyType: 'rsa-3072',
    purposes: ['signing', 'encryption'],
    notBefore,
    notAfter,
  });
  return party(ap);
}

/** A trust hook for the test PKI: the signer was issued by the root and its signature verifies. */
export function trustRoot(root: X509Certificate) {
  return (chain: X509Certificate[]) => chain[0]!.checkIssued(root) && chain[0]!.verify(root.publicKey);
}

export const trustAll = () => true;

export function fixturePem(name: string): string {
  return readFileSync(KEYS + name, 'utf8');
}

export function fixtureKey(name: string): KeyObject {
  return createPrivateKey(fixturePem(name));
}

export { createPublicKey };

/** A minimal AS4 UserMessage envelope (SOAP 1.2), as the message builder would produce it. */
export function userMessageXml(bodyText = ''): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope"><S12:Header>' +
    '<eb:Messaging xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/" S12:mustUnderstand="true">' +
    '<eb:UserMessage><eb:MessageInfo><eb:Timestamp>2026-11-26T00:00:00Z</eb:Timestamp>' +
    '<eb:MessageId>m1@test</eb:MessageId></eb:MessageInfo>' +
    '<eb:PayloadInfo><eb:PartInfo href="cid:payload-1@test"/></eb:PayloadInfo></eb:UserMessage></eb:Messaging>' +
    `</S12:Header><S12:Body>${bodyText}</S12:Body></S12:Envelope>`
  );
}

/** Serialise and parse again, as the wire does: a signature must survive it. */
export function reparse(doc: Document): Document {
  return parseXml(serializeXml(doc));
}

/** Asserts a promise rejects with an EhmiError of the ebMS code (and the details.reason when given). */
export async function rejectsWith(p: Promise<unknown>, ebms: string, reason?: string): Promise<EhmiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EhmiError, `not an EhmiError: ${String(err)}`);
    assert.equal(err.ebmsCode, ebms, `${err.code}: ${err.message}`);
    if (reason !== undefined) assert.equal(err.details.reason, reason, err.message);
    return err;
  }
  assert.fail(`expected a rejection with ${ebms}`);
}

/** Whether xmlsec1 (libxmlsec1 + OpenSSL), an independent XML-DSig implementation, is installed. */
export const XMLSEC1 = spawnSync('xmlsec1', ['--version']).status === 0;

/**
 * Verifies a signed envelope with xmlsec1, as SOURCES-as4-smp.md did: the wsu:Id attributes of eb:Messaging,
 * soap:Body and wsu:Timestamp registered as ids.
 */
export function xmlsec1Verify(xml: string, certPem: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ehmi-xmlsec1-'));
  try {
    writeFileSync(join(dir, 'msg.xml'), xml);
    writeFileSync(join(dir, 'cert.pem'), certPem);
    const ids = ['Messaging', 'Body', 'Timestamp'].flatMap((name) => ['--id-attr:Id', name]);
    const r = spawnSync(
      'xmlsec1',
      ['--verify', '--pubkey-cert-pem', join(dir, 'cert.pem'), ...ids, join(dir, 'msg.xml')],
      {
        encoding: 'utf8',
      },
    );
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
