import { useState } from 'react';
import { type Journey, type JourneyEvent, type MessageDetail, post, type SessionUser } from '../api.ts';
import { DataTable, ErrorBox, Loading, PageHeader, Party, StatusBadge } from '../components/common.tsx';
import { useApi, useOrganisations } from '../hooks.ts';
import { type Key, stepMeaningDa, useI18n } from '../i18n.ts';
import { href } from '../router.ts';

/** The six stations of a MedCom message's path, left to right: the sender's side, then the receiver's. */
const COLUMNS = ['EUA', 'MSH', 'AP', 'AP', 'MSH', 'EUA'] as const;
const COLUMN_KEYS = ['sender-eua', 'sender-msh', 'sender-ap', 'receiver-ap', 'receiver-msh', 'receiver-eua'];

/** The flows of ehmi-core §1.2 and the column of each of their steps (the receipt and acknowledgement go back). */
const FLOWS: { flow: string; first: number; columns: number[] }[] = [
  { flow: 'message', first: 1, columns: [0, 1, 2, 3, 4, 5] },
  { flow: 'receipt', first: 7, columns: [4, 3, 2, 1] },
  { flow: 'acknowledgement', first: 11, columns: [5, 4, 3, 2, 1, 0] },
  { flow: 'ack-receipt', first: 17, columns: [1, 2, 3, 4] },
];

type State = 'success' | 'failure' | 'missing' | 'pending';

interface Step {
  code: string;
  state: State;
  station: string;
  time?: string;
  dueBy?: string;
  meaning: string;
  late?: boolean;
}

/** Each step of the journey once: the recorded event (a failure wins), else the gap the table expects. */
function stepsOf(journey: Journey): Map<string, Step> {
  const steps = new Map<string, Step>();
  const byCode = new Map<string, JourneyEvent[]>();
  for (const e of journey.events) {
    if (!e.code) continue;
    const list = byCode.get(e.code) ?? [];
    list.push(e);
    byCode.set(e.code, list);
  }
  for (const [code, events] of byCode) {
    const last = events[events.length - 1] as JourneyEvent;
    const failed = events.find((e) => e.outcome === 'failure');
    const shown = last.outcome === 'success' ? last : (failed ?? last);
    steps.set(code, {
      code,
      state: shown.outcome,
      station: shown.station,
      time: shown.time,
      meaning: shown.meaning,
    });
  }
  for (const g of journey.missing) {
    if (!steps.has(g.code))
      steps.set(g.code, {
        code: g.code,
        state: 'missing',
        station: g.station,
        dueBy: g.dueBy,
        meaning: g.meaning,
      });
  }
  for (const g of journey.pending) {
    if (!steps.has(g.code))
      steps.set(g.code, {
        code: g.code,
        state: 'pending',
        station: g.station,
        dueBy: g.dueBy,
        meaning: g.meaning,
      });
  }
  for (const s of steps.values()) {
    if (s.time && s.dueBy && s.time > s.dueBy) s.late = true;
  }
  return steps;
}

function columnStation(steps: Map<string, Step>, column: number): string | undefined {
  for (const f of FLOWS) {
    const index = f.columns.indexOf(column);
    if (index < 0) continue;
    for (const sub of ['1', '2']) {
      const s = steps.get(`${String(f.first + index).padStart(2, '0')}.${sub}`);
      if (s?.station) return s.station;
    }
  }
  return undefined;
}

export function JourneyPage({
  organisation,
  id,
  user,
}: {
  organisation: string;
  id: string;
  user: SessionUser;
}) {
  const { t, time, lang } = useI18n();
  const { names } = useOrganisations();
  const path = `/messages/${encodeURIComponent(organisation)}/${encodeURIComponent(id)}`;
  const { data, error, reload } = useApi<MessageDetail>(path, 5000);
  const [done, setDone] = useState<string>();
  const [actionError, setActionError] = useState<unknown>();
  const meaning = (s: { code: string | null; meaning: string }) =>
    lang === 'da' ? (stepMeaningDa(s.code) ?? s.meaning) : s.meaning;

  const retry = async (job?: string) => {
    setActionError(undefined);
    try {
      await post(`${path}/retry`, job ? { job } : {});
      setDone(t('retryDone'));
      reload();
    } catch (e) {
      setActionError(e);
    }
  };

  const resend = async () => {
    setActionError(undefined);
    try {
      await post(`${path}/resend`);
      setDone(t('resendDone'));
      reload();
    } catch (e) {
      setActionError(e);
    }
  };

  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const m = data.message;
  const steps = data.journey ? stepsOf(data.journey) : new Map<string, Step>();
  const status = data.journey?.status ?? m.status;
  // Resending and retrying: the organisation's operator, and the network operator's support desk (the MSH decides;
  // acknowledging stays the receiving organisation's act, on the inbox page).
  const mayAct = user.roles.includes('org-operator') || user.roles.includes('network-operator');
  const dead = data.deadLetters ?? [];

  return (
    <>
      <p>
        <a href={href('messages')}>← {t('backToMessages')}</a>
      </p>
      <PageHeader title={`${t('journeyTitle')}: ${m.type}`} intro={t('journeyIntro')}>
        <StatusBadge status={status} />
      </PageHeader>
      <dl className="facts" data-testid="journey-facts">
        <div>
          <dt>{t('sender')}</dt>
          <dd>
            <Party id={m.sender} names={names} />
          </dd>
        </div>
        <div>
          <dt>{t('receiver')}</dt>
          <dd>
            <Party id={m.receiver} names={names} />
          </dd>
        </div>
        <div>
          <dt>{t('created')}</dt>
          <dd>{time(m.createdAt)}</dd>
        </div>
        <div>
          <dt>{t('trackingId')}</dt>
          <dd className="mono">{m.id}</dd>
        </div>
        <div>
          <dt>{t('messageId')}</dt>
          <dd className="mono">{m.messageHeaderId ?? '—'}</dd>
        </div>
        {m.acknowledgement ? (
          <div>
            <dt>{t('acknowledgementCode')}</dt>
            <dd>
              {m.acknowledgement.code} · {time(m.acknowledgement.at)}
            </dd>
          </div>
        ) : null}
      </dl>
      {m.failure ? (
        <div className="error" role="alert">
          <strong>{t('failureReason')}:</strong> {m.failure.reason}
          {m.failure.ebmsCode ? (
            <>
              {' '}
              ({t('ebmsError')} {m.failure.ebmsCode}
              {data.ebmsMeaning ? `: ${data.ebmsMeaning}` : ''})
            </>
          ) : null}
        </div>
      ) : null}
      {data.journeyError ? (
        <div className="notice" role="status">
          {t('journeyFromMsh')} ({data.journeyError})
        </div>
      ) : null}

      {data.journey ? (
        <section aria-labelledby="stations-title" className="card">
          <h2 id="stations-title">{t('stationsTitle')}</h2>
          <div className="journey-grid" data-testid="journey">
            <div className="jg-corner" />
            {COLUMNS.map((kind, c) => (
              <div key={COLUMN_KEYS[c]} className={`jg-head ${c < 3 ? 'side-sender' : 'side-receiver'}`}>
                <span className="muted small">{c < 3 ? t('senderSide') : t('receiverSide')}</span>
                <strong>{kind}</strong>
                <span className="small">{columnStation(steps, c) ?? ''}</span>
              </div>
            ))}
            {FLOWS.map((f) => (
              <FlowRow
                key={f.flow}
                flow={f}
                steps={steps}
                label={t(`flow.${f.flow}` as Key)}
                meaning={meaning}
              />
            ))}
          </div>
          <ul className="legend" aria-label={t('outcome')}>
            <li>
              <span className="chip success">✓</span> {t('success')}
            </li>
            <li>
              <span className="chip failure">✕</span> {t('failure')}
            </li>
            <li>
              <span className="chip missing">!</span> {t('missing')}
            </li>
            <li>
              <span className="chip pending">…</span> {t('pending')}
            </li>
          </ul>
        </section>
      ) : null}

      <section aria-labelledby="steps-title" className="card">
        <h2 id="steps-title">{t('events')}</h2>
        <DataTable
          testId="journey-steps"
          columns={[t('step'), t('time'), t('station'), t('outcome'), t('meaning')]}
        >
          {data.journey
            ? [...steps.values()]
                .sort((a, b) => a.code.localeCompare(b.code))
                .map((s) => (
                  <tr key={s.code} className={`row-${s.state}`}>
                    <td className="mono">{s.code}</td>
                    <td className="nowrap">
                      {s.time ? time(s.time) : s.dueBy ? `${t('dueBy')} ${time(s.dueBy)}` : '—'}
                    </td>
                    <td>{s.station}</td>
                    <td>
                      <span className={`badge state-${s.state}`}>{t(s.state)}</span>
                      {s.late ? <span className="badge warn">{t('late')}</span> : null}
                    </td>
                    <td>{meaning(s)}</td>
                  </tr>
                ))
            : m.events.map((e) => (
                <tr key={`${e.code}-${e.time}`}>
                  <td className="mono">{e.code}</td>
                  <td className="nowrap">{time(e.time)}</td>
                  <td>MSH</td>
                  <td>{e.outcome ?? ''}</td>
                  <td>{lang === 'da' ? (stepMeaningDa(e.code) ?? e.detail ?? '') : (e.detail ?? '')}</td>
                </tr>
              ))}
        </DataTable>
      </section>

      {dead.length > 0 ? (
        <section aria-labelledby="dead-title" className="card" data-testid="dead-letters">
          <h2 id="dead-title">{t('deadLettersTitle')}</h2>
          <p className="muted">{t('deadLettersIntro')}</p>
          <DataTable
            columns={[t('queue'), t('attempts'), t('time'), t('lastError'), mayAct ? t('actions') : null]}
          >
            {dead.map((j) => (
              <tr key={j.id} data-testid={`dead-${j.queue}`}>
                <td className="mono">{j.queue}</td>
                <td>{j.attempts}</td>
                <td className="nowrap">{j.at ? time(j.at) : '—'}</td>
                <td className="small">{j.error ?? ''}</td>
                {mayAct ? (
                  <td>
                    <button type="button" onClick={() => retry(j.id)}>
                      {t('retryJob')}
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </DataTable>
          {mayAct && dead.length > 1 ? (
            <div className="actions">
              <button type="button" onClick={() => retry()} data-testid="retry-all">
                {t('retryAll')}
              </button>
            </div>
          ) : null}
        </section>
      ) : null}

      {mayAct ? (
        <section aria-labelledby="actions-title" className="card">
          <h2 id="actions-title">{t('actions')}</h2>
          <div className="actions">
            <button type="button" onClick={resend}>
              {t('resend')}
            </button>
          </div>
          {done ? (
            <p role="status" className="ok-text">
              {done}
            </p>
          ) : null}
          {actionError ? <ErrorBox error={actionError} /> : null}
        </section>
      ) : null}
    </>
  );
}

function FlowRow({
  flow,
  steps,
  label,
  meaning,
}: {
  flow: (typeof FLOWS)[number];
  steps: Map<string, Step>;
  label: string;
  meaning: (s: { code: string; meaning: string }) => string;
}) {
  const { t, time } = useI18n();
  const cells: (Step[] | undefined)[] = COLUMNS.map(() => undefined);
  flow.columns.forEach((column, index) => {
    const n = String(flow.first + index).padStart(2, '0');
    const here = ['1', '2'].map((sub) => steps.get(`${n}.${sub}`)).filter((s): s is Step => s !== undefined);
    cells[column] = here;
  });
  const lo = Math.min(...flow.columns);
  const hi = Math.max(...flow.columns);
  const backwards = (flow.columns[0] ?? 0) > (flow.columns[1] ?? 0);
  return (
    <>
      <div className="jg-flow">{label}</div>
      {cells.map((cell, c) => (
        <div
          // biome-ignore lint/suspicious/noArrayIndexKey: the columns are fixed
          key={c}
          className={`jg-cell${c >= lo && c <= hi ? ' on-path' : ''}${c === lo ? ' path-start' : ''}${c === hi ? ' path-end' : ''}${backwards ? ' back' : ''}`}
        >
          {cell?.map((s) => (
            <span
              key={s.code}
              className={`chip ${s.state}${s.late ? ' late' : ''}`}
              data-testid={`step-${s.code}`}
              data-state={s.state}
              data-station={s.station}
              title={`${s.code} · ${s.station} · ${t(s.state)}${s.time ? ` · ${time(s.time)}` : ''} — ${meaning(s)}`}
            >
              <span aria-hidden="true">
                {s.state === 'success'
                  ? '✓'
                  : s.state === 'failure'
                    ? '✕'
                    : s.state === 'missing'
                      ? '!'
                      : '…'}
              </span>{' '}
              {s.code}
              <span className="visually-hidden">
                {' '}
                {s.station} {t(s.state)} {meaning(s)}
              </span>
            </span>
          ))}
        </div>
      ))}
    </>
  );
}
