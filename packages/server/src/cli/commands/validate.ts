import { asEhmiError, EXIT } from '@ehmi/errors';
import { type EnvelopeIssue, type ValidateInput, validateMany } from '@ehmi/sbdh';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';
import { readInputFile } from './read-input.ts';

/**
 * `ehmi validate FILE...`: validate ehmiSBDH envelopes. Exit 0 when every file is valid (warnings printed),
 * 1 when any is invalid (malformed XML and a DOCTYPE included), 2 when a file cannot be read or is not an envelope.
 * One line per problem on stderr, naming the file, line and element; one verdict per file on stdout.
 */
export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('validate ehmiSBDH files (IG XSD + IG rules; known MedCom variants accepted with warnings)')
    .argument('<files...>', 'envelopes to validate')
    .action(async (files: string[]) => {
      let worst: number = EXIT.ok;
      const raise = (code: number): void => {
        worst = Math.max(worst, code);
      };
      const inputs: (ValidateInput & { source: string })[] = [];
      for (const file of files) {
        try {
          inputs.push({ xml: await readInputFile(ctx, file), source: file });
        } catch (err) {
          writeLine(ctx.stderr, `${file}: error: ${asEhmiError(err).message}`);
          raise(EXIT.usage);
        }
      }
      // Not XML at all (JSON, binary) is not a kind we recognise; a .xml file that fails to parse is malformed.
      const xmlInputs = inputs.filter((i) => {
        const head = Buffer.from(i.xml as Uint8Array)
          .subarray(0, 64)
          .toString('utf8')
          .replace(/^\uFEFF/, '')
          .trimStart();
        if (head.startsWith('<') || i.source.toLowerCase().endsWith('.xml')) return true;
        writeLine(ctx.stderr, `${i.source}: error: not an XML document, so not an ehmiSBDH`);
        raise(EXIT.usage);
        return false;
      });
      const results = await validateMany(xmlInputs);
      results.forEach((r, k) => {
        const file = xmlInputs[k]!.source;
        for (const e of r.errors) writeLine(ctx.stderr, line(file, 'error', e));
        for (const w of r.warnings) writeLine(ctx.stderr, line(file, 'warning', w));
        if (!r.recognised) {
          raise(EXIT.usage);
          return;
        }
        const schema = r.schema ? ` against ${r.schema}` : '';
        if (r.valid) {
          const note = r.warnings.length > 0 ? ` with ${r.warnings.length} warning(s)` : '';
          writeLine(ctx.stdout, `${file}: valid${schema}${note}`);
        } else {
          writeLine(ctx.stdout, `${file}: invalid${schema}: ${r.errors.length} error(s)`);
          raise(EXIT.failed);
        }
      });
      ctx.exitCode = worst;
    });
}

function line(file: string, severity: string, issue: EnvelopeIssue): string {
  const where = issue.line !== undefined ? `${file}:${issue.line}` : file;
  return `${where}: ${severity}: ${issue.element}: ${issue.message.replace(/\s*\n\s*/g, ' ')}`;
}
