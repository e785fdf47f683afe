// `ehmi evidence` against a running local network after `ehmi send`, then `ehmi as4 verify` on what it wrote.
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningNetwork, readNetworkManifest, startNetwork } from '@ehmi/network';
import pg from 'pg';
import pino from 'pino';
import { engines, eventually, freePortBase } from '../../server/test/e2e/helpers.ts';
import { runEhmi } from './helpers.ts';

for (const engine of engines())
  describe(`ehmi evidence (${engine.name})`, { skip: engine.skip }, () => {
    let dir: string;
    let net: RunningNetwork | undefined;
    const schema = `evidence_${randomBytes(4).toString('hex')}`;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ehmi-cli-evidence-'));
    });
    after(async () => {
      await net?.close();
      await rm(dir, { recursive: true, force: true });
      if (engine.databaseUrl) {
        const c = new pg.Client({ connectionString: engine.databaseUrl });
        await c.connect();
        for (const org of ['municipality', 'gp', 'hospital', 'central', 'archive'])
          await c.query(`DROP SCHEMA IF EXISTS "${schema}_${org}" CASCADE`);
        await c.end();
      }
    });

    it("writes the receiver's kept SOAP part and the sender's kept receipt; both verify, a tampered copy does not", {
      timeout: 180_000,
    }, async () => {
      net = await startNetwork({
        dataDir: dir,
        portBase: await freePortBase(),
        logger: pino({ level: 'silent' }),
        ...(engine.databaseUrl ? { databaseUrl: engine.databaseUrl, base: { database: { schema } } } : {}),
      });
      // Each organisation's AP token is in its secrets file, readable by its owner only.
      assert.equal(statSync(join(dir, 'gp', 'secrets.json')).mode & 0o777, 0o600);
      const sent = await runEhmi([
        'send',
        'homecareobservation',
        '--from',
        'municipality',
        '--to',
        'gp',
        '--data',
        dir,
      ]);
      assert.equal(sent.code, 0, sent.stderr);
      const id = sent.stdout.trimEnd().split('\n').pop()!;
      // `ehmi track` names the AS4 MessageId once the message is sent (the sender's AP then holds the receipt).
      const as4Id = await eventually('ehmi track shows the message sent', async () => {
        const t = await runEhmi(['track', id, '--json', '--data', dir]);
        assert.equal(t.code, 0, t.stderr);
        const j = JSON.parse(t.stdout) as { status: string; as4MessageIds?: string[] };
        return ['sent', 'receipted', 'acknowledged'].includes(j.status) ? j.as4MessageIds?.[0] : undefined;
      });
      const human = await runEhmi(['track', id, '--data', dir]);
      assert.ok(human.stdout.includes(`AS4 MessageId: ${as4Id}`), human.stdout);

      const out = join(dir, 'evidence');
      const gp = await runEhmi(['evidence', 'gp', as4Id, '--out', out, '--data', dir]);
      assert.equal(gp.code, 0, gp.stderr);
      const soapFile = join(out, `${as4Id}.user-message.xml`);
      const soapPem = join(out, `${as4Id}.user-message.pem`);
      assert.ok(gp.stdout.includes(soapFile), gp.stdout);
      assert.ok(gp.stdout.includes(soapPem), gp.stdout);
      const municipality = await runEhmi(['evidence', 'municipality', as4Id, '--out', out, '--data', dir]);
      assert.equal(municipality.code, 0, municipality.stderr);
      const receiptFile = join(out, `${as4Id}.receipt.xml`);
      const receiptPem = join(out, `${as4Id}.receipt.pem`);
      assert.ok(municipality.stdout.includes(receiptFile), municipality.stdout);

      // The kept certificates are the signers': municipality's AP signed the message, gp's AP the receipt.
      const manifest = readNetworkManifest(dir);
      const as4Cert = (org: string) =>
        new X509Certificate(
          readFileSync(manifest.organisations.find((o) => o.name === org)!.certificates.as4.cert),
        );
      assert.ok(new X509Certificate(readFileSync(soapPem)).raw.equals(as4Cert('municipality').raw));
      assert.ok(new X509Certificate(readFileSync(receiptPem)).raw.equals(as4Cert('gp').raw));

      const message = await runEhmi(['as4', 'verify', soapFile, '--cert', soapPem]);
      assert.equal(message.code, 0, message.stdout + message.stderr);
      assert.match(message.stdout, /^valid$/m);
      assert.match(message.stdout, /^ok +#\S+ \(Messaging\)$/m);
      assert.match(message.stdout, /^not kept +cid:\S+ \(signed digest, attachment not kept\)$/m);
      const receipt = await runEhmi(['as4', 'verify', receiptFile, '--cert', receiptPem]);
      assert.equal(receipt.code, 0, receipt.stdout + receipt.stderr);
      assert.match(receipt.stdout, /\(Receipt\)/);

      // One byte changed inside eb:Messaging (the MessageId's first character).
      const bytes = readFileSync(soapFile);
      const at = bytes.indexOf(`:MessageId>${as4Id}`) + ':MessageId>'.length;
      assert.ok(at > ':MessageId>'.length);
      bytes[at] = bytes[at] === 0x61 ? 0x62 : 0x61;
      const tampered = join(out, 'tampered.xml');
      writeFileSync(tampered, bytes);
      const bad = await runEhmi(['as4', 'verify', tampered, '--cert', soapPem]);
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /^invalid: EBMS:0101/m);

      // Written files are never overwritten; an unknown id is not found; an unknown organisation is a usage error.
      const again = await runEhmi(['evidence', 'gp', as4Id, '--out', out, '--data', dir]);
      assert.equal(again.code, 2, again.stderr);
      const none = await runEhmi(['evidence', 'gp', 'nope@nowhere', '--data', dir]);
      assert.equal(none.code, 1, none.stderr);
      assert.match(none.stderr, /keeps no evidence for AS4 message nope@nowhere/);
      assert.equal((await runEhmi(['evidence', 'nobody', as4Id, '--data', dir])).code, 2);
    });

    it('without a running network: exit 4', async () => {
      const empty = await mkdtemp(join(tmpdir(), 'ehmi-cli-evidence-none-'));
      try {
        const r = await runEhmi(['evidence', 'gp', 'x@y', '--data', empty]);
        assert.equal(r.code, 4, r.stderr);
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });
  });
