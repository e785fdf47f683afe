import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';
import { safeName } from './as4.ts';

interface EvidenceOptions {
  out?: string;
  data?: string;
  json?: boolean;
}

/** One item of `GET /evidence/{id}` on an access point. */
interface EvidenceItem {
  kind: string;
  direction: string;
  counterpart: string;
  signer: { subject: string; serialNumber: string };
  size: number;
  hash: string;
  receivedAt: string;
}

/**
 * `ehmi evidence ORG AS4_MESSAGE_ID`: the non-repudiation evidence ORG's access point keeps for one AS4 message —
 * the signed SOAP part of a message it received (`user-message`), the signed receipt of one it sent (`receipt`) —
 * fetched from its evidence API (URL from network.json, the token from `<data>/<org>/secrets.json`, the network's
 * CA, ORG's TLS client certificate) and written exactly as kept: `<id>.<kind>.xml` and the signer's certificate chain
 * `<id>.<kind>.pem`. Check them again with `ehmi as4 verify FILE`. Exit 0; 1 when the AP keeps nothing for the id;
 * 2 for bad arguments or a file that exists (never overwritten); 4 when the network does not run.
 */
export function registerEvidence(program: Command, ctx: CliContext): void {
  program
    .command('evidence')
    .description(
      "fetch the signed message or receipt an organisation's access point keeps as non-repudiation evidence, and write each as a file",
    )
    .argument('<org>', 'the organisation whose access point is asked')
    .argument(
      '<as4-message-id>',
      "the AS4 MessageId: of a sent message, 'ehmi track ID' prints it (AS4 MessageId, from step 03.1); the sender's AP keeps the receipt, the receiver's the signed message",
    )
    .option(
      '--out <dir>',
      'where the files go (default: the current folder); existing files are not overwritten',
    )
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .option(
      '--json',
      'print one JSON object: {messageId, organisation, items: [{kind, …, file, certificate}]}',
    )
    .action(async (orgName: string, messageId: string, opts: EvidenceOptions) => {
      const { NetworkClient, networkDataDir, readOrganisationSecrets } = await import('@ehmi/network/client');
      const { Agent, request } = await import('undici');
      const dataDir = networkDataDir(opts.data, ctx.env, ctx.cwd);
      const net = NetworkClient.open(dataDir);
      const org = net.organisation(orgName);
      const token = readOrganisationSecrets(net.dataDir, org.name).apAdminToken;
      let ca: string;
      let cert: string;
      let key: string;
      try {
        ca = await readFile(net.manifest.trustAnchor, 'utf8');
        cert = await readFile(org.tls.cert, 'utf8');
        key = await readFile(org.tls.key, 'utf8');
      } catch (err) {
        throw new EhmiError(
          'EHMI_CONFIG_INVALID',
          `cannot read ${org.name}'s TLS credential or the network's CA: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const dispatcher = new Agent({ connect: { ca, cert, key, timeout: 5_000 } });
      const base = `${org.ap}/evidence/${encodeURIComponent(messageId)}`;
      const get = async (url: string): Promise<{ status: number; body: Buffer }> => {
        let res: Awaited<ReturnType<typeof request>>;
        try {
          res = await request(url, { dispatcher, headers: { authorization: `Bearer ${token}` } });
        } catch (err) {
          throw new EhmiError(
            'EHMI_UNAVAILABLE',
            `cannot reach ${org.name}'s access point at ${org.ap} (is the network running? 'ehmi up --data ${net.dataDir}'): ${(err as Error).message}`,
            { cause: err },
          );
        }
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode === 404) {
          throw new EhmiError(
            'EHMI_NOT_FOUND',
            `${org.name}'s access point keeps no evidence for AS4 message ${messageId}`,
          );
        }
        if (res.statusCode !== 200) {
          throw new EhmiError(
            res.statusCode === 401 ? 'EHMI_UNAUTHORIZED' : 'EHMI_UNAVAILABLE',
            `${org.name}'s access point answered HTTP ${res.statusCode} for ${url}: ${body.toString('utf8').slice(0, 300)}`,
          );
        }
        return { status: res.statusCode, body };
      };
      try {
        const listing = JSON.parse((await get(base)).body.toString('utf8')) as { items: EvidenceItem[] };
        const dir = resolve(ctx.cwd, opts.out ?? '.');
        const shown = (path: string) => (opts.out && isAbsolute(opts.out) ? path : relative(ctx.cwd, path));
        const stem = safeName(messageId);
        const written: (EvidenceItem & { file: string; certificate: string })[] = [];
        await mkdir(dir, { recursive: true });
        for (const item of listing.items) {
          const kind = safeName(item.kind);
          const file = join(dir, `${stem}.${kind}.xml`);
          const pem = join(dir, `${stem}.${kind}.pem`);
          const bytes = (await get(`${base}/${encodeURIComponent(item.kind)}`)).body;
          const chain = (await get(`${base}/${encodeURIComponent(item.kind)}/certificate`)).body;
          await writeNew(file, bytes, shown);
          await writeNew(pem, chain, shown);
          written.push({ ...item, file: shown(file), certificate: shown(pem) });
          if (!opts.json) {
            writeLine(
              ctx.stdout,
              `${shown(file)}\t${item.kind} (${item.direction}, ${bytes.length} octets) signed by ${item.signer.subject} (serial ${item.signer.serialNumber}), kept ${item.receivedAt}`,
            );
            writeLine(ctx.stdout, `${shown(pem)}\t${item.kind} signer's certificate chain`);
          }
        }
        if (opts.json) {
          writeLine(ctx.stdout, JSON.stringify({ messageId, organisation: org.name, items: written }));
        }
      } finally {
        await dispatcher.close();
        await net.close();
      }
    });
}

/** A new file: an existing one is a usage error, never overwritten. */
async function writeNew(path: string, bytes: Buffer, shown: (p: string) => string): Promise<void> {
  try {
    await writeFile(path, bytes, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new EhmiError('EHMI_USAGE', `${shown(path)} exists: not overwritten (use another --out)`);
    }
    throw err;
  }
}
