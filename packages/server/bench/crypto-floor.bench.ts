// The crypto floor: how many signed and encrypted AS4 exchanges with a signed receipt this machine's cores can do
// when they do nothing but the cryptography (and the gzip) of one. One exchange, with the algorithms of the
// edelivery-1.15 profile our access points use (packages/as4/src/wss/algorithms.ts) and the key the network's AP
// certificates carry (RSA-3072, packages/network/src/pki.ts):
//   sender:   gzip 10 KB; AES-128-GCM encrypt; RSA-OAEP (SHA-256, MGF1-SHA256) wrap of the key with the receiver's
//             public key; SHA-256 digests of the parts; RSA-SHA256 (PKCS #1 v1.5) signature of the SignedInfo;
//   receiver: verify that signature; the digests again; RSA-OAEP unwrap; AES-128-GCM decrypt; gunzip; sign the
//             receipt (RSA-SHA256);
//   sender:   verify the receipt's signature.
// One worker thread per core, each running exchanges in a loop for the same seconds; the sum is the floor. TLS
// (RSA-2048 handshakes, kept-alive connections) is not part of it. A receipted MedCom message is two exchanges (the
// message, and the EnvelopeReceipt coming back).
// Knobs: EHMI_BENCH_FLOOR_SECONDS (10). Run: node --conditions=ehmi-source --import tsx <this file>
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';

const SECONDS = Number(process.env.EHMI_BENCH_FLOOR_SECONDS ?? 10);

// Plain CommonJS for the worker threads (no TypeScript loader needed in them).
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const c = require('node:crypto');
const zlib = require('node:zlib');
const { sender, receiver, payload, seconds } = workerData;
const sPriv = c.createPrivateKey(sender.privateKey), sPub = c.createPublicKey(sender.publicKey);
const rPriv = c.createPrivateKey(receiver.privateKey), rPub = c.createPublicKey(receiver.publicKey);
const oaep = { padding: c.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
const header = Buffer.alloc(2048, 'eb:Messaging wsse:Security ');
const digest = (b) => c.createHash('sha256').update(b).digest();
function signedInfo(parts) {
  return Buffer.from('<ds:SignedInfo>' + parts.map((p) => '<ds:Reference><ds:DigestValue>' + digest(p).toString('base64') + '</ds:DigestValue></ds:Reference>').join('') + '</ds:SignedInfo>');
}
function exchange() {
  // sender
  const gz = zlib.gzipSync(payload);
  const key = c.randomBytes(16), iv = c.randomBytes(12);
  const enc = c.createCipheriv('aes-128-gcm', key, iv);
  const ct = Buffer.concat([enc.update(gz), enc.final()]);
  const tag = enc.getAuthTag();
  const wrapped = c.publicEncrypt({ key: rPub, ...oaep }, key);
  const si = signedInfo([header, ct]);
  const sig = c.sign('sha256', si, sPriv);
  // receiver
  if (!c.verify('sha256', signedInfo([header, ct]), sPub, sig)) throw new Error('signature');
  const k = c.privateDecrypt({ key: rPriv, ...oaep }, wrapped);
  const dec = c.createDecipheriv('aes-128-gcm', k, iv);
  dec.setAuthTag(tag);
  const plain = zlib.gunzipSync(Buffer.concat([dec.update(ct), dec.final()]));
  if (plain.length !== payload.length) throw new Error('payload');
  const receiptInfo = signedInfo([header, digest(plain)]);
  const receiptSig = c.sign('sha256', receiptInfo, rPriv);
  // sender
  if (!c.verify('sha256', receiptInfo, rPub, receiptSig)) throw new Error('receipt');
}
for (let i = 0; i < 3; i++) exchange();
let n = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
while (performance.now() - t0 < seconds * 1000) { exchange(); n++; }
const cpu = process.cpuUsage(cpu0);
parentPort.postMessage({ n, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 });
`;

export interface CryptoFloor {
  exchangesPerSecond: number;
  perCore: number[];
  cores: number;
  seconds: number;
  keyType: string;
  payloadBytes: number;
  algorithms: string;
}

/** The payload: a MedCom HomeCareObservation bundle (JSON, compressible as real messages are), 10 KB. */
function payload(): Buffer {
  const bundle = readFileSync(
    new URL(
      '../../../fixtures/fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
      import.meta.url,
    ),
  );
  return bundle.subarray(0, 10 * 1024);
}

export async function measureCryptoFloor(seconds = SECONDS): Promise<CryptoFloor> {
  const pair = () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    return {
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
    };
  };
  const workerData = { sender: pair(), receiver: pair(), payload: payload(), seconds };
  const cores = availableParallelism();
  const results = await Promise.all(
    Array.from(
      { length: cores },
      () =>
        new Promise<{ n: number; ms: number; cpuMs: number }>((resolve, reject) => {
          const w = new Worker(WORKER, { eval: true, workerData });
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) =>
            code === 0 ? undefined : reject(new Error(`floor worker exited ${code}`)),
          );
        }),
    ),
  );
  const perCore = results.map((r) => (r.n * 1000) / r.ms);
  return {
    exchangesPerSecond: perCore.reduce((a, b) => a + b, 0),
    perCore,
    cores,
    seconds,
    keyType: 'RSA-3072',
    payloadBytes: workerData.payload.length,
    algorithms:
      'RSA-SHA256 (PKCS#1 v1.5) ×2 sign + ×2 verify, RSA-OAEP SHA-256/MGF1-SHA256 wrap + unwrap, AES-128-GCM, gzip, SHA-256',
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const floor = await measureCryptoFloor();
  console.log(
    `crypto floor (${floor.keyType}, ${floor.payloadBytes} B, ${floor.cores} cores × ${floor.seconds} s, load average ${loadavg()[0]!.toFixed(2)}): ${floor.exchangesPerSecond.toFixed(0)} exchanges/s (per core ${floor.perCore.map((p) => p.toFixed(0)).join(', ')}) = ${(floor.exchangesPerSecond / 2).toFixed(0)} receipted messages/s`,
  );
  if (process.env.EHMI_BENCH_RESULT) writeFileSync(process.env.EHMI_BENCH_RESULT, JSON.stringify(floor));
}
