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
import { ALG } from './algorithms.ts';
import { append } from './envelope.ts';
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

/**
 * eDelivery AS4 2.0 key agreement: an ephemeral X25519 key pair with the recipient's static X25519 key (RFC 9231
 * §2.6.x `x25519`), HKDF-SHA256 (RFC 9231 `hkdf`, PRF hmac-sha256) to a 128-bit key-encryption key. Writes the
 * xenc:AgreementMethod into `keyInfo` and returns the KEK.
 */
export function agreeX25519(keyInfo: Element, recipient: KeyObject): { kek: Buffer; agreement: Element } {
  if (recipient.asymmetricKeyType !== 'x25519') {
    throw new EhmiError('EHMI_USAGE', `the recipient key is ${recipient.asymmetricKeyType}, not X25519`);
  }
  const eph = generateKeyPairSync('x25519');
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
  const params: HkdfParams = {
    salt: randomBytes(32),
    info: Buffer.from(ALG.kwAes128, 'utf8'),
    keyLengthBytes: 16,
  };
  const kek = Buffer.from(hkdfSync('sha256', shared, params.salt, params.info, params.keyLengthBytes));
  const agreement = append(keyInfo, NS.xenc, 'xenc:AgreementMethod');
  agreement.setAttributeNS(NS.xmlns, 'xmlns:xenc', NS.xenc);
  agreement.setAttribute('Algorithm', ALG.x25519);
  const kdm = append(agreement, NS.xenc11, 'xenc11:KeyDerivationMethod');
  kdm.setAttributeNS(NS.xmlns, 'xmlns:xenc11', NS.xenc11);
  kdm.setAttribute('Algorithm', ALG.hkdf);
  const hp = append(kdm, NS.dsigMore, 'dsig-more:HKDFParams');
  hp.setAttributeNS(NS.xmlns, 'xmlns:dsig-more', NS.dsigMore);
  append(hp, NS.dsigMore, 'dsig-more:PRF').setAttribute('Algorithm', ALG.hmacSha256);
  append(hp, NS.dsigMore, 'dsig-more:Salt', params.salt.toString('base64'));
  // As Apache Santuario (the XML security library under WSS4J, phase4 and Domibus) writes them: Salt base64,
  // Info hexBinary, KeyLength in octets.
  append(hp, NS.dsigMore, 'dsig-more:Info', params.info.toString('hex'));
  append(hp, NS.dsigMore, 'dsig-more:KeyLength', String(params.keyLengthBytes));
  const oki = append(agreement, NS.xenc, 'xenc:OriginatorKeyInfo');
  const der = append(
    oki,
    NS.dsig11,
    'dsig11:DEREncodedKeyValue',
    eph.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  );
  der.setAttributeNS(NS.xmlns, 'xmlns:dsig11', NS.dsig11);
  return { kek, agreement };
}

/** The receiving side of {@link agreeX25519}: derives the KEK from an xenc:AgreementMethod and our private key. */
export function deriveX25519(agreement: Element, privateKey: KeyObject): Buffer {
  const fail = (msg: string) => new EhmiError('EHMI_AS4_FAILED_DECRYPTION', msg);
  if (agreement.getAttribute('Algorithm') !== ALG.x25519) {
    throw new EhmiError(
      'EHMI_AS4_POLICY_NONCOMPLIANCE',
      `unsupported key agreement ${agreement.getAttribute('Algorithm')}`,
    );
  }
  if (privateKey.asymmetricKeyType !== 'x25519') throw fail('the decryption key is not an X25519 key');
  const kdm = childElement(agreement, NS.xenc11, 'KeyDerivationMethod');
  if (kdm?.getAttribute('Algorithm') !== ALG.hkdf) {
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'the key agreement does not use HKDF');
  }
  const hp = childElement(kdm, NS.dsigMore, 'HKDFParams');
  const prf = hp && childElement(hp, NS.dsigMore, 'PRF')?.getAttribute('Algorithm');
  if (!hp || prf !== ALG.hmacSha256)
    throw new EhmiError('EHMI_AS4_POLICY_NONCOMPLIANCE', 'HKDF PRF must be hmac-sha256');
  const salt = Buffer.from(textOf(childElement(hp, NS.dsigMore, 'Salt')) ?? '', 'base64');
  const infoText = textOf(childElement(hp, NS.dsigMore, 'Info')) ?? '';
  const info = /^([0-9a-fA-F]{2})*$/.test(infoText)
    ? Buffer.from(infoText, 'hex')
    : Buffer.from(infoText, 'base64');
  // KeyLength in octets (Santuario); a value in bits (128) is accepted too.
  const declared = Number(textOf(childElement(hp, NS.dsigMore, 'KeyLength')) ?? '16');
  const keyLengthBytes = declared === 128 ? 16 : declared;
  if (keyLengthBytes !== 16) throw fail(`unsupported HKDF key length ${declared}`);
  const originator = originatorKey(childElement(agreement, NS.xenc, 'OriginatorKeyInfo'));
  if (originator.asymmetricKeyType !== 'x25519') throw fail('the originator key is not X25519');
  const shared = diffieHellman({ privateKey, publicKey: originator });
  return Buffer.from(hkdfSync('sha256', shared, salt, info, keyLengthBytes));
}

// RFC 8410 §4: SubjectPublicKeyInfo prefix of an X25519 key (OID 1.3.101.110), followed by the 32 raw octets.
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/**
 * The ephemeral key of the originator: `dsig11:DEREncodedKeyValue` (SPKI, what we write) or
 * `ds:KeyValue/dsig11:ECKeyValue` with the raw 32-octet public key (XML Signature 1.1 §4.5.2.3 shape).
 */
function originatorKey(oki: Element | undefined): KeyObject {
  const fail = (msg: string, cause?: unknown) =>
    new EhmiError('EHMI_AS4_FAILED_DECRYPTION', msg, cause === undefined ? {} : { cause });
  if (!oki) throw fail('the key agreement has no OriginatorKeyInfo');
  let der: Buffer | undefined;
  const derEl = childElement(oki, NS.dsig11, 'DEREncodedKeyValue');
  if (derEl) der = Buffer.from(textOf(derEl) ?? '', 'base64');
  const kv = childElement(oki, NS.ds, 'KeyValue');
  const ec = kv && childElement(kv, NS.dsig11, 'ECKeyValue');
  const pub = ec && childElement(ec, NS.dsig11, 'PublicKey');
  if (!der && pub) der = Buffer.concat([X25519_SPKI_PREFIX, Buffer.from(textOf(pub) ?? '', 'base64')]);
  if (!der) throw fail('the originator key is neither a DEREncodedKeyValue nor an ECKeyValue');
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (err) {
    throw fail('the originator key cannot be read', err);
  }
}
