import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('start the EHMI node (what `npm start` runs)')
    .option('-c, --config <file>', 'configuration file (JSON); EHMI_* environment variables override it')
    .action(async () => {
      ctx.stdout.write('not yet\n');
    });
}
