import type { KeyObject } from 'node:crypto';
import { childElement, type Element } from '@ehmi/xml';
import { signBytes, signBytesAsync, verifyBytes } from './algorithms.ts';
import { canonicalize, inclusivePrefixesOf } from './c14n.ts';
import { DSIG_NS } from './ns.ts';
import { base64Text } from './reference.ts';

/**
 * SignedInfo's CanonicalizationMethod: its URI (empty when absent) and InclusiveNamespaces PrefixList. Callers
 * check the URI against their policy before {@link canonicalSignedInfo}.
 */
export function canonicalizationOf(signedInfo: Element): { algorithm: string; inclusivePrefixes: string[] } {
  const el = childElement(signedInfo, DSIG_NS.ds, 'CanonicalizationMethod');
  return {
    algorithm: el?.getAttribute('Algorithm') ?? '',
    inclusivePrefixes: (el && inclusivePrefixesOf(el)) ?? [],
  };
}

/** SignedInfo's SignatureMethod URI, or '' when absent. */
export function signatureMethodOf(signedInfo: Element): string {
  return childElement(signedInfo, DSIG_NS.ds, 'SignatureMethod')?.getAttribute('Algorithm') ?? '';
}

/**
 * The bytes a SignatureValue signs (XML Signature 1.1 §3.1.2 and §3.2.2): SignedInfo, in its place in the
 * document, canonicalised with its own CanonicalizationMethod (one of {@link C14N_METHODS}).
 */
export function canonicalSignedInfo(signedInfo: Element): Buffer {
  const { algorithm, inclusivePrefixes } = canonicalizationOf(signedInfo);
  return Buffer.from(canonicalize(signedInfo, algorithm, { inclusivePrefixes }), 'utf8');
}

/**
 * Signature validation (XML Signature 1.1 §3.2.2): does the ds:SignatureValue verify over the canonical
 * SignedInfo with `key` and `method`? False, never an exception, for a wrong key, method or value; reference
 * validation is separate.
 *
 * @example
 * if (!verifySignatureValue(signedInfo, signatureValueEl, DSIG.rsaSha256, cert.publicKey)) throw …;
 */
export function verifySignatureValue(
  signedInfo: Element,
  signatureValue: Element,
  method: string,
  key: KeyObject,
): boolean {
  const value = Buffer.from(base64Text(signatureValue), 'base64');
  return verifyBytes(method, key, canonicalSignedInfo(signedInfo), value);
}

/**
 * Signature generation (XML Signature 1.1 §3.1.2): the base64 SignatureValue over SignedInfo as it stands in the
 * document (place it first: c14n sees the namespaces in scope).
 */
export function signSignedInfo(signedInfo: Element, method: string, key: KeyObject): string {
  return signBytes(method, key, canonicalSignedInfo(signedInfo)).toString('base64');
}

/**
 * {@link signSignedInfo} with the private-key operation on libuv's thread pool ({@link signBytesAsync}): for a
 * server that signs on its hot path. Canonicalise first, then sign: SignedInfo may change once this returns.
 *
 * @example
 * append(sig, NS.ds, 'ds:SignatureValue', await signSignedInfoAsync(signedInfo, method, privateKey));
 */
export async function signSignedInfoAsync(
  signedInfo: Element,
  method: string,
  key: KeyObject,
): Promise<string> {
  return (await signBytesAsync(method, key, canonicalSignedInfo(signedInfo))).toString('base64');
}
