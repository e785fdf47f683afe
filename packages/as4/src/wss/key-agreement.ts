import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { childElement, type Element, textOf } from '@ehmi/xml';
import { attrs, emptyElement, textElement } from '../lib/xml-text.ts';
import { ALG } from './algorithms.ts';
import { NS } from './ns.ts';

// RFC 3394 §2.2.3.1 default initial value of AES key wrap.
const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

/** AES-128 key wrap (RFC 3394, XML Encryption 1.1 §5.6.3 `kw-aes128`). */
export function wrapKey(kek: Buffer, cek: Buffer): Buffer {
  const c = createCipheriv('id-aes128-wrap', kek, KW_IV);
  return Buffer.concat([c.update(cek), c.final()]);
}

export function unwrapKey(kek: Buffer, wrapped: Buffer): Buffer {
  const d = createDecipheriv('id-aes128-wrap', kek, KW_IV);
  return Buffer.concat([d.update(wrapped), d.final()]);
}

interface HkdfParams {
  salt: Buffer;
  info: Buffer;
  keyLengthBytes: number;
}

const P256_OID_URN = 'urn:oid:1.2.840.10045.3.1.7';

/**
 * eDelivery AS4 2.0 key agreement: an ephemeral key pair with the recipient's static key — X25519 (RFC 9231
 * `x25519`, Common Usage Profile) or ECDH-ES on P-256 (XML Encryption 1.1 §5.6.2, the alternative EC profile
 * enhancement) — then HKDF-SHA256 (RFC 9231 `hkdf`, PRF hmac-sha256) to a 128-bit key-encryption key. Returns the
 * KEK and the xenc:AgreementMethod as text, with `recipientKeyInfo` (the content of its xenc:RecipientKeyInfo).
 */
export function agreeKey(recipient: KeyObject, recipientKeyInfo: string): { kek: Buffer; xml: string } {
  const x25519 = recipient.asymmetricKeyType === 'x25519';
  const p256 =
    recipient.asymmetricKeyType === 'ec' && recipient.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (!x25519 && !p256) {
    throw new EhmiError('EHMI_USAGE', `no key agreement for a ${recipient.asymmetricKeyType} recipient key`);
  }
  const eph = x25519
    ? generateKeyPairSync('x25519')
    : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
  const params: HkdfParams = {
    salt: randomBytes(32),
    info: Buffer.from(ALG.kwAes128, 'utf8'),
    keyLengthBytes: 16,
  };
  const kek = Buffer.from(hkdfSync('sha256', shared, params.salt, params.info, params.keyLengthBytes));
  let originator: string;
  if (x25519) {
    originator = `<dsig11:DEREncodedKeyValue xmlns:dsig11="${NS.dsig11}">${eph.publicKey
      .export({ type: 'spki', format: 'der' })
      .toString('base64')}</dsig11:DEREncodedKeyValue>`;
  } else {
    // XML Signature 1.1 §4.5.2.3 ECKeyValue: named curve and the uncompressed point (X9.62 04 ‖ x ‖ y).
    const jwk = eph.publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x!, 'base64url'),
      Buffer.from(jwk.y!, 'base64url'),
    ]);
    originator =
      `<ds:KeyValue xmlns:ds="${NS.ds}"><dsig11:ECKeyValue xmlns:dsig11="${NS.dsig11}">` +
      emptyElement('dsig11:NamedCurve', { URI: P256_OID_URN }) +
      textElement('dsig11:PublicKey', point.toString('base64')) +
      '</dsig11:ECKeyValue></ds:KeyValue>';
  }
  const xml =
    `<xenc:AgreementMethod xmlns:xenc="${NS.xenc}"${attrs({ Algorithm: x25519 ? ALG.x25519 : ALG.ecdhEs })}>` +
    `<xenc11:KeyDerivationMethod xmlns:xenc11="${NS.xenc11}"${attrs({ Algorithm: ALG.hkdf })}>` +
    `<dsig-more:HKDFParams xmlns:dsig-more="${NS.dsigMore}">` +
    emptyElement('dsig-more:PRF', { Algorithm: ALG.hmacSha256 }) +
    textElement('dsig-more:Salt', params.salt.toString('base64')) +
    // As Apache Santuario (the XML security library under WSS4J, phase4 and Domibus) writes them: Salt base64,
    // Info hexBinary, KeyLength in octets.
    textElement('dsig-more:Info', params.info.toString('hex')) +
    textElement('dsig-more:KeyLength', String(params.keyLengthBytes)) +
    '</dsig-more:HKDFParams></xenc11:KeyDerivationMethod>' +
    `<xenc:OriginatorKeyInfo>${originator}</xenc:OriginatorKeyInfo>` +
    `<xenc:RecipientKeyInfo>${recipientKeyInfo}</xenc:RecipientKeyInfo>` +
    '</xenc:AgreementMethod>';
  return { kek, xml };
}

/** The receiving side of {@link agreeKey}: derives the KEK from an xenc:AgreementMethod and our private key. */
export function deriveKek(agreement: Element, privateKey: KeyObject): Buffer {
  const fail = (msg: string) => new EhmiError('EHMI_AS4_FAILED_DECRYPTION', msg);
  const algorithm = agreement.getAttribute('Algorithm');
  if (algorithm !== ALG.x25519 && algorithm !== ALG.ecdhEs) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', `unsupported key agreement ${algorithm}`);
  }
  const curve = algorithm === ALG.x25519 ? 'x25519' : 'p256';
  if (curve === 'x25519' && privateKey.asymmetricKeyType !== 'x25519') {
    throw fail('the decryption key is not an X25519 key');
  }
  if (curve === 'p256' && privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw fail('the decryption key is not a P-256 key');
  }
  const kdm = childElement(agreement, NS.xenc11, 'KeyDerivationMethod');
  if (kdm?.getAttribute('Algorithm') !== ALG.hkdf) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'the key agreement does not use HKDF');
  }
  const hp = childElement(kdm, NS.dsigMore, 'HKDFParams');
  const prf = hp && childElement(hp, NS.dsigMore, 'PRF')?.getAttribute('Algorithm');
  if (!hp || prf !== ALG.hmacSha256) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'HKDF PRF must be hmac-sha256');
  }
  const salt = Buffer.from(textOf(childElement(hp, NS.dsigMore, 'Salt')) ?? '', 'base64');
  const infoText = textOf(childElement(hp, NS.dsigMore, 'Info')) ?? '';
  const info = /^([0-9a-fA-F]{2})*$/.test(infoText)
    ? Buffer.from(infoText, 'hex')
    : Buffer.from(infoText, 'base64');
  // KeyLength in octets (Santuario); a value in bits (128) is accepted too.
  const declared = Number(textOf(childElement(hp, NS.dsigMore, 'KeyLength')) ?? '16');
  const keyLengthBytes = declared === 128 ? 16 : declared;
  if (keyLengthBytes !== 16) throw fail(`unsupported HKDF key length ${declared}`);
  const originator = originatorKey(childElement(agreement, NS.xenc, 'OriginatorKeyInfo'), curve);
  const shared = diffieHellman({ privateKey, publicKey: originator });
  return Buffer.from(hkdfSync('sha256', shared, salt, info, keyLengthBytes));
}

// RFC 8410 §4: SubjectPublicKeyInfo prefix of an X25519 key (OID 1.3.101.110), followed by the 32 raw octets.
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/**
 * The ephemeral key of the originator: `dsig11:DEREncodedKeyValue` (SPKI) or `ds:KeyValue/dsig11:ECKeyValue` (raw
 * X25519 key, or the uncompressed P-256 point), checked to be on the agreed curve.
 */
function originatorKey(oki: Element | undefined, curve: 'x25519' | 'p256'): KeyObject {
  const fail = (msg: string, cause?: unknown) =>
    new EhmiError('EHMI_AS4_FAILED_DECRYPTION', msg, cause === undefined ? {} : { cause });
  if (!oki) throw fail('the key agreement has no OriginatorKeyInfo');
  let key: KeyObject;
  try {
    const derEl = childElement(oki, NS.dsig11, 'DEREncodedKeyValue');
    const kv = childElement(oki, NS.ds, 'KeyValue');
    const ec = kv && childElement(kv, NS.dsig11, 'ECKeyValue');
    const pub = ec && childElement(ec, NS.dsig11, 'PublicKey');
    if (derEl) {
      key = createPublicKey({ key: Buffer.from(textOf(derEl) ?? '', 'base64'), format: 'der', type: 'spki' });
    } else if (pub && curve === 'x25519') {
      const raw = Buffer.from(textOf(pub) ?? '', 'base64');
      key = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    } else if (pub) {
      const point = Buffer.from(textOf(pub) ?? '', 'base64');
      if (point.length !== 65 || point[0] !== 4) throw new Error('not an uncompressed P-256 point');
      const jwk = {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      };
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } else {
      throw new Error('neither a DEREncodedKeyValue nor an ECKeyValue');
    }
  } catch (err) {
    throw fail('the originator key cannot be read', err);
  }
  const ok =
    curve === 'x25519'
      ? key.asymmetricKeyType === 'x25519'
      : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (!ok) throw fail(`the originator key is not on the agreed curve (${curve})`);
  return key;
}
