import { EhmiError } from '@ehmi/errors';
import {
  loadEnvelope,
  type PayloadMetadata,
  parse,
  RECEIPT_EXCEPTION_CATEGORIES,
  type ReceiptExceptionCategory,
  receiptFor,
  validate,
  type WrapOptions,
  wrap,
  wrapForArchive,
  wrapPayload,
} from '@ehmi/sbdh';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';
import { readInputFile } from './read-input.ts';

interface WrapFlags {
  original?: string;
  archive?: boolean;
  archiveReceiver?: string;
  typeVersion?: string;
  metadata?: string;
}

interface ReceiptFlags {
  exception?: string;
  category?: string;
  message?: string;
}

/** `ehmi sbdh wrap FILE` and `ehmi sbdh receipt FILE`: build ehmiSBDH envelopes on stdout. */
export function registerSbdh(program: Command, ctx: CliContext): void {
  const sbdh = program
    .command('sbdh')
    .description('ehmiSBDH envelopes: wrap a message, build an EnvelopeReceipt');

  sbdh
    .command('wrap')
    .description('wrap a MedCom FHIR message (JSON or XML) in an ehmiSBDH and print it')
    .argument('<file>', 'the MedCom FHIR message, or any payload with --metadata')
    .option('--archive', 'the copy for the document archive, with XDS-METADATA (a DocumentReference)')
    .option(
      '--archive-receiver <gln>',
      'GLN of the archive access point (with --archive; default the receiver)',
    )
    .option('--type-version <version>', 'TypeVersion when MessageHeader.definition carries none')
    .option(
      '--original <envelope>',
      'for an acknowledgement: the envelope of the acknowledged message (ORIGINAL* scopes)',
    )
    .option(
      '--metadata <file>',
      'JSON metadata for a payload the pilot XSD does not list (OIOXML, EDIFACT, CDA, …)',
    )
    .action(async (file: string, flags: WrapFlags) => {
      const input = await readInputFile(ctx, file);
      let xml: string;
      if (flags.metadata) {
        const text = (await readInputFile(ctx, flags.metadata)).toString('utf8');
        let metadata: PayloadMetadata;
        try {
          metadata = JSON.parse(text) as PayloadMetadata;
        } catch (err) {
          throw new EhmiError('EHMI_USAGE', `--metadata ${flags.metadata} is not valid JSON`, { cause: err });
        }
        xml = wrapPayload(input, metadata);
      } else {
        const options: WrapOptions = flags.typeVersion ? { typeVersion: flags.typeVersion } : {};
        if (flags.original)
          options.original = parse(await readInputFile(ctx, flags.original), flags.original);
        xml = flags.archive
          ? await wrapForArchive(
              input,
              flags.archiveReceiver ? { ...options, archiveReceiver: flags.archiveReceiver } : options,
            )
          : await wrap(input, options);
      }
      ctx.stdout.write(xml);
    });

  sbdh
    .command('receipt')
    .description(
      'print the EnvelopeReceipt (ReceiptAcknowledgement, or ReceiptException with --exception) for an envelope',
    )
    .argument('<file>', 'the received ehmiSBDH')
    .option('--exception <reason>', 'build a ReceiptException with this Reason')
    .option(
      '--category <category>',
      `ReceiptException category: ${RECEIPT_EXCEPTION_CATEGORIES.join(', ')}`,
      'Syntax',
    )
    .option('--message <text>', 'ReceiptException ExceptionMessage')
    .action(async (file: string, flags: ReceiptFlags) => {
      const category = flags.category as ReceiptExceptionCategory;
      if (!(RECEIPT_EXCEPTION_CATEGORIES as readonly string[]).includes(category)) {
        throw new EhmiError(
          'EHMI_USAGE',
          `--category must be one of ${RECEIPT_EXCEPTION_CATEGORIES.join(', ')}`,
        );
      }
      const bytes = await readInputFile(ctx, file);
      const head = bytes
        .subarray(0, 64)
        .toString('utf8')
        .replace(/^\uFEFF/, '')
        .trimStart();
      if (!head.startsWith('<') && !file.toLowerCase().endsWith('.xml')) {
        throw new EhmiError('EHMI_INPUT_UNREADABLE', `${file} is not an XML document, so not an ehmiSBDH`);
      }
      // A ReceiptAcknowledgement says the envelope "passed structure/schema validity check": refuse to write one for
      // an envelope that does not (known MedCom variants pass with warnings). A ReceiptException is always possible.
      if (flags.exception === undefined) {
        const checked = await validate(bytes, file);
        if (!checked.valid) {
          for (const e of checked.errors) {
            writeLine(
              ctx.stderr,
              `${file}${e.line !== undefined ? `:${e.line}` : ''}: error: ${e.element}: ${e.message}`,
            );
          }
          throw new EhmiError(
            'EHMI_VALIDATION_FAILED',
            `${file} is not a valid ehmiSBDH: no ReceiptAcknowledgement for it (give --exception REASON for a ReceiptException)`,
            { expression: [checked.errors[0]?.element ?? 'StandardBusinessDocument'] },
          );
        }
      }
      // The receiver answers a readable header whose payload is broken with a ReceiptException: only the header
      // is needed for that, so BinaryContent problems do not stop --exception.
      const loaded = flags.exception === undefined ? undefined : loadEnvelope(bytes, file);
      const envelope = loaded?.errors.every((e) => e.element.startsWith('BinaryContent'))
        ? loaded.envelope
        : parse(bytes, file);
      const outcome =
        flags.exception === undefined
          ? ({ kind: 'acknowledgement' } as const)
          : flags.message
            ? ({ kind: 'exception', category, reason: flags.exception, message: flags.message } as const)
            : ({ kind: 'exception', category, reason: flags.exception } as const);
      ctx.stdout.write(receiptFor(envelope, outcome));
    });
}
