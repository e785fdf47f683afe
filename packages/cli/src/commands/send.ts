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

export function registerSend(program: Command, ctx: CliContext): void {
  program
    .command('send')
    .description(
      'submit a MedCom message to an organisation of the local network (ehmi up) and print its tracking id',
    )
    .argument('<type>', 'message type: homecareobservation (a "kommunale prøvesvar")')
    .requiredOption('--from <org>', 'sending organisation (its MSH takes the message)')
    .option('--to <org>', 'receiving organisation (needed unless --file gives the message)')
    .option('--file <bundle>', 'send this MedCom message Bundle (FHIR JSON or XML) as it is')
    .option('--save <file>', 'also write the exact bytes submitted to this file')
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (type: string, opts: SendOptions) => {
      if (type !== 'homecareobservation') {
        throw new EhmiError('EHMI_USAGE', `unknown message type "${type}" (known: homecareobservation)`);
      }
      const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        const from = net.organisation(opts.from);
        const to = opts.to === undefined ? undefined : net.organisation(opts.to);
        let bytes: Buffer;
        let contentType: string;
        if (opts.file) {
          const file = resolve(ctx.cwd, opts.file);
          try {
            bytes = await readFile(file);
          } catch (err) {
            throw new EhmiError('EHMI_INPUT_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, {
              cause: err,
            });
          }
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
