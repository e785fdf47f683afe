import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

export function registerResend(program: Command, ctx: CliContext): void {
  program
    .command('resend')
    .description(
      'resend a sent message (MedCom: new envelope id, new Bundle.id and timestamp, same MessageHeader.id; at most twice)',
    )
    .argument('<id>', 'tracking id (what ehmi send printed)')
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (id: string, opts: { data?: string }) => {
      const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        // The sending organisation is the one whose MSH knows the message (msh-api §3, §5).
        const { organisation } = await net.findMessage(id);
        const res = await net.call(organisation.name, 'POST', `/messages/${encodeURIComponent(id)}/$resend`);
        if (res.status !== 202 && res.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, `resend of ${id} by ${organisation.name}`, res);
          return;
        }
        const r = res.json as { id?: string; envelopeId?: string; resends?: number };
        writeLine(
          ctx.stdout,
          `resent by ${organisation.name}'s MSH: resend ${r.resends ?? '?'}, new envelope ${r.envelopeId ?? '?'}`,
        );
        writeLine(ctx.stdout, r.id ?? id);
      } finally {
        await net.close();
      }
    });
}
