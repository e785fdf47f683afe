import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { createHttpServer } from '../../src/http/index.ts';

/** Open a TLS connection with the given client limits; resolves to the negotiated protocol and cipher, or the error. */
function handshake(
  port: number,
  ca: string,
  limits: {
    maxVersion?: 'TLSv1.2' | 'TLSv1.3' | 'TLSv1.1';
    minVersion?: 'TLSv1' | 'TLSv1.1';
    ciphers?: string;
  },
): Promise<{ protocol: string | null; cipher: string } | Error> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...limits }, () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.end();
    });
    socket.on('error', (err) => resolve(err));
  });
}

describe('HTTPS servers speak TLS as BCP 195 recommends', () => {
  let app: FastifyInstance;
  let port: number;
  let ca: string;

  before(async () => {
    const root = await createCertificateAuthority({ subject: 'CN=TLS test root' });
    const server = await issueCertificate(root, {
      subject: 'CN=localhost',
      purposes: ['tls-server'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    ca = root.certificatePem;
    app = await createHttpServer({
      service: 'tls-test',
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      metricsAccess: async () => {},
      tls: { key: server.privateKeyPem, cert: server.certificatePem },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(async () => {
    await app?.close();
  });

  it('negotiates TLS 1.3 by default, and TLS 1.2 with an ECDHE AEAD suite', async () => {
    const v13 = await handshake(port, ca, {});
    assert.ok(!(v13 instanceof Error), String(v13));
    assert.equal(v13.protocol, 'TLSv1.3');
    const v12 = await handshake(port, ca, { maxVersion: 'TLSv1.2' });
    assert.ok(!(v12 instanceof Error), String(v12));
    assert.equal(v12.protocol, 'TLSv1.2');
    assert.match(v12.cipher, /^ECDHE-(RSA|ECDSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
  });

  it('refuses TLS 1.1 and a TLS 1.2 client that offers only CBC or static-RSA suites', async () => {
    const old = await handshake(port, ca, {
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    assert.ok(old instanceof Error, 'a TLS 1.1 handshake must fail');
    for (const cipher of ['AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'AES128-GCM-SHA256']) {
      const weak = await handshake(port, ca, { maxVersion: 'TLSv1.2', ciphers: cipher });
      assert.ok(weak instanceof Error, `${cipher} must be refused`);
    }
  });
});
