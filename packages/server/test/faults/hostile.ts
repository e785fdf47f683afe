// The hostile-input corpus, sent to the running receiver while legitimate messages flow: the parser attacks of the
// library tests (XXE, entity expansion, broken MIME, too many parts, an oversized part header, a body that is no
// SOAP envelope, deeply nested JSON and an XML DOCTYPE at the MSH's EUA API), forged senders (a message signed with
// another organisation's valid AS4 key, a signed header changed after signing), and connections that stall or
// trickle their body. Each answer is recorded; none may be a receipt, and nothing of it may reach the inbox.
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { buildOutboundMessage } from '../../src/ap/message.ts';
import { type FaultCluster, RECEIVER, SENDER } from './cluster.ts';
import type { Rng } from './rng.ts';

const PROCESS = 'sdn-emergence';
const DOCUMENT_TYPE =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2';

interface Attack {
  name: string;
  /** The answer, as `<status> <ebMS codes or text>`; `refused` unless it is a receipt (or a 2xx at the MSH). */
  run(): Promise<{ answer: string; refused: boolean }>;
}

const SOAP = 'application/soap+xml; charset=UTF-8';
const ENVELOPE = (inner: string, doctype = '') =>
  `<?xml version="1.0"?>${doctype}<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Header/><S:Body>${inner}</S:Body></S:Envelope>`;

function describeAnswer(status: number, text: string): { answer: string; refused: boolean } {
  const codes = [...new Set(text.match(/EBMS:\d{4}/g) ?? [])].join(' ');
  const receipt = /<(?:\w+:)?Receipt[\s>]/.test(text);
  return { answer: `${status} ${codes || text.slice(0, 120).replace(/\s+/g, ' ')}`, refused: !receipt };
}

export class HostileCorpus {
  readonly #cluster: FaultCluster;
  readonly #agent: Agent;
  readonly #as4: string;
  readonly #ca: string;
  readonly #open = new Set<TLSSocket>();

  constructor(cluster: FaultCluster) {
    this.#cluster = cluster;
    const plan = cluster.pair.plan;
    this.#ca = readFileSync(plan.pki.trustAnchor, 'utf8');
    this.#agent = new Agent({ connect: { ca: this.#ca } });
    this.#as4 = `${plan.organisations.find((o) => o.spec.name === RECEIVER)!.urls.ap}/as4`;
  }

  async #post(body: Buffer | string, contentType: string): Promise<{ answer: string; refused: boolean }> {
    try {
      const r = await request(this.#as4, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { 'content-type': contentType },
        body,
      });
      return describeAnswer(r.statusCode, await r.body.text());
    } catch (err) {
      // The receiver cut the connection: refused, as long as it keeps serving (the load shows it does).
      return { answer: `connection ended: ${(err as Error).message}`, refused: true };
    }
  }

  /** A UserMessage built and signed as the sending AP would, with `sender` as its originalSender. */
  async #signed(sender: string, payload: Buffer): Promise<{ contentType: string; body: Buffer }> {
    const pki = this.#cluster.pair.plan.pki.organisations;
    const from = pki[SENDER]!.as4;
    const gln = (org: string) =>
      this.#cluster.pair.plan.organisations.find((o) => o.spec.name === org)!.spec.gln;
    const msg = await buildOutboundMessage({
      messageId: `${randomUUID()}@hostile.ehmi`,
      timestamp: new Date(),
      sender,
      receiver: `0088:${gln(RECEIVER)}`,
      process: PROCESS,
      documentType: DOCUMENT_TYPE,
      serviceType: 'dk-medcom-messaging',
      payload: { size: payload.length, open: () => Readable.from([payload]) },
      signing: {
        privateKey: createPrivateKey(readFileSync(from.key)),
        chain: [new X509Certificate(readFileSync(from.cert))],
      },
      recipientCertificate: new X509Certificate(readFileSync(pki[RECEIVER]!.as4.cert)),
    });
    const chunks: Buffer[] = [];
    for await (const c of msg.body) chunks.push(Buffer.from(c as Uint8Array));
    return { contentType: msg.contentType, body: Buffer.concat(chunks) };
  }

  /** The attacks that are one request each. */
  attacks(): Attack[] {
    const plan = this.#cluster.pair.plan;
    const gln = (org: string) => plan.organisations.find((o) => o.spec.name === org)!.spec.gln;
    const sbdh = Buffer.from(
      '<StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"/>',
    );
    const boundary = 'hostile-boundary';
    const multipart = (parts: string[]) =>
      `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`;
    const multipartType = `multipart/related; boundary="${boundary}"; type="application/soap+xml"`;
    return [
      {
        name: 'XXE: an external entity in the SOAP envelope',
        run: () =>
          this.#post(
            ENVELOPE('&xxe;', '<!DOCTYPE S:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
            SOAP,
          ),
      },
      {
        name: 'entity expansion (billion laughs)',
        run: () =>
          this.#post(
            ENVELOPE(
              '&l9;',
              `<!DOCTYPE S:Envelope [<!ENTITY l0 "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join('')}]>`,
            ),
            SOAP,
          ),
      },
      {
        name: 'a body that is no XML',
        run: () => this.#post(Buffer.from('\u0000\u00ff<<<>>>&&&'.repeat(100), 'latin1'), SOAP),
      },
      {
        name: 'XML that is no SOAP envelope',
        run: () => this.#post('<?xml version="1.0"?><a><b/></a>', SOAP),
      },
      {
        name: 'MIME without its closing boundary',
        run: () =>
          this.#post(
            `--${boundary}\r\ncontent-type: application/soap+xml\r\n\r\n${ENVELOPE('')}`,
            multipartType,
          ),
      },
      {
        name: 'MIME with more parts than the limit',
        run: () =>
          this.#post(
            multipart([
              `content-type: application/soap+xml\r\n\r\n${ENVELOPE('')}`,
              ...Array.from({ length: 500 }, (_, i) => `content-id: <p${i}>\r\n\r\nx`),
            ]),
            multipartType,
          ),
      },
      {
        name: 'a MIME part header over the limit',
        run: () =>
          this.#post(
            multipart([
              `content-type: application/soap+xml\r\nx-pad: ${'a'.repeat(64 * 1024)}\r\n\r\n${ENVELOPE('')}`,
            ]),
            multipartType,
          ),
      },
      {
        name: 'forged sender: signed with the municipality’s valid AS4 key, claiming to come from the GP itself',
        run: async () => {
          const m = await this.#signed(`0088:${gln(RECEIVER)}`, sbdh);
          return this.#post(m.body, m.contentType);
        },
      },
      {
        name: 'forged sender: a GLN no register knows',
        run: async () => {
          const m = await this.#signed('0088:5790000000005', sbdh);
          return this.#post(m.body, m.contentType);
        },
      },
      {
        name: 'a signed header changed after signing (eb:Timestamp)',
        run: async () => {
          const m = await this.#signed(`0088:${gln(SENDER)}`, sbdh);
          const text = m.body.toString('latin1');
          const changed = text.replace(
            /(<(?:\w+:)?Timestamp>[^<]*?)(\d)(Z?<)/,
            (_x, a: string, d: string, z: string) => `${a}${(Number(d) + 1) % 10}${z}`,
          );
          if (changed === text) throw new Error('no eb:Timestamp to change');
          return this.#post(Buffer.from(changed, 'latin1'), m.contentType);
        },
      },
      {
        name: 'the receiving MSH’s EUA API: FHIR XML with a DOCTYPE',
        run: () =>
          this.#msh(
            '<?xml version="1.0"?><!DOCTYPE Bundle [<!ENTITY x SYSTEM "file:///etc/passwd">]><Bundle xmlns="http://hl7.org/fhir">&x;</Bundle>',
            'application/fhir+xml',
          ),
      },
      {
        name: 'the receiving MSH’s EUA API: JSON nested 100 000 deep',
        run: () => this.#msh(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'application/fhir+json'),
      },
    ];
  }

  async #msh(body: string, contentType: string): Promise<{ answer: string; refused: boolean }> {
    try {
      const res = await this.#cluster.pair.client.call(RECEIVER, 'POST', '/messages', {
        bytes: body,
        contentType,
      });
      return { answer: `${res.status} ${res.text.slice(0, 120)}`, refused: res.status >= 400 };
    } catch (err) {
      return { answer: `connection ended: ${(err as Error).message}`, refused: true };
    }
  }

  /** Run every single-request attack `rounds` times, in an order drawn from `rng`; each answer is recorded. */
  async run(rng: Rng, rounds = 1): Promise<void> {
    const attacks = this.attacks();
    for (let round = 0; round < rounds; round++) {
      const order = [...attacks].sort(() => rng.next() - 0.5);
      for (const a of order) {
        let outcome: { answer: string; refused: boolean };
        try {
          outcome = await a.run();
        } catch (err) {
          outcome = { answer: `the attack could not be sent: ${(err as Error).message}`, refused: false };
        }
        this.#cluster.recorder.write({ kind: 'hostile', name: a.name, ...outcome });
      }
    }
  }

  /**
   * Open `stalled` connections that send their headers and part of a body, then nothing, and `slow` ones that send
   * their body a byte every `slowEveryMs`; they stay open until `release`. Returns how many the receiver had cut by then.
   */
  hold(stalled: number, slow: number, slowEveryMs = 500): { release(): { cut: number; open: number } } {
    const u = new URL(this.#as4);
    const timers: NodeJS.Timeout[] = [];
    let cut = 0;
    const open = (trickle: boolean) => {
      const s = connect({ host: u.hostname, port: Number(u.port), ca: this.#ca });
      this.#open.add(s);
      s.on('error', () => {});
      s.once('close', () => {
        if (this.#open.delete(s)) cut++;
      });
      s.once('secureConnect', () => {
        s.write(
          `POST ${u.pathname} HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: ${SOAP}\r\ncontent-length: ${10 * 1024 * 1024}\r\n\r\n`,
        );
        if (trickle) {
          const t = setInterval(() => s.writable && s.write('<'), slowEveryMs);
          timers.push(t);
        } else s.write('<'.repeat(64 * 1024));
      });
    };
    for (let i = 0; i < stalled; i++) open(false);
    for (let i = 0; i < slow; i++) open(true);
    return {
      release: () => {
        for (const t of timers) clearInterval(t);
        const stillOpen = this.#open.size;
        for (const s of [...this.#open]) {
          this.#open.delete(s);
          s.destroy();
        }
        return { cut, open: stillOpen };
      },
    };
  }

  /** The status of the receiving AP's `GET /health`. */
  async health(): Promise<number> {
    const r = await request(new URL('/health', this.#as4), { dispatcher: this.#agent });
    await r.body.dump();
    return r.statusCode;
  }

  async close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    await this.#agent.close();
  }
}
