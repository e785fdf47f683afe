import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

/** `GET /messages/{id}` (msh-api §3), the parts the CLI shows. */
interface MessageStatus {
  id: string;
  status: string;
  type?: string;
  sender?: string;
  receiver?: string;
  needsAction?: string | null;
  resends?: number;
  acknowledgement?: { code: string; at: string } | null;
  failure?: { reason: string; ebmsCode?: string } | null;
  events?: { code: string; station: string; time: string; outcome: string; detail?: string }[];
}

export function registerTrack(program: Command, ctx: CliContext): void {
  program
    .command('track')
    .description(
      "print a sent message's status and timeline (asks every organisation of the local network), and its AS4 MessageId for 'ehmi evidence'",
    )
    .argument('<id>', 'tracking id (what ehmi send printed)')
    .option(
      '--json',
      'print {id, status, events: [{code, station, time, outcome}], as4MessageIds} (as4MessageIds once the AP took the message over)',
    )
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (id: string, opts: { json?: boolean; data?: string }) => {
      const { NetworkClient, networkDataDir } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        const { organisation, message } = await net.findMessage(id);
        const m = message as MessageStatus;
        const events = (m.events ?? []).map((e) => ({
          code: e.code,
          station: e.station,
          time: e.time,
          outcome: e.outcome,
          ...(e.detail ? { detail: e.detail } : {}),
        }));
        // The AS4 MessageId of each envelope sent (a resend is a new one): the MSH records it in the detail of step
        // 03.1, when its AP took the envelope over. `ehmi evidence ORG ID` takes it.
        const as4MessageIds = [
          ...new Set(
            events
              .filter((e) => e.code === '03.1')
              .map((e) => /AS4 MessageId (\S+)/.exec(e.detail ?? '')?.[1])
              .filter((id): id is string => id !== undefined),
          ),
        ];
        if (opts.json) {
          const json = {
            id: m.id,
            status: m.status,
            events: events.map(({ code, station, time, outcome }) => ({ code, station, time, outcome })),
            ...(as4MessageIds.length > 0 ? { as4MessageIds } : {}),
          };
          writeLine(ctx.stdout, JSON.stringify(json, null, 2));
          return;
        }
        const name = (p?: string) => (p ? (net.byParticipant(p)?.name ?? p) : '?');
        const extra = [
          m.needsAction ? `needs action: ${m.needsAction}` : '',
          m.acknowledgement ? `acknowledgement ${m.acknowledgement.code}` : '',
          m.failure
            ? `failure: ${m.failure.reason}${m.failure.ebmsCode ? ` (${m.failure.ebmsCode})` : ''}`
            : '',
          m.resends ? `resent ${m.resends}×` : '',
        ].filter(Boolean);
        writeLine(
          ctx.stdout,
          `${m.status}  ${m.id}  ${m.type ?? ''} ${name(m.sender ?? `0088:${organisation.gln}`)} → ${name(m.receiver)}${extra.length ? `  (${extra.join('; ')})` : ''}`,
        );
        // Each step's meaning beside its code (the MSH's own definition of its timeline steps).
        const { stepMeaning, TIMELINE_STEPS } = await import('@ehmi/server/steps');
        const width = Math.max(...Object.values(TIMELINE_STEPS).map((m) => m.length));
        for (const e of events) {
          writeLine(
            ctx.stdout,
            `  ${e.time}  ${stepMeaning(e.code).padEnd(width)}  ${e.code.padEnd(5)} ${e.station.padEnd(4)} ${e.outcome}${e.detail ? `  ${e.detail}` : ''}`,
          );
        }
        for (const id of as4MessageIds) writeLine(ctx.stdout, `AS4 MessageId: ${id}`);
      } finally {
        await net.close();
      }
    });
}
