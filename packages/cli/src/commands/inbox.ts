import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

interface InboxItem {
  id: string;
  bundleId: string;
  messageHeaderId: string;
  type: string;
  sender: string;
  receivedAt: string;
  mimeType?: string;
}

interface InboxOptions {
  json?: boolean;
  data?: string;
  patient?: string;
  get?: string;
  out?: string;
}

export function registerInbox(program: Command, ctx: CliContext): void {
  program
    .command('inbox')
    .description("list the messages in an organisation's inbox (local network)")
    .argument('<org>', 'organisation of the local network')
    .option(
      '--json',
      'print a JSON array of {id, bundleId, messageHeaderId, type, sender, receivedAt, mimeType}',
    )
    .option(
      '--get <id>',
      "print this item's content as the sender sent it (FHIR, OIOXML, EDIFACT, CDA), octet for octet",
    )
    .option('--out <file>', 'with --get: write the content to this file instead')
    .option(
      '--patient <cpr>',
      "only this patient's messages: asks for a token restricted to the patient (10-digit CPR)",
    )
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (orgName: string, opts: InboxOptions) => {
      if (opts.out !== undefined && opts.get === undefined)
        throw new EhmiError('EHMI_USAGE', 'inbox: --out goes with --get <id>');
      if (opts.patient !== undefined && !/^\d{10}$/.test(opts.patient)) {
        throw new EhmiError(
          'EHMI_USAGE',
          `--patient expects a CPR number of 10 digits, got "${opts.patient}"`,
        );
      }
      const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
      const net = NetworkClient.open(
        networkDataDir(opts.data, ctx.env, ctx.cwd),
        opts.patient === undefined ? {} : { patient: opts.patient },
      );
      try {
        const org = net.organisation(orgName);
        if (opts.get !== undefined) {
          // The content as stored: FHIR in the format it came in, any other payload with its own media type.
          const item = await net.call(org.name, 'GET', `/inbox/${encodeURIComponent(opts.get)}`);
          if (item.status !== 200) {
            ctx.exitCode = writeFailure(ctx.stderr, `${org.name} inbox item ${opts.get}`, item);
            return;
          }
          if (opts.out !== undefined) {
            const file = resolve(ctx.cwd, opts.out);
            await writeFile(file, item.bytes);
            writeLine(
              ctx.stdout,
              `saved ${item.bytes.length} octets (${String(item.headers['content-type'] ?? 'no media type')}) to ${file}`,
            );
          } else {
            await new Promise<void>((done, fail) =>
              ctx.stdout.write(item.bytes, (err) => (err ? fail(err) : done())),
            );
          }
          return;
        }
        const res = await net.call(org.name, 'GET', '/inbox');
        if (res.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, `${org.name} inbox`, res);
          return;
        }
        const items = (Array.isArray(res.json) ? res.json : []) as InboxItem[];
        const list = items.map((i) => ({
          id: i.id,
          bundleId: i.bundleId,
          messageHeaderId: i.messageHeaderId,
          type: i.type,
          sender: i.sender,
          receivedAt: i.receivedAt,
          ...(i.mimeType ? { mimeType: i.mimeType } : {}),
        }));
        if (opts.json) {
          writeLine(ctx.stdout, JSON.stringify(list, null, 2));
          return;
        }
        writeLine(
          ctx.stdout,
          `${org.name} inbox${opts.patient ? ` (patient ${opts.patient})` : ''}: ${list.length === 0 ? 'empty' : `${list.length} message${list.length === 1 ? '' : 's'}`}`,
        );
        for (const i of list) {
          const from = net.byParticipant(i.sender)?.name;
          writeLine(
            ctx.stdout,
            `${i.id}  ${i.type}  from ${from ? `${from} (${i.sender})` : i.sender}  ${i.receivedAt}${i.mimeType ? `  ${i.mimeType}` : ''}`,
          );
        }
      } finally {
        await net.close();
      }
    });
}
