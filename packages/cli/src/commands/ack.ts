import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

const CODES = ['ok', 'transient-error', 'fatal-error'] as const;

export function registerAck(program: Command, ctx: CliContext): void {
  program
    .command('ack')
    .description('make the receiving EUA send the MedCom acknowledgement of an inbox message (local network)')
    .argument('<org>', 'the receiving organisation')
    .argument('<id>', 'inbox item id (ehmi inbox ORG)')
    .option('--code <code>', 'acknowledgement code: ok, transient-error or fatal-error', 'ok')
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (orgName: string, id: string, opts: { code: string; data?: string }) => {
      if (!(CODES as readonly string[]).includes(opts.code)) {
        throw new EhmiError('EHMI_USAGE', `--code expects ${CODES.join(', ')}, got "${opts.code}"`);
      }
      const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        const org = net.organisation(orgName);
        // MedCom: the receiving EUA acknowledges; the MSH builds and sends it on its behalf (msh-api §9).
        const res = await net.call(org.name, 'POST', `/inbox/${encodeURIComponent(id)}/$acknowledge`, {
          bytes: JSON.stringify({ code: opts.code }),
          contentType: 'application/json',
        });
        if (res.status !== 202 && res.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, `acknowledgement of ${id} by ${org.name}`, res);
          return;
        }
        const ackId = (res.json as { id?: string } | undefined)?.id ?? '';
        writeLine(ctx.stdout, `acknowledgement (${opts.code}) of ${id} sent by ${org.name}`);
        writeLine(ctx.stdout, ackId);
      } finally {
        await net.close();
      }
    });
}
