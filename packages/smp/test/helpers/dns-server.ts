import { createRequire } from 'node:module';

// dns2 3.0.x (CommonJS, no types); 3.1 needs Node 22.
const require = createRequire(import.meta.url);
const dns2 = require('dns2') as {
  createServer(options: {
    udp: boolean;
    handle: (request: DnsPacket, send: (response: DnsPacket) => void) => void;
  }): {
    listen(options: { udp: { port: number; address: string } }): Promise<unknown>;
    addresses(): { udp: { port: number } };
    close(): Promise<void>;
  };
  Packet: {
    TYPE: Record<string, number>;
    CLASS: Record<string, number>;
    createResponseFromRequest(request: DnsPacket): DnsPacket;
  };
};
const { Packet } = dns2;

interface DnsPacket {
  header: { rcode: number };
  questions: { name: string; type: number }[];
  answers: Record<string, unknown>[];
}

export interface NaptrData {
  order: number;
  preference: number;
  flags: string;
  service: string;
  regexp: string;
  replacement?: string;
}

/** The zone: records by owner name (case-insensitive). */
export interface TestZone {
  naptr?: Record<string, NaptrData[]>;
  cname?: Record<string, string>;
  a?: Record<string, string[]>;
  /** Names whose queries get SERVFAIL. */
  servfail?: string[];
}

const NAPTR = 35;

/** RFC 3403 §4.1 NAPTR RDATA, written by hand (dns2 3.0 has no NAPTR encoder; it copies `data` for unknown types). */
function naptrRdata(r: NaptrData): Buffer {
  const str = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
  const name = (r.replacement ?? '.')
    .split('.')
    .filter(Boolean)
    .map((l) => str(l));
  const head = Buffer.alloc(4);
  head.writeUInt16BE(r.order, 0);
  head.writeUInt16BE(r.preference, 2);
  return Buffer.concat([head, str(r.flags), str(r.service), str(r.regexp), ...name, Buffer.from([0])]);
}

/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP, ephemeral port) answering NAPTR, CNAME and A from a zone
 * that tests may change while it runs. Unknown names are NXDOMAIN; known names without the type are NODATA.
 */
export async function startDnsServer(
  zone: TestZone,
): Promise<{ port: number; zone: TestZone; close(): Promise<void> }> {
  const lower = (m?: Record<string, unknown>) => Object.keys(m ?? {}).map((k) => k.toLowerCase());
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const q = request.questions[0]!;
      const name = q.name.toLowerCase();
      const find = <T>(m: Record<string, T> | undefined) =>
        Object.entries(m ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];
      if ((zone.servfail ?? []).some((n) => n.toLowerCase() === name)) {
        response.header.rcode = 2;
        send(response);
        return;
      }
      const known = [...lower(zone.naptr), ...lower(zone.cname), ...lower(zone.a)].includes(name);
      if (!known) {
        response.header.rcode = 3; // NXDOMAIN
        send(response);
        return;
      }
      const base = { name: q.name, class: Packet.CLASS.IN, ttl: 60 };
      const cname = find(zone.cname);
      if (q.type === NAPTR) {
        for (const r of find(zone.naptr) ?? [])
          response.answers.push({ ...base, type: NAPTR, data: naptrRdata(r) });
      } else if (q.type === Packet.TYPE.CNAME && cname) {
        response.answers.push({ ...base, type: Packet.TYPE.CNAME, domain: cname });
      } else if (q.type === Packet.TYPE.A) {
        // Like a recursive answer: the CNAME and the target's addresses.
        let target = q.name;
        if (cname) {
          response.answers.push({ ...base, type: Packet.TYPE.CNAME, domain: cname });
          target = cname;
        }
        const addrs =
          Object.entries(zone.a ?? {}).find(([k]) => k.toLowerCase() === target.toLowerCase())?.[1] ?? [];
        for (const address of addrs)
          response.answers.push({ ...base, name: target, type: Packet.TYPE.A, address });
      }
      send(response);
    },
  });
  await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  return { port: server.addresses().udp.port, zone, close: () => server.close() };
}
