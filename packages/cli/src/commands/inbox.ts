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
}

export function registerInbox(program: Command, ctx: CliContext): void {
  program
    .command('inbox')
    .description("list the messages in an organisation's inbox (local network)")
    .argument('<org>', 'organisation of the local network')
    .option('--json', 'print a JSON array of {id, bundleId, messageHeaderId, type, sender, receivedAt}')
    .option(
      '--patient <cpr>',
      "only this patient's messages: asks for a token restricted to the patient (10-digit CPR)",
    )
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (orgName: string, opts: { json?: boolean; data?: string; patient?: string }) => {
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
            `${i.id}  ${i.type}  from ${from ? `${from} (${i.sender})` : i.sender}  ${i.receivedAt}`,
          );
        }
      } finally {
        await net.close();
      }
    });
}
