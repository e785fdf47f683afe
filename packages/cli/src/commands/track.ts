import { EhmiError } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

/** `GET /messages/{id}` (msh-api §3), the parts the CLI uses. */
interface MessageStatus {
  id: string;
  status: string;
  type?: string;
  sender?: string;
  receiver?: string;
  messageHeaderId?: string | null;
  envelopeId?: string;
  createdAt?: string | null;
  needsAction?: string | null;
  resends?: number;
  acknowledgement?: { code: string; at: string } | null;
  failure?: { reason: string; ebmsCode?: string } | null;
  events?: { code: string; station: string; time: string; outcome: string; detail?: string }[];
}

interface TrackOptions {
  json?: boolean;
  data?: string;
  as?: string;
  hopSeconds?: string;
  receiptMinutes?: string;
  acknowledgementMinutes?: string;
}

function positive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new EhmiError('EHMI_USAGE', `${flag} expects a whole number ≥ 1, got "${value}"`);
  return n;
}

// The AS4 MessageId of each envelope sent (a resend is a new one): the MSH records it in the detail of step 03.1,
// when its AP took the envelope over. `ehmi evidence ORG ID` takes it.
function as4MessageIdsOf(m: MessageStatus | undefined): string[] {
  return [
    ...new Set(
      (m?.events ?? [])
        .filter((e) => e.code === '03.1')
        .map((e) => /AS4 MessageId (\S+)/.exec(e.detail ?? '')?.[1])
        .filter((id): id is string => id !== undefined),
    ),
  ];
}

export function registerTrack(program: Command, ctx: CliContext): void {
  program
    .command('track')
    .description(
      "print a message's journey across the network from EHMI Delivery Status (EDS): every step with its time, station and outcome, then the steps that are late; and its AS4 MessageId for 'ehmi evidence'",
    )
    .argument('<id>', "tracking id (what ehmi send printed), or the message's MessageHeader.id")
    .option(
      '--json',
      'print {id, messageId, status, events: [{code, station, time, outcome}], missing: [{code, station, dueBy}], pending, as4MessageIds}',
    )
    .option(
      '--as <org>',
      "read EDS as this organisation (its client sees the messages it took part in); default: the network's operator",
    )
    .option(
      '--hop-seconds <n>',
      'a step inside a node or to the next station is late after this (default 60)',
    )
    .option(
      '--receipt-minutes <n>',
      'the EnvelopeReceipt (10.1) is late this long after the AS4 receipt (03.2) (default 10)',
    )
    .option(
      '--acknowledgement-minutes <n>',
      'the acknowledgement (15.1) is late this long after the message was created (default 30)',
    )
    .option('--data <dir>', 'data folder of the running network (default ./.ehmi)')
    .action(async (id: string, opts: TrackOptions) => {
      const thresholds: Record<string, number> = {};
      for (const [key, flag, value] of [
        ['hopSeconds', '--hop-seconds', opts.hopSeconds],
        ['receiptMinutes', '--receipt-minutes', opts.receiptMinutes],
        ['acknowledgementMinutes', '--acknowledgement-minutes', opts.acknowledgementMinutes],
      ] as const) {
        const n = positive(flag, value);
        if (n !== undefined) thresholds[key] = n;
      }
      const { NetworkClient, networkDataDir } = await import('@ehmi/network/client');
      const net = NetworkClient.open(networkDataDir(opts.data, ctx.env, ctx.cwd));
      try {
        if (opts.as !== undefined) net.organisation(opts.as);
        if (!net.manifest.services.eds) {
          // A network started without EDS: the sending MSH's own timeline, as before EDS existed.
          await mshTimeline(ctx, net, id, opts.json === true);
          return;
        }
        // The tracking id is the sending MSH's; EDS knows the message by its MessageHeader.id. So the MSH is asked
        // first (it also names the AS4 MessageIds); an id no MSH knows is taken as the message's own id.
        let message: MessageStatus | undefined;
        let mshError: unknown;
        try {
          message = (
            opts.as === undefined
              ? (await net.findMessage(id)).message
              : await readOwnMessage(net, opts.as, id)
          ) as MessageStatus;
        } catch (err) {
          if (
            !(err instanceof EhmiError) ||
            (err.code !== 'EHMI_NOT_FOUND' && err.code !== 'EHMI_UNAVAILABLE')
          ) {
            throw err;
          }
          mshError = err;
        }
        const messageId = message ? (message.messageHeaderId ?? message.envelopeId ?? id) : id;
        const { buildJourney, collectJourneyEvents } = await import('@ehmi/sbdh');
        const events = await collectJourneyEvents(messageId, (params) => net.searchEds(params, opts.as));
        if (!message && events.length === 0) {
          if (mshError instanceof EhmiError && mshError.code === 'EHMI_UNAVAILABLE') throw mshError;
          throw new EhmiError(
            'EHMI_NOT_FOUND',
            `EDS holds no event of message ${id}${opts.as ? ` that ${opts.as} may read, and ${opts.as}'s MSH does not know it` : ', and no MSH knows it'} as a tracking id`,
          );
        }
        const journey = buildJourney(messageId, events, {
          now: new Date(),
          id,
          thresholds,
          ...(message?.createdAt ? { start: new Date(message.createdAt) } : {}),
        });
        const as4MessageIds = as4MessageIdsOf(message);
        if (opts.json) {
          const json = {
            id: journey.id,
            messageId: journey.messageId,
            status: journey.status,
            events: journey.events.map((e) => ({
              code: e.code,
              station: e.station,
              time: e.time,
              outcome: e.outcome,
              ...(e.code === null ? { subtype: e.subtype } : {}),
            })),
            missing: journey.missing.map((m) => ({ code: m.code, station: m.station, dueBy: m.dueBy })),
            pending: journey.pending.map((p) => ({
              code: p.code,
              station: p.station,
              ...(p.dueBy ? { dueBy: p.dueBy } : {}),
            })),
            ...(as4MessageIds.length > 0 ? { as4MessageIds } : {}),
          };
          writeLine(ctx.stdout, JSON.stringify(json, null, 2));
          return;
        }
        writeLine(
          ctx.stdout,
          `${journey.status}  ${journey.id}${journey.messageId !== journey.id ? `  (message ${journey.messageId})` : ''}`,
        );
        const width = Math.max(0, ...journey.events.map((e) => e.meaning.length));
        const stations = Math.max(0, ...journey.events.map((e) => e.station.length));
        for (const e of journey.events) {
          writeLine(
            ctx.stdout,
            `  ${e.time}  ${(e.code ?? '-').padEnd(5)} ${e.meaning.padEnd(width)}  ${e.station.padEnd(stations)}  ${e.outcome}`,
          );
        }
        if (journey.missing.length > 0) {
          writeLine(ctx.stdout, 'missing:');
          for (const m of journey.missing) {
            writeLine(ctx.stdout, `  ${m.code.padEnd(5)} ${m.meaning}  ${m.station}  due by ${m.dueBy}`);
          }
        }
        for (const a of as4MessageIds) writeLine(ctx.stdout, `AS4 MessageId: ${a}`);
      } finally {
        await net.close();
      }
    });
}

type Net = import('@ehmi/network/client').NetworkClient;

/** `GET /messages/{id}` at the organisation's own MSH, as that organisation. */
async function readOwnMessage(net: Net, org: string, id: string): Promise<unknown> {
  const res = await net.call(org, 'GET', `/messages/${encodeURIComponent(id)}`);
  if (res.status === 200) return res.json;
  if (res.status === 404 || res.status === 400) {
    throw new EhmiError('EHMI_NOT_FOUND', `${org}'s MSH knows no message ${id}`);
  }
  throw new EhmiError('EHMI_UNAVAILABLE', `${org}'s MSH answered ${res.status} to GET /messages/${id}`);
}

/** The sending MSH's own status and timeline (`GET /messages/{id}`), for a network without EDS. */
async function mshTimeline(ctx: CliContext, net: Net, id: string, json: boolean): Promise<void> {
  const { organisation, message } = await net.findMessage(id);
  const m = message as MessageStatus;
  const events = (m.events ?? []).map((e) => ({
    code: e.code,
    station: e.station,
    time: e.time,
    outcome: e.outcome,
    ...(e.detail ? { detail: e.detail } : {}),
  }));
  const as4MessageIds = as4MessageIdsOf(m);
  if (json) {
    const out = {
      id: m.id,
      status: m.status,
      events: events.map(({ code, station, time, outcome }) => ({ code, station, time, outcome })),
      ...(as4MessageIds.length > 0 ? { as4MessageIds } : {}),
    };
    writeLine(ctx.stdout, JSON.stringify(out, null, 2));
    return;
  }
  const name = (p?: string) => (p ? (net.byParticipant(p)?.name ?? p) : '?');
  const extra = [
    m.needsAction ? `needs action: ${m.needsAction}` : '',
    m.acknowledgement ? `acknowledgement ${m.acknowledgement.code}` : '',
    m.failure ? `failure: ${m.failure.reason}${m.failure.ebmsCode ? ` (${m.failure.ebmsCode})` : ''}` : '',
    m.resends ? `resent ${m.resends}×` : '',
  ].filter(Boolean);
  writeLine(
    ctx.stdout,
    `${m.status}  ${m.id}  ${m.type ?? ''} ${name(m.sender ?? `0088:${organisation.gln}`)} → ${name(m.receiver)}${extra.length ? `  (${extra.join('; ')})` : ''}`,
  );
  // Each step's meaning beside its code (the MSH's own definition of its timeline steps).
  const { stepMeaning, TIMELINE_STEPS } = await import('@ehmi/server/steps');
  const width = Math.max(...Object.values(TIMELINE_STEPS).map((s) => s.length));
  for (const e of events) {
    writeLine(
      ctx.stdout,
      `  ${e.time}  ${stepMeaning(e.code).padEnd(width)}  ${e.code.padEnd(5)} ${e.station.padEnd(4)} ${e.outcome}${e.detail ? `  ${e.detail}` : ''}`,
    );
  }
  for (const a of as4MessageIds) writeLine(ctx.stdout, `AS4 MessageId: ${a}`);
}
