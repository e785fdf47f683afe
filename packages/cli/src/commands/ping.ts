import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

/** What `POST /ping` answers. */
interface Pinged {
  receiver: string;
  as4MessageId: string;
  endpointUrl: string;
  sentAt: string;
  roundTripMs: number;
  receiptTime: string;
}

export function registerPing(program: Command, ctx: CliContext): void {
  program
    .command('ping')
    .description(
      "test the AS4 connection to an organisation's access point (local network): one ebMS test-service message, the round trip and the receipt's time",
    )
    .argument('<org>', 'organisation whose access point is pinged')
    .option(
      '--from <org>',
      'organisation whose access point sends (default: the first other one in network.json)',
    )
    .option(
      '--json',
      'print the answer as JSON {receiver, as4MessageId, endpointUrl, sentAt, roundTripMs, receiptTime}',
    )
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (orgName: string, opts: { from?: string; json?: boolean; data?: string }) => {
      const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        const to = net.organisation(orgName);
        const from =
          opts.from !== undefined
            ? net.organisation(opts.from)
            : net.manifest.organisations.find((o) => o.name !== to.name);
        if (!from) throw new EhmiError('EHMI_USAGE', `ping: no other organisation to ping ${to.name} from`);
        const res = await net.call(
          from.name,
          'POST',
          `/ping?receiver=${encodeURIComponent(`0088:${to.gln}`)}`,
        );
        if (res.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, `${from.name}'s ping of ${to.name}`, res);
          return;
        }
        const p = res.json as Pinged;
        if (opts.json) {
          writeLine(ctx.stdout, JSON.stringify(p, null, 2));
          return;
        }
        writeLine(
          ctx.stdout,
          `${to.name}'s access point answered ${from.name}'s ping: round trip ${p.roundTripMs} ms, receipt ${p.receiptTime}`,
        );
        writeLine(ctx.stdout, `  AS4 MessageId ${p.as4MessageId} to ${p.endpointUrl}`);
      } finally {
        await net.close();
      }
    });
}
