import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

export function registerMetrics(program: Command, ctx: CliContext): void {
  program
    .command('metrics')
    .description(
      "read a server's /metrics (Prometheus text) as the network's operator, with its certificate and an access token (local network)",
    )
    .argument(
      '<server>',
      "a server's URL as `ehmi up` prints it, a service of network.json (eer, eas, auth), or an organisation (its MSH)",
    )
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (server: string, opts: { data?: string }) => {
      const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        const services = net.manifest.services as Record<string, string | undefined>;
        const url = /^https?:\/\//.test(server) ? server : (services[server] ?? net.organisation(server).msh);
        const res = await net.metrics(url);
        if (res.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, `metrics of ${url}`, res);
          return;
        }
        writeLine(ctx.stdout, res.text.trimEnd());
      } finally {
        await net.close();
      }
    });
}
