import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, type KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { EhmiError } from '@ehmi/errors';
import { type Document, parseXml, serializeXml } from '@ehmi/xml';
import * as x509 from '@peculiar/x509';
import type { As4Attachment } from '../../src/model/attachment.ts';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;
type GenParams = Parameters<typeof webcrypto.subtle.generateKey>[0];

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** /work/shared/fixtures resolved from this file (packages/as4/test/wss → repo root → ../shared). */
export const FIXTURES = fileURLToPath(new URL('../../../../../shared/fixtures/', import.meta.url));
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

const NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
const NOT_AFTER = new Date('2035-01-01T00:00:00Z');

async function issue(
  name: string,
  serial: string,
  keys: CryptoKeyPair,
  ca: { cert: x509.X509Certificate; key: CryptoKey },
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: name,
    issuer: ca.cert.subject,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    publicKey: keys.publicKey as never,
    signingKey: ca.key as never,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}

async function party(
  cert: x509.X509Certificate,
  keys: CryptoKeyPair,
  root: X509Certificate,
): Promise<TestParty> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const certificate = new X509Certificate(Buffer.from(cert.rawData));
  return {
    key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    certificate,
    chain: [certificate, root],
  };
}

let pki: Promise<TestPki> | undefined;

/** A small test PKI: an RSA root CA issuing AP certificates with RSA 2048, Ed25519, ECDSA P-256 and X25519 keys. */
export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const rsaAlg = {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    };
    const rootKeys = (await webcrypto.subtle.generateKey(rsaAlg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=EHMI Test Root CA, O=EHMI Test, C=DK',
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      keys: rootKeys,
      signingAlgorithm: rsaAlg,
      extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
    });
    const ca = { cert: rootCert, key: rootKeys.privateKey };
    const root = new X509Certificate(Buffer.from(rootCert.rawData));
    const gen = (alg: Parameters<typeof webcrypto.subtle.generateKey>[0], usages: webcrypto.KeyUsage[]) =>
      webcrypto.subtle.generateKey(alg as GenParams, true, usages) as Promise<CryptoKeyPair>;
    const rsaKeys = await gen(rsaAlg, ['sign', 'verify']);
    const rsa2Keys = await gen(rsaAlg, ['sign', 'verify']);
    const edKeys = await gen({ name: 'Ed25519' } as unknown as GenParams, ['sign', 'verify']);
    const ecKeys = await gen({ name: 'ECDSA', namedCurve: 'P-256' } as unknown as GenParams, [
      'sign',
      'verify',
    ]);
    const xKeys = await gen({ name: 'X25519' } as unknown as GenParams, ['deriveBits']);
    return {
      root,
      rsa: await party(await issue('CN=AP RSA, O=EHMI Test, C=DK', '1001', rsaKeys, ca), rsaKeys, root),
      rsa2: await party(await issue('CN=AP RSA 2, O=EHMI Test, C=DK', '1002', rsa2Keys, ca), rsa2Keys, root),
      ed25519: await party(await issue('CN=AP Ed25519, O=EHMI Test, C=DK', '1003', edKeys, ca), edKeys, root),
      ecdsa: await party(await issue('CN=AP P-256, O=EHMI Test, C=DK', '1004', ecKeys, ca), ecKeys, root),
      x25519: await party(await issue('CN=AP X25519, O=EHMI Test, C=DK', '1005', xKeys, ca), xKeys, root),
    };
  })();
  return pki;
}

/**
 * An OCES3-like party: a 3072-bit RSA key in a certificate that the root signs with RSASSA-PSS (SHA-256,
 * MGF1-SHA-256, salt 32), as the Danish OCES3 test CA does (specs/as4-smp.md §0.3).
 */
export async function psSignedParty(): Promise<TestParty> {
  const pssRoot = (await webcrypto.subtle.generateKey(
    { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const signingAlgorithm = { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 };
  const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a',
    name: 'CN=Den Danske Stat OCES udstedende-CA 1 (test), O=Test, C=DK',
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    keys: pssRoot,
    signingAlgorithm,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  const keys = (await webcrypto.subtle.generateKey(
    {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 3072,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0b',
    subject: 'CN=EHMI AP (funktionscertifikat), O=Test, C=DK',
    issuer: rootCert.subject,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    publicKey: keys.publicKey as never,
    signingKey: pssRoot.privateKey as never,
    signingAlgorithm,
    extensions: [await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never)],
  });
  return party(cert, keys, new X509Certificate(Buffer.from(rootCert.rawData)));
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
