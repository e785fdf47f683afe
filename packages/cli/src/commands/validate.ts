import { asEhmiError, EXIT } from '@ehmi/errors';
import type { EnvelopeIssue, ValidateInput } from '@ehmi/sbdh';
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
    .description(
      'validate ehmiSBDH files (IG XSD + IG rules; known MedCom variants accepted with warnings) and FHIR resources (JSON or XML, against the MedCom/EHMI profiles)',
    )
    .argument('<files...>', 'envelopes or FHIR resources to validate')
    .option(
      '--profile <url>',
      'validate FHIR resources against this profile instead of the claimed/implied ones',
    )
    .action(async (files: string[], opts: { profile?: string }) => {
      // Loaded here, not at the top: `ehmi --help` should not pay for the validators.
      const fhir = await import('@ehmi/fhir');
      const { validateMany } = await import('@ehmi/sbdh');
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
        // FHIR resources (JSON with resourceType, XML in the FHIR namespace) go to the profile validator.
        if (fhir.detectFhir(i.xml as Uint8Array)) {
          raise(validateFhir(fhir, ctx, i.source, i.xml as Uint8Array, opts.profile));
          return false;
        }
        const head = Buffer.from(i.xml as Uint8Array)
          .subarray(0, 64)
          .toString('utf8')
          .replace(/^\uFEFF/, '')
          .trimStart();
        if (head.startsWith('<') || i.source.toLowerCase().endsWith('.xml')) return true;
        writeLine(ctx.stderr, `${i.source}: error: ${notRecognised(i.xml as Uint8Array, head)}`);
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

/** Validates one FHIR document; one line per error and warning on stderr, the verdict on stdout. */
function validateFhir(
  fhir: typeof import('@ehmi/fhir'),
  ctx: CliContext,
  file: string,
  bytes: Uint8Array,
  profile: string | undefined,
): number {
  if (profile && !fhir.shippedConformance().structureDefinition(profile)) {
    writeLine(ctx.stderr, `${file}: error: --profile ${profile} is not a loaded StructureDefinition`);
    return EXIT.usage;
  }
  const r = fhir.validateFhirDocument(bytes, profile ? { profile } : {});
  for (const i of r.issues) {
    if (i.severity === 'information') continue;
    writeLine(ctx.stderr, `${file}: ${i.severity}: ${i.expression}: ${i.message.replace(/\s*\n\s*/g, ' ')}`);
  }
  const what = `FHIR ${r.format.toUpperCase()} ${String(r.resource?.resourceType ?? 'resource')}`;
  const errors = r.issues.filter((i) => i.severity === 'error').length;
  const warnings = r.issues.filter((i) => i.severity === 'warning').length;
  if (r.valid) {
    writeLine(ctx.stdout, `${file}: valid ${what}${warnings > 0 ? ` with ${warnings} warning(s)` : ''}`);
    return EXIT.ok;
  }
  writeLine(ctx.stdout, `${file}: invalid ${what}: ${errors} error(s)`);
  return EXIT.failed;
}

/** Why a file that is not XML is neither FHIR nor an ehmiSBDH: JSON that does not parse or lacks resourceType. */
function notRecognised(bytes: Uint8Array, head: string): string {
  if (!head.startsWith('{') && !head.startsWith('[')) return 'not an XML document, so not an ehmiSBDH';
  try {
    JSON.parse(
      Buffer.from(bytes)
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
    );
  } catch (err) {
    return `not FHIR: malformed JSON (${(err as Error).message}), and not an ehmiSBDH`;
  }
  return 'not FHIR: JSON without a resourceType, and not an ehmiSBDH';
}

function line(file: string, severity: string, issue: EnvelopeIssue): string {
  const where = issue.line !== undefined ? `${file}:${issue.line}` : file;
  return `${where}: ${severity}: ${issue.element}: ${issue.message.replace(/\s*\n\s*/g, ' ')}`;
}
