import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

type Json = Record<string, unknown>;

/** One line of an AuditEvent: when, outcome, server, what, who, about whom, request id. */
function line(e: Json): string {
  const agents = (e.agent as Json[] | undefined) ?? [];
  const client = agents[0] as Json | undefined;
  const who =
    ((client?.who as Json | undefined)?.identifier as Json | undefined)?.value ??
    (client?.name as string | undefined) ??
    'anonymous';
  const observer = String(((e.source as Json | undefined)?.observer as Json | undefined)?.display ?? '');
  const what = (e.entity as Json[] | undefined) ?? [];
  const patient = what.find((x) => (x.role as Json | undefined)?.code === '1');
  const cpr = ((patient?.what as Json | undefined)?.identifier as Json | undefined)?.value;
  const call = what.find((x) => (x.type as Json | undefined)?.code === '4');
  const requestId = what.find((x) => (x.type as Json | undefined)?.code === 'XrequestId');
  const outcome = { '0': 'success', '4': 'failure', '8': 'SERIOUS' }[String(e.outcome)] ?? String(e.outcome);
  return [
    String(e.recorded),
    outcome.padEnd(7),
    observer.split(' ').at(-1) ?? '',
    String((call?.what as Json | undefined)?.display ?? ''),
    `by ${String(who)}`,
    ...(cpr ? [`patient ${String(cpr)}`] : []),
    ...(e.purposeOfEvent ? ['[MinLog]'] : []),
    `request ${String(((requestId?.what as Json | undefined)?.identifier as Json | undefined)?.value ?? '')}`,
    ...(e.outcomeDesc ? [`(${String(e.outcomeDesc)})`] : []),
  ].join('  ');
}

export function registerAudit(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description(
      "search a node's audit log (every call to its servers, as FHIR AuditEvents) as the network's operator (local network)",
    )
    .argument(
      '[node]',
      "the node: `central` (default), an organisation's name, or a node's own server URL as `ehmi up` prints it",
      'central',
    )
    .option('--patient <cpr>', 'only calls about this patient (CPR, 10 digits)')
    .option(
      '--since <time>',
      'only calls from this time on (ISO 8601, e.g. 2026-12-06 or 2026-12-06T10:00:00Z)',
    )
    .option('--client <id>', 'only calls by this client id')
    .option('--failed', 'only refused or failed calls')
    .option('--count <n>', 'at most this many, newest first (default 50)')
    .option('--json', 'print the FHIR searchset Bundle')
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(
      async (
        node: string,
        opts: {
          patient?: string;
          since?: string;
          client?: string;
          failed?: boolean;
          count?: string;
          json?: boolean;
          data?: string;
        },
      ) => {
        const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
        const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
        try {
          const url = /^https?:\/\//.test(node)
            ? node
            : node === 'central'
              ? net.manifest.services.node
              : net.organisation(node).node;
          if (!url) {
            writeLine(ctx.stderr, `network.json names no audit server for ${node}: give the node's URL`);
            ctx.exitCode = 2;
            return;
          }
          const query = new URLSearchParams();
          if (opts.patient) query.set('patient', `urn:oid:1.2.208.176.1.2|${opts.patient}`);
          if (opts.since) query.set('date', `ge${opts.since}`);
          if (opts.client) query.set('agent', opts.client);
          if (opts.failed) query.set('outcome', '4,8');
          if (opts.count) query.set('_count', opts.count);
          query.set('_sort', '-date');
          const res = await net.audit(url, query);
          if (res.status !== 200) {
            ctx.exitCode = writeFailure(ctx.stderr, `audit log of ${url}`, res);
            return;
          }
          const bundle = res.json as Json;
          if (opts.json) {
            writeLine(ctx.stdout, JSON.stringify(bundle, null, 2));
            return;
          }
          const entries = (bundle.entry as Json[] | undefined) ?? [];
          for (const e of entries) writeLine(ctx.stdout, line(e.resource as Json));
          if (entries.length === 0) writeLine(ctx.stdout, 'no audit records match');
        } finally {
          await net.close();
        }
      },
    );
}
