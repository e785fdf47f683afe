import { type FormEvent, useState } from 'react';
import type { MessagePage, SessionUser } from '../api.ts';
import { DataTable, ErrorBox, Loading, PageHeader, Party, StatusBadge } from '../components/common.tsx';
import { useApi, useOrganisations } from '../hooks.ts';
import { type Key, useI18n } from '../i18n.ts';
import { href, navigate } from '../router.ts';

const PAGE_SIZE = 50;
const STATUSES = ['accepted', 'sent', 'receipted', 'acknowledged', 'failed'];
const FILTERS = ['sender', 'receiver', 'type', 'status', 'from', 'to', 'patient'] as const;

/** The messages list: filters in the address (a link shows the same list), paging, and a poll every 5 s. */
export function MessagesPage({ user, query }: { user: SessionUser; query: URLSearchParams }) {
  const { t, time } = useI18n();
  const { names } = useOrganisations();
  // The page is a cursor the server gave (each MSH pages its own list): `after` in the address, `first` back to the
  // newest messages. Going back a page is the browser's Back.
  const after = query.get('after') ?? '';
  const params = new URLSearchParams();
  for (const f of FILTERS) {
    const v = query.get(f);
    if (v) params.set(f, f === 'from' || f === 'to' ? new Date(v).toISOString() : v);
  }
  if (after) params.set('after', after);
  params.set('limit', String(PAGE_SIZE));
  const { data, error, reload, loading } = useApi<MessagePage>(`/messages?${params}`, 5000);

  const go = (next: URLSearchParams) => navigate(`#/messages?${next}`);
  const page = (cursor: string | null) => {
    const next = new URLSearchParams(query);
    if (cursor) next.set('after', cursor);
    else next.delete('after');
    go(next);
  };

  return (
    <>
      <PageHeader title={t('messagesTitle')} intro={t('messagesIntro')}>
        <span className="live muted" aria-live="off">
          <span className="dot" aria-hidden="true" /> {t('liveUpdates')}
        </span>
      </PageHeader>
      <Filters
        query={query}
        onApply={go}
        facets={data?.facets}
        patientAllowed={user.patientData === true}
        names={names}
      />
      {error ? <ErrorBox error={error} onRetry={reload} /> : null}
      {data?.unavailable.length ? (
        <div className="notice" role="status">
          {t('notReachable')}: {data.unavailable.map((u) => `${u.organisation} (${u.reason})`).join(', ')}
        </div>
      ) : null}
      {!data && loading ? <Loading /> : null}
      {data ? (
        <>
          <DataTable
            testId="messages"
            empty={data.items.length === 0 ? <p className="empty">{t('noMessages')}</p> : null}
            caption={t('messagesTitle')}
            columns={[
              t('created'),
              t('messageType'),
              t('sender'),
              t('receiver'),
              t('status'),
              t('trackingId'),
            ]}
          >
            {data.items.map((m) => (
              <tr
                key={`${m.organisation}/${m.id}`}
                data-message-id={m.messageHeaderId ?? m.id}
                data-id={m.id}
              >
                <td className="nowrap">{time(m.createdAt)}</td>
                <td>{m.type}</td>
                <td>
                  <Party id={m.sender} names={names} />
                </td>
                <td>
                  <Party id={m.receiver} names={names} />
                </td>
                <td>
                  <StatusBadge status={m.status} />
                  {m.needsAction ? (
                    <span className="badge warn">{t(`needs.${m.needsAction}` as Key)}</span>
                  ) : null}
                </td>
                <td>
                  <a className="mono" href={href('journey', m.organisation, m.id)}>
                    {m.id}
                  </a>
                </td>
              </tr>
            ))}
          </DataTable>
          <nav className="pager" aria-label={t('page')}>
            <span className="muted" aria-live="polite">
              {t('shown')} {data.items.length}
            </span>
            <button type="button" disabled={!after} onClick={() => page(null)}>
              {t('newest')}
            </button>
            <button
              type="button"
              disabled={!data.next}
              onClick={() => page(data.next)}
              data-testid="next-page"
            >
              {t('next')}
            </button>
          </nav>
        </>
      ) : null}
    </>
  );
}

function Filters({
  query,
  onApply,
  facets,
  patientAllowed,
  names,
}: {
  query: URLSearchParams;
  onApply: (q: URLSearchParams) => void;
  facets?: MessagePage['facets'];
  patientAllowed: boolean;
  names: Record<string, string>;
}) {
  const { t } = useI18n();
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])),
  );
  const set = (k: string) => (e: { target: { value: string } }) =>
    setValues((v) => ({ ...v, [k]: e.target.value }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(values)) if (v) next.set(k, v);
    onApply(next);
  };
  const clear = () => {
    setValues(Object.fromEntries(FILTERS.map((f) => [f, ''])));
    onApply(new URLSearchParams());
  };
  const options = (list: string[] | undefined, current: string) => {
    const all = new Set(list ?? []);
    if (current) all.add(current);
    return [...all].sort().map((v) => (
      <option key={v} value={v}>
        {names[v.replace(/^0088:/, '')] ? `${names[v.replace(/^0088:/, '')]} (${v})` : v}
      </option>
    ));
  };
  return (
    <form className="filters" onSubmit={submit} aria-label={t('filters')}>
      <label>
        <span>{t('sender')}</span>
        <select value={values.sender} onChange={set('sender')} name="sender">
          <option value="">{t('anyValue')}</option>
          {options(facets?.senders, values.sender ?? '')}
        </select>
      </label>
      <label>
        <span>{t('receiver')}</span>
        <select value={values.receiver} onChange={set('receiver')} name="receiver">
          <option value="">{t('anyValue')}</option>
          {options(facets?.receivers, values.receiver ?? '')}
        </select>
      </label>
      <label>
        <span>{t('messageType')}</span>
        <select value={values.type} onChange={set('type')} name="type">
          <option value="">{t('anyValue')}</option>
          {options(facets?.types, values.type ?? '')}
        </select>
      </label>
      <label>
        <span>{t('status')}</span>
        <select value={values.status} onChange={set('status')} name="status">
          <option value="">{t('anyValue')}</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}` as Key)}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>{t('from')}</span>
        <input type="datetime-local" value={values.from} onChange={set('from')} name="from" />
      </label>
      <label>
        <span>{t('to')}</span>
        <input type="datetime-local" value={values.to} onChange={set('to')} name="to" />
      </label>
      {patientAllowed ? (
        <label>
          <span>{t('patient')}</span>
          <input
            value={values.patient}
            onChange={set('patient')}
            name="patient"
            inputMode="numeric"
            pattern="\d{10}"
            autoComplete="off"
            size={11}
          />
        </label>
      ) : null}
      <div className="filter-buttons">
        <button type="submit" className="primary">
          {t('apply')}
        </button>
        <button type="button" className="ghost" onClick={clear}>
          {t('clear')}
        </button>
      </div>
    </form>
  );
}
