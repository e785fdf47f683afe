import { useApi, useOrganisations } from '../hooks.ts';
import { type Lang, useI18n } from '../i18n.ts';
import { ErrorBox, Party } from './common.tsx';

/** One organisation's pings of its partners (`/api/pings`: each MSH's `GET /pings`). */
interface OrganisationPings {
  key: string;
  name: string;
  pings: {
    receiver: string;
    lastOk?: { at: string; roundTripMs: number; receiptTime: string; as4MessageId: string };
    lastAttemptAt: string;
    lastError?: string;
  }[];
  error?: string;
}

/** This component's own labels, both languages (it stands apart from the page's dictionary). */
const LABELS: Record<
  Lang,
  Record<
    | 'title'
    | 'intro'
    | 'from'
    | 'partner'
    | 'lastOk'
    | 'roundTrip'
    | 'receipt'
    | 'lastError'
    | 'never'
    | 'none',
    string
  >
> = {
  en: {
    title: 'Connectivity (AS4 ping)',
    intro: "Each partner's last successful ping: the ebMS test service, sent with `ehmi ping`.",
    from: 'From',
    partner: 'Partner',
    lastOk: 'Last successful ping',
    roundTrip: 'Round trip',
    receipt: "Receipt's time",
    lastError: 'Last attempt',
    never: 'never',
    none: 'No partner has been pinged yet.',
  },
  da: {
    title: 'Forbindelse (AS4-ping)',
    intro: 'Hver partners seneste vellykkede ping: ebMS-testservicen, sendt med `ehmi ping`.',
    from: 'Fra',
    partner: 'Partner',
    lastOk: 'Seneste vellykkede ping',
    roundTrip: 'Svartid',
    receipt: 'Kvitteringens tid',
    lastError: 'Seneste forsøg',
    never: 'aldrig',
    none: 'Ingen partner er pinget endnu.',
  },
};

/** Each partner's last successful ping, by the organisation whose access point sent it. */
export function PartnerPings() {
  const { lang, time } = useI18n();
  const l = LABELS[lang];
  const { names } = useOrganisations();
  const { data, error, reload } = useApi<OrganisationPings[]>('/pings', 10000);
  const rows = (data ?? []).flatMap((o) => o.pings.map((p) => ({ from: o, ping: p })));
  return (
    <section className="card" aria-labelledby="pings-title" data-testid="pings">
      <h2 id="pings-title">{l.title}</h2>
      <p className="muted small">{l.intro}</p>
      {error && !data ? <ErrorBox error={error} onRetry={reload} /> : null}
      {(data ?? [])
        .filter((o) => o.error)
        .map((o) => (
          <p key={o.key} className="small muted">
            {o.name}: {o.error}
          </p>
        ))}
      {data && rows.length === 0 ? <p className="muted">{l.none}</p> : null}
      {rows.length > 0 ? (
        <table className="data compact">
          <thead>
            <tr>
              <th scope="col">{l.from}</th>
              <th scope="col">{l.partner}</th>
              <th scope="col">{l.lastOk}</th>
              <th scope="col" className="num">
                {l.roundTrip}
              </th>
              <th scope="col">{l.receipt}</th>
              <th scope="col">{l.lastError}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ from, ping }) => (
              <tr key={`${from.key} ${ping.receiver}`}>
                <td>{from.name}</td>
                <td>
                  <Party id={ping.receiver} names={names} />
                </td>
                <td>{ping.lastOk ? time(ping.lastOk.at) : l.never}</td>
                <td className="num">{ping.lastOk ? `${ping.lastOk.roundTripMs} ms` : '—'}</td>
                <td>{ping.lastOk ? time(ping.lastOk.receiptTime) : '—'}</td>
                <td className={ping.lastError ? 'bad-text small' : 'small'}>
                  {time(ping.lastAttemptAt)}
                  {ping.lastError ? ` — ${ping.lastError}` : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
