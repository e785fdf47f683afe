import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, TLSSocket } from 'node:tls';
import { createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Agent, request } from 'undici';
import { createHttpServer, peerCertificatePath } from '../../src/http/index.ts';

describe("a connection's peer certificate", () => {
  let app: FastifyInstance;
  let port: number;
  let ca: string;
  let client: { cert: string; key: string };
  let otherClient: { cert: string; key: string };

  before(async () => {
    const root = await createCertificateAuthority({ subject: 'CN=peer test root' });
    const server = await issueCertificate(root, {
      subject: 'CN=localhost',
      purposes: ['tls-server'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const issue = async (cn: string) => {
      const c = await issueCertificate(root, { subject: `CN=${cn}`, purposes: ['tls-client'] });
      return { cert: c.certificatePem, key: c.privateKeyPem };
    };
    client = await issue('client one');
    otherClient = await issue('client two');
    ca = root.certificatePem;
    app = await createHttpServer({
      service: 'peer-test',
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      metricsAccess: async () => {},
      tls: {
        key: server.privateKeyPem,
        cert: server.certificatePem,
        ca: [ca],
        requestCert: true,
        rejectUnauthorized: false,
      },
    });
    app.get('/who', async (req) =>
      peerCertificatePath(req.raw.socket as TLSSocket).map((c) => c.subject.replaceAll('\n', ', ')),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(async () => {
    await app?.close();
  });

  it('is read from TLS once per connection, and is the same path on every request of it', async () => {
    const original = TLSSocket.prototype.getPeerCertificate;
    let reads = 0;
    TLSSocket.prototype.getPeerCertificate = function (this: TLSSocket, ...args: [boolean?]) {
      reads++;
      return original.apply(this, args as [true]);
    } as typeof original;
    const agent = new Agent({ connect: { ca, ...client }, connections: 1 });
    try {
      const answers: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await request(`https://localhost:${port}/who`, { dispatcher: agent });
        answers.push(await res.body.json());
      }
      assert.deepEqual(answers, Array(3).fill(['CN=client one', 'CN=peer test root']));
      // The client side reads the server's certificate once at its handshake too; the server reads the client's once.
      assert.ok(reads <= 2, `getPeerCertificate was called ${reads} times for one connection`);
      const other = new Agent({ connect: { ca, ...otherClient }, connections: 1 });
      const res = await request(`https://localhost:${port}/who`, { dispatcher: other });
      assert.deepEqual(await res.body.json(), ['CN=client two', 'CN=peer test root']);
      await other.close();
    } finally {
      TLSSocket.prototype.getPeerCertificate = original;
      await agent.close();
    }
  });

  it('cannot be changed on the connection: the server refuses TLS 1.2 renegotiation', {
    timeout: 10_000,
  }, async () => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca,
      servername: 'localhost',
      maxVersion: 'TLSv1.2',
      ...client,
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    assert.equal(socket.getProtocol(), 'TLSv1.2');
    socket.renegotiate({ ...otherClient, rejectUnauthorized: false }, () => {});
    socket.write('GET /who HTTP/1.1\r\nhost: localhost\r\n\r\n');
    // The server ends the connection instead of accepting another certificate on it, and serves nothing more.
    await closed;
    assert.doesNotMatch(answer, /client two/);
    assert.match(answer, /^(HTTP\/1\.1 400 |$)/);
  });
});
