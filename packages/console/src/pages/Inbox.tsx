import { useEffect, useState } from 'react';
import { apiText, type InboxList, post, type SessionUser } from '../api.ts';
import { DataTable, ErrorBox, Loading, PageHeader, Party } from '../components/common.tsx';
import { useApi, useOrganisations } from '../hooks.ts';
import { useI18n } from '../i18n.ts';
import { readMessage } from '../medcom.ts';
import { href, navigate } from '../router.ts';

/** The organisations whose inbox the user may open: its own, or any for the network operator. */
function OrganisationPicker({ current }: { current?: string }) {
  const { t } = useI18n();
  const { list } = useOrganisations();
  const withInbox = list.filter((o) => o.services.includes('msh'));
  return (
    <label className="inline-field">
      <span>{t('organisation')}</span>
      <select
        value={current ?? ''}
        onChange={(e) => navigate(href('inbox', e.target.value))}
        data-testid="inbox-organisation"
      >
        {current ? null : <option value="">{t('chooseOrganisation')}</option>}
        {withInbox.map((o) => (
          <option key={o.key} value={o.key}>
            {o.name}
          </option>
        ))}
      </select>
    </label>
  );
}

export function InboxPage({ organisation, user }: { organisation?: string; user: SessionUser }) {
  const { t, time } = useI18n();
  const { list, names } = useOrganisations();
  // An organisation user lands in its own inbox.
  useEffect(() => {
    if (organisation || list.length === 0) return;
    const own = user.organisation ? list.find((o) => o.gln === user.organisation?.gln) : undefined;
    const only = list.filter((o) => o.services.includes('msh'));
    const target = own ?? (only.length === 1 ? only[0] : undefined);
    if (target) navigate(href('inbox', target.key));
  }, [organisation, list, user]);
  // Pages of older items: the cursors of the pages before this one, so "newer" goes back.
  const [pages, setPages] = useState<string[]>([]);
  const after = pages[pages.length - 1];
  useEffect(() => {
    if (organisation !== undefined) setPages([]);
  }, [organisation]);
  const {
    data: page,
    error,
    reload,
    loading,
  } = useApi<InboxList>(
    organisation
      ? `/inbox/${encodeURIComponent(organisation)}${after ? `?after=${encodeURIComponent(after)}` : ''}`
      : null,
    5000,
  );
  const data = page?.items;
  return (
    <>
      <PageHeader title={t('inboxTitle')} intro={t('inboxIntro')}>
        <OrganisationPicker current={organisation} />
      </PageHeader>
      {!organisation ? null : error ? (
        <ErrorBox error={error} onRetry={reload} />
      ) : !data && loading ? (
        <Loading />
      ) : data ? (
        <>
          <DataTable
            testId="inbox"
            empty={data.length === 0 ? <p className="empty">{t('emptyInbox')}</p> : null}
            caption={t('inboxTitle')}
            columns={[t('received'), t('messageType'), t('sender'), t('messageId')]}
          >
            {data.map((item) => (
              <tr key={item.id} data-message-id={item.messageHeaderId ?? ''}>
                <td className="nowrap">{time(item.receivedAt)}</td>
                <td>
                  <a href={href('inbox', organisation, item.id)}>{item.type}</a>
                </td>
                <td>
                  <Party id={item.sender} names={names} />
                </td>
                <td className="mono small">{item.messageHeaderId ?? '—'}</td>
              </tr>
            ))}
          </DataTable>
          <nav className="pager" aria-label={t('page')}>
            <button
              type="button"
              disabled={pages.length === 0}
              onClick={() => setPages((p) => p.slice(0, -1))}
            >
              {t('previous')}
            </button>
            <button
              type="button"
              disabled={!page?.next}
              onClick={() => page?.next && setPages((p) => [...p, page.next as string])}
            >
              {t('next')}
            </button>
          </nav>
        </>
      ) : null}
    </>
  );
}

type View = 'rendered' | 'json' | 'xml';

export function InboxItemPage({
  organisation,
  id,
  user,
}: {
  organisation: string;
  id: string;
  user: SessionUser;
}) {
  const { t, time } = useI18n();
  const base = `/inbox/${encodeURIComponent(organisation)}/${encodeURIComponent(id)}`;
  const { data, error, reload } = useApi<Record<string, unknown>>(base);
  const [view, setView] = useState<View>('rendered');
  const [raw, setRaw] = useState<Partial<Record<View, string>>>({});
  const [acked, setAcked] = useState<string>();
  const [actionError, setActionError] = useState<unknown>();
  // Acknowledging is the receiving organisation's act: its operator, acting as its EUA (the MSH records who); never
  // the network operator (DESIGN-NOTES.md "The operator's actions").
  const mayAct = user.roles.includes('org-operator');

  useEffect(() => {
    if (view === 'xml' && raw.xml === undefined) {
      apiText(`${base}?format=xml`)
        .then((x) => setRaw((r) => ({ ...r, xml: x })))
        .catch(setActionError);
    }
  }, [view, raw.xml, base]);

  const acknowledge = async () => {
    setActionError(undefined);
    try {
      const answer = await post<{ id: string }>(`${base}/acknowledge`, {});
      setAcked(answer.id);
    } catch (e) {
      setActionError(e);
    }
  };

  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const m = readMessage(data);

  return (
    <>
      <p>
        <a href={href('inbox', organisation)}>← {t('inboxTitle')}</a>
      </p>
      <PageHeader title={m.title} intro={m.sent ? `${t('issued')} ${time(m.sent)}` : undefined}>
        {mayAct ? (
          <button type="button" className="primary" onClick={acknowledge} disabled={acked !== undefined}>
            {t('acknowledge')}
          </button>
        ) : null}
      </PageHeader>
      {acked ? (
        <p className="ok-text" role="status" data-testid="acknowledged">
          {t('acknowledged')} <span className="mono small">{acked}</span>
        </p>
      ) : null}
      {actionError ? <ErrorBox error={actionError} /> : null}
      <div className="tabs" role="tablist" aria-label={t('viewAs')}>
        {(['rendered', 'json', 'xml'] as const).map((v) => (
          <button
            key={v}
            type="button"
            role="tab"
            aria-selected={view === v}
            aria-controls="message-view"
            id={`tab-${v}`}
            onClick={() => setView(v)}
          >
            {v === 'rendered' ? t('rendered') : v === 'json' ? t('rawJson') : t('rawXml')}
          </button>
        ))}
      </div>
      <div id="message-view" role="tabpanel" aria-labelledby={`tab-${view}`}>
        {view === 'rendered' ? (
          <article className="letter" data-testid="medcom-message">
            <dl className="facts">
              {m.patient ? (
                <div>
                  <dt>{t('patient')}</dt>
                  <dd>
                    <strong>{m.patient.name}</strong>
                    {m.patient.cpr ? <span className="mono"> {m.patient.cpr}</span> : null}
                    {m.patient.birthDate ? ` · ${t('birthDate')} ${m.patient.birthDate}` : null}
                  </dd>
                </div>
              ) : null}
              {m.sender ? (
                <div>
                  <dt>{t('sender')}</dt>
                  <dd>{m.sender}</dd>
                </div>
              ) : null}
              {m.receiver ? (
                <div>
                  <dt>{t('receiver')}</dt>
                  <dd>{m.receiver}</dd>
                </div>
              ) : null}
            </dl>
            {m.observations.length > 0 ? (
              <section aria-labelledby="obs-title">
                <h2 id="obs-title">{t('observations')}</h2>
                <DataTable
                  testId="observations"
                  columns={[
                    t('test'),
                    { label: t('value'), className: 'num' },
                    t('unit'),
                    t('reference'),
                    t('interpretation'),
                    t('time'),
                  ]}
                >
                  {m.observations.map((o, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: the order is the message's
                    <tr key={i} className={o.abnormal ? 'abnormal' : undefined}>
                      <td>
                        {o.test}
                        {o.code ? <span className="muted mono small"> {o.code}</span> : null}
                        {o.note ? <div className="muted small">{o.note}</div> : null}
                      </td>
                      <td className="num">
                        <strong>{o.value}</strong>
                      </td>
                      <td>{o.unit}</td>
                      <td>{o.reference}</td>
                      <td>{o.interpretation}</td>
                      <td className="nowrap">{o.time ? time(o.time) : ''}</td>
                    </tr>
                  ))}
                </DataTable>
              </section>
            ) : null}
            {m.narrative.length > 0 ? (
              <section aria-labelledby="narrative-title">
                <h2 id="narrative-title">{t('narrative')}</h2>
                {m.narrative.map((n) => (
                  <p key={n}>{n}</p>
                ))}
              </section>
            ) : null}
          </article>
        ) : (
          <pre className="raw" data-testid={`raw-${view}`}>
            {view === 'json' ? JSON.stringify(data, null, 2) : (raw.xml ?? t('loading'))}
          </pre>
        )}
      </div>
    </>
  );
}
