import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

const SOR_SYSTEM = 'urn:oid:1.2.208.176.1.1';

interface Publication {
  target: string;
  status: string;
  requested?: string;
  attempted?: string;
  published?: string;
  failures?: number;
  retrying?: boolean;
  reason?: string;
  /** What the last publication left out, and why. */
  notes: string[];
}

interface RegisterEntry {
  id: string;
  name: string | undefined;
  sor: string | undefined;
  publications: Publication[];
}

type Json = Record<string, unknown>;

/** The `publication` parts of a `$publication-status` Parameters, as plain objects. */
function publicationsOf(parameters: unknown): Publication[] {
  const list = ((parameters as Json | undefined)?.parameter as Json[] | undefined) ?? [];
  return list
    .filter((p) => p.name === 'publication')
    .map((p) => {
      const out: Json = { notes: [] };
      for (const part of (p.part as Json[] | undefined) ?? []) {
        const value = Object.entries(part).find(([k]) => k.startsWith('value'))?.[1];
        if (part.name === 'note') (out.notes as unknown[]).push(value);
        else if (part.name !== 'organization') out[part.name as string] = value;
      }
      return out as unknown as Publication;
    });
}

function describe(p: Publication): string {
  if (p.status === 'failed') {
    const how = p.retrying ? 'retrying' : 'gave up, until the next write';
    return `${p.target} FAILED (${p.failures ?? 1} attempt${p.failures === 1 ? '' : 's'}, ${how}): ${p.reason ?? 'no reason recorded'}`;
  }
  if (p.status === 'published') return `${p.target} published ${p.published ?? ''}`.trimEnd();
  return `${p.target} ${p.status} since ${p.requested ?? '?'}`;
}

export function registerRegisters(program: Command, ctx: CliContext): void {
  program
    .command('registers')
    .description(
      'list the organisations in the endpoint register (EER) and whether each was published to the SMP and EAS (local network); exit 1 when a publication failed',
    )
    .option(
      '--json',
      'print a JSON array of {id, name, sor, publications: [{target, status, …, reason, notes}]}',
    )
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (opts: { json?: boolean; data?: string }) => {
      const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        const search = await net.readRegister('/Organization?_count=1000');
        if (search.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, 'EER search', search);
          return;
        }
        const orgs = (((search.json as Json | undefined)?.entry as Json[] | undefined) ?? []).map(
          (e) => e.resource as Json,
        );
        const entries: RegisterEntry[] = [];
        for (const org of orgs) {
          const id = String(org.id);
          const status = await net.readRegister(
            `/Organization/${encodeURIComponent(id)}/$publication-status`,
          );
          if (status.status !== 200) {
            ctx.exitCode = writeFailure(ctx.stderr, `EER publication status of Organization/${id}`, status);
            return;
          }
          const sor = ((org.identifier as Json[] | undefined) ?? []).find(
            (i) => i.system === SOR_SYSTEM,
          )?.value;
          entries.push({
            id,
            name: typeof org.name === 'string' ? org.name : undefined,
            sor: typeof sor === 'string' ? sor : undefined,
            publications: publicationsOf(status.json),
          });
        }
        const failed = entries.filter((e) => e.publications.some((p) => p.status === 'failed')).length;
        if (opts.json) {
          writeLine(ctx.stdout, JSON.stringify(entries, null, 2));
          if (failed > 0) ctx.exitCode = 1;
          return;
        }
        writeLine(
          ctx.stdout,
          `EER: ${entries.length} organisation${entries.length === 1 ? '' : 's'}${failed > 0 ? `, ${failed} with a failed publication` : ''}`,
        );
        for (const e of entries) {
          writeLine(ctx.stdout, `Organization/${e.id}  ${e.name ?? ''}  SOR ${e.sor ?? '-'}`);
          if (e.publications.length === 0) writeLine(ctx.stdout, '  not published (no target configured)');
          for (const p of e.publications) {
            writeLine(ctx.stdout, `  ${describe(p)}`);
            for (const n of p.notes) writeLine(ctx.stdout, `    left out: ${n}`);
          }
        }
        // A failed publication is a failure of the register, for a script as for a reader.
        if (failed > 0) ctx.exitCode = 1;
      } finally {
        await net.close();
      }
    });
}
