import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

interface SendOptions {
  from: string;
  to?: string;
  file?: string;
  save?: string;
  data?: string;
  payload?: string;
  documentType?: string;
  process?: string;
  kind?: string;
  patient?: string;
}

/** ehmiSBDH PROCESSID of every MedCom message (ehmi-core §2.3): "a message's emergence on SDN". */
const DEFAULT_PROCESS = 'urn:ehmi:sdn-emergence';

/** The media type a payload file is sent as: EDIFACT's, or XML (OIOXML, CDA), by its first octet. */
function payloadMediaType(bytes: Buffer, kind: string | undefined, documentType: string): string {
  if (kind === 'edifact' || (kind === undefined && /:edifact:/i.test(documentType)))
    return 'application/edifact';
  if (kind === 'fhir') return mediaTypeOf(bytes, 'the payload');
  return 'application/xml';
}

/** What `POST /messages` answers (msh-api §1). */
interface Accepted {
  id: string;
  status: string;
  messageHeaderId?: string;
  bundleId?: string;
  envelopeId?: string;
  sender?: string;
  receiver?: string;
}

/** FHIR media type of a Bundle file: XML when its first character (after a BOM) is `<`, JSON when `{`. */
function mediaTypeOf(bytes: Buffer, file: string): string {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)
  )
    i++;
  if (bytes[i] === 0x3c) return 'application/fhir+xml';
  if (bytes[i] === 0x7b) return 'application/fhir+json';
  throw new EhmiError('EHMI_INPUT_UNREADABLE', `${file} is neither FHIR JSON nor FHIR XML`);
}

/** The receiver GLN of a MedCom message file, or undefined when it cannot be read (the MSH then says why). */
async function destinationOf(bytes: Buffer, contentType: string): Promise<string | undefined> {
  const { readFhir } = await import('@ehmi/server/fhir-body');
  const { readMessageFacts } = await import('@ehmi/sbdh');
  try {
    return readMessageFacts(readFhir(bytes, contentType === 'application/fhir+xml' ? 'xml' : 'json'))
      .receiverGln;
  } catch {
    return undefined;
  }
}

async function readInput(ctx: CliContext, name: string): Promise<{ file: string; bytes: Buffer }> {
  const file = resolve(ctx.cwd, name);
  try {
    return { file, bytes: await readFile(file) };
  } catch (err) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function registerSend(program: Command, ctx: CliContext): void {
  program
    .command('send')
    .description(
      'submit a MedCom message, or any payload (OIOXML, EDIFACT, CDA) with --payload, to an organisation of the local network (ehmi up) and print its tracking id',
    )
    .argument('[type]', 'message type: homecareobservation (a "kommunale prøvesvar"); not with --payload')
    .requiredOption('--from <org>', 'sending organisation (its MSH takes the message)')
    .option('--to <org>', 'receiving organisation (needed unless --file gives the message)')
    .option('--file <bundle>', 'send this MedCom message Bundle (FHIR JSON or XML) as it is')
    .option(
      '--payload <file>',
      'send this file as it is (POST /payloads): an OIOXML, EDIFACT or CDA document; needs --to and --document-type',
    )
    .option(
      '--document-type <id>',
      "the payload's DOCUMENTID, a code of EHMI's message-definition code system, e.g. urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k",
    )
    .option('--process <id>', `the payload's PROCESSID (default ${DEFAULT_PROCESS})`)
    .option('--kind <kind>', "oioxml, edifact or cda (default: the document type's family)")
    .option('--patient <cpr>', "the payload's PATIENTID (a CPR number of 10 digits)")
    .option('--save <file>', 'also write the exact bytes submitted to this file')
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (type: string | undefined, opts: SendOptions) => {
      if (opts.payload !== undefined) {
        await sendPayload(ctx, type, opts);
        return;
      }
      for (const o of ['documentType', 'process', 'kind', 'patient'] as const) {
        if (opts[o] !== undefined) {
          const flag = o === 'documentType' ? 'document-type' : o;
          throw new EhmiError('EHMI_USAGE', `send: --${flag} goes with --payload`);
        }
      }
      if (type !== 'homecareobservation') {
        throw new EhmiError(
          'EHMI_USAGE',
          type === undefined
            ? 'send: name the message type (homecareobservation), or give --payload FILE'
            : `unknown message type "${type}" (known: homecareobservation)`,
        );
      }
      const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        const from = net.organisation(opts.from);
        const to = opts.to === undefined ? undefined : net.organisation(opts.to);
        let bytes: Buffer;
        let contentType: string;
        if (opts.file) {
          const input = await readInput(ctx, opts.file);
          const file = input.file;
          bytes = input.bytes;
          contentType = mediaTypeOf(bytes, file);
          if (to) {
            // --to names the receiver the user means; a file addressed to someone else is refused before it is sent
            // (the MSH addresses by MessageHeader.destination, so --to would otherwise be ignored).
            const receiverGln = await destinationOf(bytes, contentType);
            if (receiverGln !== undefined && receiverGln !== to.gln) {
              const named = net.byParticipant(`0088:${receiverGln}`)?.name;
              throw new EhmiError(
                'EHMI_USAGE',
                `${file} is addressed to GLN ${receiverGln}${named ? ` (${named})` : ''}, not to ${to.name} (${to.gln}); leave out --to to send it as addressed`,
              );
            }
          }
        } else {
          if (!to) throw new EhmiError('EHMI_USAGE', 'send: --to is needed when no --file is given');
          const { sampleHomeCareObservation } = await import('@ehmi/network/sample');
          bytes = Buffer.from(`${JSON.stringify(sampleHomeCareObservation(from, to), null, 2)}\n`);
          contentType = 'application/fhir+json';
        }
        if (opts.save) await writeFile(resolve(ctx.cwd, opts.save), bytes);
        const res = await net.call(from.name, 'POST', '/messages', { bytes, contentType });
        if (res.status !== 202 && res.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, `${from.name}'s MSH refused the message; send`, res);
          return;
        }
        const a = res.json as Accepted;
        const receiver = a.receiver ? (net.byParticipant(a.receiver)?.name ?? a.receiver) : (to?.name ?? '?');
        writeLine(
          ctx.stdout,
          res.status === 200
            ? `already accepted earlier (same Bundle.id and MessageHeader.id): nothing sent again, status ${a.status}`
            : `accepted by ${from.name}'s MSH for ${receiver}: MessageHeader.id ${a.messageHeaderId ?? '?'}, Bundle.id ${a.bundleId ?? '?'}`,
        );
        if (opts.save) writeLine(ctx.stdout, `saved the submitted message to ${resolve(ctx.cwd, opts.save)}`);
        writeLine(ctx.stdout, a.id);
      } finally {
        await net.close();
      }
    });
}

/**
 * `ehmi send --payload FILE --document-type ID --to ORG`: the file's octets as they are, to `POST /payloads` with the
 * receiver, DOCUMENTID, PROCESSID (and kind, PATIENTID) as query parameters; the MSH checks the document type against
 * EHMI's code system and says why it refuses one.
 */
async function sendPayload(ctx: CliContext, type: string | undefined, opts: SendOptions): Promise<void> {
  if (type !== undefined) {
    throw new EhmiError('EHMI_USAGE', `send: give either a message type ("${type}") or --payload, not both`);
  }
  if (opts.file !== undefined) throw new EhmiError('EHMI_USAGE', 'send: give either --file or --payload');
  if (!opts.to) throw new EhmiError('EHMI_USAGE', 'send --payload: --to names the receiving organisation');
  if (!opts.documentType) {
    throw new EhmiError(
      'EHMI_USAGE',
      "send --payload: --document-type is needed (a code of EHMI's message-definition code system, e.g. urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k)",
    );
  }
  if (opts.kind !== undefined && !['oioxml', 'edifact', 'cda', 'fhir'].includes(opts.kind)) {
    throw new EhmiError('EHMI_USAGE', `--kind must be oioxml, edifact, cda or fhir, not "${opts.kind}"`);
  }
  if (opts.patient !== undefined && !/^\d{10}$/.test(opts.patient)) {
    throw new EhmiError('EHMI_USAGE', `--patient expects a CPR number of 10 digits, got "${opts.patient}"`);
  }
  const { bytes } = await readInput(ctx, opts.payload!);
  const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
  const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
  try {
    const from = net.organisation(opts.from);
    const to = net.organisation(opts.to);
    const query = new URLSearchParams({
      receiver: `0088:${to.gln}`,
      documentType: opts.documentType,
      process: opts.process ?? DEFAULT_PROCESS,
      receiverSor: to.sor,
      ...(opts.kind ? { kind: opts.kind } : {}),
      ...(opts.patient ? { patientId: opts.patient } : {}),
    });
    const contentType = payloadMediaType(bytes, opts.kind, opts.documentType);
    if (opts.save) await writeFile(resolve(ctx.cwd, opts.save), bytes);
    const res = await net.call(from.name, 'POST', `/payloads?${query}`, { bytes, contentType });
    if (res.status !== 202 && res.status !== 200) {
      ctx.exitCode = writeFailure(ctx.stderr, `${from.name}'s MSH refused the payload; send`, res);
      return;
    }
    const a = res.json as Accepted;
    writeLine(
      ctx.stdout,
      `accepted by ${from.name}'s MSH for ${to.name}: ${bytes.length} octets as ${opts.documentType}, MESSAGEIDENTIFIER ${a.messageHeaderId ?? '?'}`,
    );
    if (opts.save) writeLine(ctx.stdout, `saved the submitted payload to ${resolve(ctx.cwd, opts.save)}`);
    writeLine(ctx.stdout, a.id);
  } finally {
    await net.close();
  }
}
