import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

interface SearchOptions {
  patient?: string;
  type?: string;
  since?: string;
  author?: string;
  as?: string;
  json?: boolean;
  data?: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);

/** What a line of `ehmi archive search` shows of a DocumentReference. */
function summary(docRef: Json) {
  const contained = list(docRef.contained);
  const byRef = (ref: unknown) => contained.find((c) => `#${String(c.id)}` === obj(ref).reference);
  const identifier = (r: Json | undefined, system: string) =>
    list(r?.identifier).find((i) => i.system === system)?.value as string | undefined;
  const patient = byRef(docRef.subject);
  const author = list(docRef.author)
    .map(byRef)
    .find((a) => a?.resourceType === 'Organization');
  const attachment = obj(list(docRef.content)[0]?.attachment);
  const coding = list(obj(docRef.type).coding)[0];
  return {
    id: String(docRef.id),
    date: (docRef.date ?? attachment.creation ?? '') as string,
    type: (coding?.code ?? '') as string,
    title: (attachment.title ?? coding?.display ?? '') as string,
    status: (docRef.status ?? '') as string,
    patient: identifier(patient, 'urn:oid:1.2.208.176.1.2') ?? '',
    author: `${(author?.name as string | undefined) ?? ''}${identifier(author, 'urn:oid:1.2.208.176.1.1') ? ` (SOR ${identifier(author, 'urn:oid:1.2.208.176.1.1')})` : ''}`,
    url: (attachment.url ?? '') as string,
  };
}

export function registerArchive(program: Command, ctx: CliContext): void {
  const archive = program
    .command('archive')
    .description('the document archive of the local network (EMR): the copies of the messages it shares');
  archive
    .command('search')
    .description(
      "search the archive's DocumentReferences (FHIR, the network's operator's token, or --as ORG's): newest first",
    )
    .option('--patient <cpr>', 'the patient, by CPR (patient:identifier=urn:oid:1.2.208.176.1.2|<CPR>)')
    .option('--type <code>', 'the document type (XDS typeCode, e.g. HCOMsg)')
    .option('--since <date>', 'documents dated on or after this FHIR date (2025-01-01)')
    .option('--author <sor>', 'the author organisation, by SOR code')
    .option(
      '--as <org>',
      "search as this organisation's system (its EUA's client); default the network's operator",
    )
    .option('--json', 'print the searchset Bundle’s DocumentReferences as a JSON array')
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (opts: SearchOptions) => {
      const params: [string, string][] = [];
      if (opts.patient !== undefined) {
        if (!/^\d{10}$/.test(opts.patient))
          throw new EhmiError('EHMI_USAGE', `--patient expects a CPR (10 digits), got "${opts.patient}"`);
        params.push(['patient:identifier', `urn:oid:1.2.208.176.1.2|${opts.patient}`]);
      }
      if (opts.type !== undefined) params.push(['type', opts.type]);
      if (opts.since !== undefined) params.push(['date', `ge${opts.since}`]);
      if (opts.author !== undefined)
        params.push(['author:identifier', `urn:oid:1.2.208.176.1.1|${opts.author}`]);
      const { NetworkClient, networkDataDir } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        if (opts.as !== undefined) net.organisation(opts.as);
        const found = await net.searchArchive(params, opts.as);
        if (opts.json) {
          writeLine(ctx.stdout, JSON.stringify(found, null, 2));
          return;
        }
        if (found.length === 0) {
          writeLine(ctx.stdout, 'no documents');
          return;
        }
        for (const d of found.map(summary)) {
          writeLine(
            ctx.stdout,
            `${d.date}  ${d.type.padEnd(5)} ${d.status.padEnd(8)} ${d.patient}  ${d.title}  from ${d.author}  ${d.id}`,
          );
          writeLine(ctx.stdout, `  ${d.url}`);
        }
        writeLine(ctx.stdout, `${found.length} document${found.length === 1 ? '' : 's'}`);
      } finally {
        await net.close();
      }
    });
}
