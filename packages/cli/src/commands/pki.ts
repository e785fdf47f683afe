import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

const PURPOSES = ['as4', 'tls-server', 'tls-client', 'smp-signing'] as const;

interface RevokeOptions {
  purpose: string;
  reason?: string;
  data?: string;
}

/**
 * `ehmi pki`: the local network's PKI. `revoke` puts a certificate on the root CA's CRL at once, whether or not
 * the network runs (the root key is in the data folder); the next `ehmi up` issues a new one in its place.
 */
export function registerPki(program: Command, ctx: CliContext): void {
  const pki = program.command('pki').description("the local network's certificates (root CA, CRL)");
  pki
    .command('revoke')
    .description(
      "revoke an organisation's certificate: its serial goes on the root CA's CRL at once (the next 'ehmi up' issues a new one)",
    )
    .argument('<org>', 'the organisation, or central (the SMP, EER and EAS node)')
    .requiredOption(
      '--purpose <purpose>',
      'which certificate: as4, tls-server, tls-client (an organisation) or tls-server, tls-client, smp-signing (central)',
    )
    .option(
      '--reason <reason>',
      'CRLReason: keyCompromise (default), affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, unspecified',
    )
    .option('--data <dir>', 'data folder of the network (default ./.ehmi)')
    .action(async (holder: string, opts: RevokeOptions) => {
      if (!(PURPOSES as readonly string[]).includes(opts.purpose)) {
        throw new EhmiError('EHMI_USAGE', `--purpose expects ${PURPOSES.join(', ')}, got "${opts.purpose}"`);
      }
      // The light entry points: revoking needs neither the node nor a running network.
      const { REVOCATION_REASONS, revokeNetworkCertificate } = await import('@ehmi/network/crl');
      const reason = opts.reason ?? 'keyCompromise';
      if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) {
        throw new EhmiError(
          'EHMI_USAGE',
          `--reason expects ${REVOCATION_REASONS.join(', ')}, got "${reason}"`,
        );
      }
      const { networkDataDir } = await import('@ehmi/network/client');
      const r = await revokeNetworkCertificate(
        networkDataDir(opts.data, ctx.env, ctx.cwd),
        holder,
        opts.purpose as (typeof PURPOSES)[number],
        { reason: reason as (typeof REVOCATION_REASONS)[number] },
      );
      writeLine(
        ctx.stdout,
        `${r.already ? 'already revoked' : 'revoked'}: ${r.holder} ${r.purpose} certificate ${r.subject.replace(/\n/g, ', ')}`,
      );
      writeLine(ctx.stdout, `serial ${r.serialNumber} (${r.reason}, ${r.revokedAt.toISOString()})`);
      writeLine(
        ctx.stdout,
        `CRL ${r.crlUrl ?? r.crl.file} (number ${r.crl.crlNumber}, ${r.crl.revoked} revoked, file ${r.crl.file})`,
      );
    });
}
