import { readFileSync } from 'node:fs';
import { EhmiError, EXIT, toCliExit } from '@ehmi/errors';
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.ts';
import { type CliContext, writeLine } from './context.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** The version printed by `ehmi --version`. */
export const VERSION: string = pkg.version;

/** Builds the `ehmi` program; each command registers itself from `commands/`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('ehmi')
    .description(
      'EHMI node: MedCom messages over eDelivery AS4 (MSH, access point, registers, delivery status)',
    )
    .version(VERSION, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      // Commander's own error text is replaced by our one-line message in main().
      writeErr: () => {},
      outputError: () => {},
    });
  for (const register of COMMANDS) register(program, ctx);
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: () => {},
      outputError: () => {},
    });
  }
  return program;
}

/**
 * Runs the CLI and resolves to the process exit code: 0 success, 1 failure or invalid input, 2 bad arguments or
 * unreadable input, others as in `EXIT`.
 */
export async function main(argv: readonly string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return EXIT.ok;
      }
      const text = err.message.replace(/^error:\s*/, '').split('\n')[0];
      writeLine(ctx.stderr, `ehmi: ${text} (see 'ehmi --help')`);
      return EXIT.usage;
    }
    const { exitCode, message } = toCliExit(err);
    writeLine(ctx.stderr, message);
    if (!(err instanceof EhmiError) && ctx.env.EHMI_DEBUG)
      ctx.stderr.write(`${String((err as Error)?.stack)}\n`);
    return exitCode;
  }
}
