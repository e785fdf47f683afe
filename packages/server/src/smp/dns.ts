import { createRequire } from 'node:module';
import { isIPv6, type Socket } from 'node:net';
import { EhmiError } from '@ehmi/errors';
import { bdxlHostname, normalizeZone, SMP_NAPTR_SERVICE, type SmpIdentifier, smlHostname } from '@ehmi/smp';
import type { Logger } from 'pino';

// dns2 3.0.x (CommonJS, no types); 3.1 needs Node 22.
const require = createRequire(import.meta.url);
const dns2 = require('dns2') as Dns2;

interface DnsPacket {
  header: { id: number; rcode: number; aa: number; opcode: number; tc: number; ra: number };
  questions: { name: string; type: number; class: number }[];
  answers: Record<string, unknown>[];
  authorities: Record<string, unknown>[];
  additionals: Record<string, unknown>[];
}
type Send = (response: DnsPacket) => unknown;
interface UdpServer {
  on(event: 'request', fn: (request: DnsPacket, send: Send) => void): UdpServer;
  on(event: 'requestError' | 'error', fn: (err: Error) => void): UdpServer;
  once(event: 'error', fn: (err: Error) => void): UdpServer;
  listen(port: number, address: string): Promise<void>;
  address(): { port: number };
  close(cb?: () => void): void;
}
interface TcpServer {
  on(event: 'request', fn: (request: DnsPacket, send: Send) => void): TcpServer;
  on(event: 'requestError' | 'error', fn: (err: Error) => void): TcpServer;
  on(event: 'connection', fn: (socket: Socket) => void): TcpServer;
  once(event: 'error' | 'listening', fn: (err?: Error) => void): TcpServer;
  removeAllListeners(event: string): TcpServer;
  listen(port: number, host: string): void;
  address(): { port: number };
  close(cb?: (err?: Error) => void): void;
}
interface Dns2 {
  UDPServer: new (options?: { type?: 'udp4' | 'udp6' }) => UdpServer;
  TCPServer: new (options?: { idleTimeout?: number }) => TcpServer;
  Packet: {
    TYPE: Record<string, number>;
    CLASS: Record<string, number>;
    RCODE: Record<string, number>;
    createResponseFromRequest(request: DnsPacket): DnsPacket;
  };
}
const { Packet } = dns2;

/** RFC 3403 NAPTR; dns2 3.0 has no encoder for it (it writes a record's raw `data` for types it does not know). */
const NAPTR = 35;
const { A, NS, CNAME, SOA, ANY } = Packet.TYPE as Record<'A' | 'NS' | 'CNAME' | 'SOA' | 'ANY', number>;
const IN = Packet.CLASS.IN!;

export interface SmpDnsZoneOptions {
  /** The SML/BDXL zone (`sml.ehmi.internal`); participants' names are `<hash>.<scheme>.<zone>`. */
  zone: string;
  /** The SMP's base URL, the result of the U-NAPTR regexp. */
  smpUrl: string;
  /** The target of the Peppol CNAMEs; default `smp.<zone>`. */
  smpHostname?: string;
  /** A records of `smpHostname` and `ns.<zone>` (when they are in the zone). */
  smpAddresses: readonly string[];
  ttlSeconds: number;
}

type Rr =
  | { type: 'NAPTR'; regexp: string }
  | { type: 'CNAME'; target: string }
  | { type: 'A'; address: string };

/** What the server answers for one question. */
export interface ZoneAnswer {
  rcode: number;
  answers: Record<string, unknown>[];
  authorities: Record<string, unknown>[];
}

/**
 * The records of the local SML/BDXL zone, kept in memory and changed as ServiceGroups are published or removed.
 * Names come from @ehmi/smp's naming functions, so our SmpClient and this server agree by construction:
 * - BDXL (OASIS BDXL 1.0; Peppol Policy for use of Identifiers 4.4 POLICY 7): `bdxlHostname(p, zone)` has one
 *   U-NAPTR record, service `Meta:SMP`, regexp `!.*!<smp url>!`, replacement `.`.
 * - Peppol SML 1.x: `smlHostname(p, zone)` (`B-<md5>.<scheme>.<zone>`) is a CNAME to the SMP's host name.
 */
export class SmpDnsZone {
  readonly zone: string;
  readonly smpHostname: string;
  readonly #ttl: number;
  readonly #smpUrl: string;
  readonly #records = new Map<string, Rr[]>();
  /** Names owned by a participant, by participant key, so removal takes exactly what was added. */
  readonly #owned = new Map<string, string[]>();
  #serial = Math.floor(Date.now() / 1000);

  constructor(options: SmpDnsZoneOptions) {
    this.zone = normalizeZone(options.zone);
    this.#ttl = options.ttlSeconds;
    this.#smpUrl = options.smpUrl.replace(/\/*$/, '/');
    this.smpHostname = normalizeZone(options.smpHostname ?? `smp.${this.zone}`);
    for (const host of [this.smpHostname, `ns.${this.zone}`]) {
      if (!this.#inZone(host)) continue;
      for (const address of options.smpAddresses) this.#push(host, { type: 'A', address });
    }
  }

  /** Publish a participant's NAPTR and CNAME records (idempotent). */
  add(participant: SmpIdentifier): void {
    this.remove(participant);
    const naptrName = bdxlHostname(participant, this.zone).toLowerCase();
    const cnameName = smlHostname(participant, this.zone).toLowerCase();
    // RFC 3402 §3.2: the delimiter must not occur unescaped in the replacement.
    const regexp = `!.*!${this.#smpUrl.replace(/\\/g, '\\\\').replace(/!/g, '\\!')}!`;
    this.#push(naptrName, { type: 'NAPTR', regexp });
    this.#push(cnameName, { type: 'CNAME', target: this.smpHostname });
    this.#owned.set(participant.key(), [naptrName, cnameName]);
    this.#serial++;
  }

  /** Withdraw a participant's records. */
  remove(participant: SmpIdentifier): void {
    const names = this.#owned.get(participant.key());
    if (!names) return;
    for (const n of names) this.#records.delete(n);
    this.#owned.delete(participant.key());
    this.#serial++;
  }

  /** Number of participants in the zone. */
  get size(): number {
    return this.#owned.size;
  }

  /**
   * The answer to one question. An authoritative server only (RFC 1034 §4.3.1: no recursion): names outside the
   * zone are REFUSED; unknown names in it NXDOMAIN and known names without the type NODATA, both with the SOA in
   * the authority section for negative caching (RFC 2308 §3).
   */
  answer(qname: string, qtype: number): ZoneAnswer {
    const name = normalizeZone(qname);
    const out: ZoneAnswer = { rcode: Packet.RCODE.NOERROR!, answers: [], authorities: [] };
    if (!this.#inZone(name)) {
      out.rcode = Packet.RCODE.REFUSED!;
      return out;
    }
    const rr = (type: number, extra: Record<string, unknown>, owner = qname) => ({
      name: owner,
      type,
      class: IN,
      ttl: this.#ttl,
      ...extra,
    });
    if (name === this.zone) {
      if (qtype === SOA || qtype === ANY) out.answers.push(this.#soa(qname));
      if (qtype === NS || qtype === ANY) out.answers.push(rr(NS, { ns: `ns.${this.zone}` }));
      if (out.answers.length === 0) out.authorities.push(this.#soa(this.zone));
      return out;
    }
    const records = this.#records.get(name);
    if (!records) {
      // RFC 8020: NXDOMAIN means nothing exists below either; an empty non-terminal (`<scheme>.<zone>`) is NODATA.
      const suffix = `.${name}`;
      const exists = [...this.#records.keys()].some((k) => k.endsWith(suffix));
      if (!exists) out.rcode = Packet.RCODE.NXDOMAIN!;
      out.authorities.push(this.#soa(this.zone));
      return out;
    }
    const cname = records.find((r) => r.type === 'CNAME');
    if (cname && cname.type === 'CNAME' && qtype !== CNAME) {
      // RFC 1034 §3.6.2: a CNAME answers every type; an authoritative server adds the target's records when it
      // has them (so a resolver gets the SMP's address in one answer).
      out.answers.push(rr(CNAME, { domain: cname.target }));
      const target = this.#records.get(cname.target) ?? [];
      for (const r of target) {
        if (r.type === 'A' && (qtype === A || qtype === ANY))
          out.answers.push(rr(A, { address: r.address }, cname.target));
      }
      return out;
    }
    for (const r of records) {
      if (r.type === 'NAPTR' && (qtype === NAPTR || qtype === ANY)) {
        out.answers.push(rr(NAPTR, { data: naptrRdata(100, 10, 'U', SMP_NAPTR_SERVICE, r.regexp, '') }));
      } else if (r.type === 'CNAME' && (qtype === CNAME || qtype === ANY)) {
        out.answers.push(rr(CNAME, { domain: r.target }));
      } else if (r.type === 'A' && (qtype === A || qtype === ANY)) {
        out.answers.push(rr(A, { address: r.address }));
      }
    }
    if (out.answers.length === 0) out.authorities.push(this.#soa(this.zone));
    return out;
  }

  #inZone(name: string): boolean {
    return name === this.zone || name.endsWith(`.${this.zone}`);
  }

  #push(name: string, r: Rr): void {
    const key = name.toLowerCase();
    const list = this.#records.get(key) ?? [];
    list.push(r);
    this.#records.set(key, list);
  }

  #soa(owner: string): Record<string, unknown> {
    return {
      name: owner,
      type: SOA,
      class: IN,
      ttl: this.#ttl,
      primary: `ns.${this.zone}`,
      admin: `hostmaster.${this.zone}`,
      serial: this.#serial >>> 0,
      refresh: 300,
      retry: 60,
      expiration: 3600,
      // RFC 2308 §4: the SOA minimum is the TTL of negative answers; as short as the records'.
      minimum: this.#ttl,
    };
  }
}

/** RFC 3403 §4.1 NAPTR RDATA: ORDER, PREFERENCE, FLAGS, SERVICES, REGEXP (character-strings), REPLACEMENT (a name). */
function naptrRdata(
  order: number,
  preference: number,
  flags: string,
  service: string,
  regexp: string,
  replacement: string,
): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new EhmiError('EHMI_CONFIG_INVALID', `NAPTR field too long: ${s}`);
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  const head = Buffer.alloc(4);
  head.writeUInt16BE(order, 0);
  head.writeUInt16BE(preference, 2);
  const labels = replacement
    .split('.')
    .filter(Boolean)
    .map((l) => str(l));
  return Buffer.concat([head, str(flags), str(service), str(regexp), ...labels, Buffer.from([0])]);
}

export interface SmpDnsServer {
  /** The port, the same for UDP and TCP. */
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/**
 * Serves a zone over UDP and TCP (RFC 7766: TCP is mandatory for DNS; a truncated UDP answer is retried over it)
 * on one host and port. Port 0 picks a free UDP port, and TCP takes the same number.
 *
 * @example
 * const server = await startSmpDnsServer(zone, { host: '127.0.0.1', port: 0, logger });
 * createResolver({ host: '127.0.0.1', port: server.port });
 */
export async function startSmpDnsServer(
  zone: SmpDnsZone,
  options: { host: string; port: number; logger: Logger },
): Promise<SmpDnsServer> {
  const log = options.logger.child({ service: 'smp-dns' });
  const handle = (request: DnsPacket, send: Send) => {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    response.header.ra = 0;
    const q = request.questions[0];
    if (request.header.opcode !== 0) response.header.rcode = Packet.RCODE.NOTIMP!;
    else if (!q || request.questions.length !== 1) response.header.rcode = Packet.RCODE.FORMERR!;
    else if (q.class !== IN && q.class !== Packet.CLASS.ANY) response.header.rcode = Packet.RCODE.REFUSED!;
    else {
      const a = zone.answer(q.name, q.type);
      response.header.rcode = a.rcode;
      response.answers = a.answers;
      response.authorities = a.authorities;
      if (a.rcode === Packet.RCODE.REFUSED) response.header.aa = 0;
    }
    Promise.resolve(send(response)).catch((err: Error) => log.warn({ err }, 'DNS answer not sent'));
  };
  const onRequestError = (err: Error) => log.debug({ err }, 'unreadable DNS request');

  const tries = options.port === 0 ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    const udp = new dns2.UDPServer({ type: isIPv6(options.host) ? 'udp6' : 'udp4' });
    udp.on('request', handle).on('requestError', onRequestError);
    const bound = await new Promise<Error | undefined>((resolve) => {
      udp.once('error', resolve);
      udp.listen(options.port, options.host).then(() => resolve(undefined));
    });
    if (bound) throw portError('UDP', options, bound);
    udp.on('error', (err) => log.error({ err }, 'DNS UDP socket error'));
    const port = udp.address().port;
    const tcp = new dns2.TCPServer({ idleTimeout: 10_000 });
    tcp.on('request', handle).on('requestError', onRequestError);
    const sockets = new Set<Socket>();
    tcp.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const tcpError = await new Promise<Error | undefined>((resolve) => {
      tcp.once('error', resolve);
      tcp.once('listening', () => resolve(undefined));
      tcp.listen(port, options.host);
    });
    if (tcpError) {
      await new Promise<void>((r) => udp.close(() => r()));
      // With port 0 the UDP port may be taken on TCP by someone else: try another pair.
      if (attempt < tries && (tcpError as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
      throw portError('TCP', { ...options, port }, tcpError);
    }
    tcp.removeAllListeners('error');
    tcp.on('error', (err) => log.error({ err }, 'DNS TCP server error'));
    log.info({ host: options.host, port, zone: zone.zone }, 'SML/BDXL zone served');
    return {
      port,
      host: options.host,
      async close() {
        await Promise.all([
          new Promise<void>((r) => udp.close(() => r())),
          new Promise<void>((r) => {
            tcp.close(() => r());
            // Resolvers keep TCP connections open between queries (RFC 7766 §6.2.1); do not wait for their idle timeout.
            for (const s of sockets) s.destroy();
          }),
        ]);
      },
    };
  }
}

function portError(proto: string, options: { host: string; port: number }, err: Error): EhmiError {
  return new EhmiError(
    'EHMI_CONFIG_INVALID',
    `smp.dns: cannot listen on ${proto} ${options.host}:${options.port}: ${err.message}`,
    { cause: err },
  );
}
