import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

interface UpOptions {
  config?: string;
  data?: string;
  host?: string;
  port?: string;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535)
    throw new EhmiError('EHMI_USAGE', `--port expects 0–65535, got "${value}"`);
  return n;
}

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('start the EHMI node and run until Ctrl-C (what `npm start` runs)')
    .option('-c, --config <file>', 'configuration file (JSON); EHMI_* environment variables override it')
    .option('--data <dir>', 'data folder (database, blobs, keys)')
    .option('--host <host>', 'address to listen on')
    .option('--port <port>', 'port to listen on (0 picks a free one)')
    .action(async (opts: UpOptions) => {
      const overrides: Record<string, unknown> = {};
      if (opts.data) overrides.dataDir = opts.data;
      const http: Record<string, unknown> = {};
      if (opts.host) http.host = opts.host;
      if (opts.port !== undefined) http.port = parsePort(opts.port);
      if (Object.keys(http).length > 0) overrides.http = http;
      // Loaded here, not at the top: `ehmi --help` should not pay for the server's dependencies.
      const { loadConfig } = await import('../../config/index.ts');
      const { startNode } = await import('../../node.ts');
      const config = loadConfig({ file: opts.config, env: ctx.env, cwd: ctx.cwd, overrides });
      const node = await startNode(config);
      for (const [service, url] of Object.entries(node.urls)) {
        writeLine(ctx.stdout, `${service.padEnd(8)} ${url}   try: curl ${url}/health`);
      }
      writeLine(ctx.stdout, `ready: store ${node.store.engine}, data in ${config.dataDir} (Ctrl-C stops)`);
      if (!ctx.stopSignal.aborted) {
        await new Promise<void>((resolve) =>
          ctx.stopSignal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
      await node.close();
      writeLine(ctx.stdout, 'stopped');
    });
}
