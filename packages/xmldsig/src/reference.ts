import { createHash, timingSafeEqual } from 'node:crypto';
import { childElement, childElements, type Element, textOf } from '@ehmi/xml';
import { DSIG, hashOf } from './algorithms.ts';
import { canonicalize, inclusivePrefixesOf } from './c14n.ts';
import { DSIG_NS } from './ns.ts';

/** One ds:Transform of a reference. */
export interface ReferenceTransform {
  algorithm: string;
  /** The `ec:InclusiveNamespaces/@PrefixList` of an exclusive c14n transform, when present. */
  inclusivePrefixes?: string[];
}

/**
 * A ds:Reference as read from SignedInfo: URI, transforms, digest method and value (XML Signature 1.1 §4.4.3).
 * `element` is the ds:Reference itself, so a caller can import it byte-for-byte instead of rebuilding it (an AS4
 * receipt's ebbp:MessagePartNRInformation echoes each reference of the signature it received).
 */
export interface SignatureReference {
  uri: string;
  transforms: ReferenceTransform[];
  digestMethod: string;
  /** Base64, as in the ds:DigestValue (whitespace removed). */
  digestValue: string;
  element: Element;
}

/**
 * Reads one ds:Reference; undefined when it lacks the URI attribute, ds:DigestMethod or ds:DigestValue (each
 * protocol reports that in its own error code).
 */
export function readReference(ref: Element): SignatureReference | undefined {
  const uri = ref.getAttribute('URI');
  const dm = childElement(ref, DSIG_NS.ds, 'DigestMethod');
  const dv = childElement(ref, DSIG_NS.ds, 'DigestValue');
  if (uri === null || !dm || !dv) return undefined;
  const transformsEl = childElement(ref, DSIG_NS.ds, 'Transforms');
  const transforms = transformsEl
    ? childElements(transformsEl, DSIG_NS.ds, 'Transform').map((t) => {
        const inclusivePrefixes = inclusivePrefixesOf(t);
        const algorithm = t.getAttribute('Algorithm') ?? '';
        return inclusivePrefixes ? { algorithm, inclusivePrefixes } : { algorithm };
      })
    : [];
  return {
    uri,
    transforms,
    digestMethod: dm.getAttribute('Algorithm') ?? '',
    digestValue: base64Text(dv),
    element: ref,
  };
}

/** The text of a base64 element (ds:DigestValue, ds:SignatureValue) with its whitespace removed. */
export function base64Text(el: Element): string {
  return (textOf(el) ?? '').replace(/\s+/g, '');
}

export interface DigestElementOptions {
  /** DigestMethod URI; one {@link hashOf} knows (check it before: an unknown one is a TypeError). */
  digestMethod: string;
  /** The c14n applied to the node-set. Default exclusive c14n; XML Signature 1.1 §4.4.3.2: none means C14N 1.0. */
  c14n?: string;
  inclusivePrefixes?: readonly string[];
}

/**
 * The digest of a same-document reference's element: canonicalised (see {@link canonicalize}) and hashed with
 * the DigestMethod. The element is taken as it is: an enveloped-signature transform is the caller's (it removes
 * the signature from a copy first).
 *
 * @example
 * const value = digestElement(body, { digestMethod: DSIG.sha256 }).toString('base64');
 */
export function digestElement(el: Element, options: DigestElementOptions): Buffer {
  const hash = hashOf(options.digestMethod);
  if (!hash) throw new TypeError(`digestElement: unsupported digest method ${options.digestMethod}`);
  const bytes = canonicalize(el, options.c14n ?? DSIG.excC14n, {
    inclusivePrefixes: options.inclusivePrefixes ?? [],
  });
  return createHash(hash).update(bytes, 'utf8').digest();
}

/** Compares a computed digest with a base64 DigestValue in constant time. */
export function sameDigest(actual: Buffer, expectedBase64: string): boolean {
  const expected = Buffer.from(expectedBase64, 'base64');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
