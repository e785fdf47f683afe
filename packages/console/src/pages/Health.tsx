import { useMemo } from 'react';
import { type Series, TimeChart } from '../components/Chart.tsx';
import { ErrorBox, Loading, PageHeader } from '../components/common.tsx';
import { PartnerPings } from '../components/PartnerPings.tsx';
import { useApi } from '../hooks.ts';
import { useI18n } from '../i18n.ts';
import { type CertificateView, Expiry } from './Registers.tsx';

export interface HealthView {
  nodes: {
    key: string;
    name: string;
    roles: string[];
    services: { name: string; state: 'ok' | 'unavailable'; reason?: string }[];
    queues: { queue: string; ready: number; running: number; dead: number }[];
    failures: number;
    database: { state: 'ok' | 'unavailable'; reason?: string };
    metricsError?: string;
  }[];
  certificates: { name: string; certificate: CertificateView }[];
  series: {
    times: number[];
    nodes: {
      key: string;
      requests: (number | null)[];
      latencyMs: (number | null)[];
      failures: (number | null)[];
    }[];
  };
}

export function HealthPage() {
  const { t } = useI18n();
  const { data, error, reload } = useApi<HealthView>('/health', 10000);
  const charts = useMemo(() => {
    if (!data) return undefined;
    const pick = (f: 'requests' | 'latencyMs' | 'failures'): Series[] =>
      data.series.nodes.map((n) => ({ label: n.key, values: n[f] }));
    return { requests: pick('requests'), latency: pick('latencyMs'), failures: pick('failures') };
  }, [data]);
  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  if (!data || !charts) return <Loading />;
  return (
    <>
      <PageHeader title={t('healthTitle')} intro={t('healthIntro')} />
      <div className="node-grid" data-testid="nodes">
        {data.nodes.map((n) => {
          const down = n.services.some((s) => s.state !== 'ok') || n.database.state !== 'ok';
          return (
            <section
              key={n.key}
              className={`card node ${down ? 'node-down' : 'node-ok'}`}
              aria-labelledby={`node-${n.key}`}
            >
              <h2 id={`node-${n.key}`}>
                <span className={`dot ${down ? 'bad' : 'good'}`} aria-hidden="true" /> {n.name}
              </h2>
              <p className="muted small">
                {t('roles')}: {n.roles.join(', ') || '—'}
              </p>
              <table className="data compact">
                <caption className="visually-hidden">
                  {n.name} {t('service')}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">{t('service')}</th>
                    <th scope="col">{t('state')}</th>
                  </tr>
                </thead>
                <tbody>
                  {n.services.map((s) => (
                    <tr key={s.name}>
                      <td>{s.name}</td>
                      <td>
                        <span className={`badge ${s.state === 'ok' ? 'good' : 'bad'}`}>
                          {s.state === 'ok' ? t('ok') : t('unavailable')}
                        </span>
                        {s.reason ? <span className="small muted"> {s.reason}</span> : null}
                      </td>
                    </tr>
                  ))}
                  <tr>
                    <td>{t('database')}</td>
                    <td>
                      <span className={`badge ${n.database.state === 'ok' ? 'good' : 'bad'}`}>
                        {n.database.state === 'ok' ? t('ok') : t('unavailable')}
                      </span>
                      {n.database.reason ? <span className="small muted"> {n.database.reason}</span> : null}
                    </td>
                  </tr>
                </tbody>
              </table>
              {n.queues.length === 0 && !n.metricsError ? (
                <p className="small muted">
                  {t('queues')}: {t('nothingWaiting')}
                </p>
              ) : null}
              {n.queues.length > 0 ? (
                <table className="data compact">
                  <caption className="small">{t('queues')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('queue')}</th>
                      <th scope="col" className="num">
                        {t('ready')}
                      </th>
                      <th scope="col" className="num">
                        {t('running')}
                      </th>
                      <th scope="col" className="num">
                        {t('dead')}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {n.queues.map((q) => (
                      <tr key={q.queue}>
                        <td className="mono small">{q.queue}</td>
                        <td className="num">{q.ready}</td>
                        <td className="num">{q.running}</td>
                        <td className={`num${q.dead > 0 ? ' bad-text' : ''}`}>{q.dead}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
              <p className="small">
                {t('failures')}: <strong>{n.failures}</strong>
              </p>
              {n.metricsError ? <p className="small muted">/metrics: {n.metricsError}</p> : null}
            </section>
          );
        })}
      </div>
      <section className="card" aria-labelledby="charts-title">
        <h2 id="charts-title">{t('trafficTitle')}</h2>
        <p className="muted small">{t('sampledNote')}</p>
        {data.series.times.length < 2 ? (
          <p className="muted">{t('noSamplesYet')}</p>
        ) : (
          <div className="charts">
            <TimeChart
              title={t('volumeChart')}
              times={data.series.times}
              series={charts.requests}
              unit="/min"
            />
            <TimeChart
              title={t('latencyChart')}
              times={data.series.times}
              series={charts.latency}
              unit="ms"
            />
            <TimeChart
              title={t('failuresChart')}
              times={data.series.times}
              series={charts.failures}
              unit="/min"
            />
          </div>
        )}
      </section>
      <PartnerPings />
      <section className="card" aria-labelledby="certs-title">
        <h2 id="certs-title">{t('certificatesExpiring')}</h2>
        <table className="data" data-testid="certificates">
          <thead>
            <tr>
              <th scope="col">{t('name')}</th>
              <th scope="col">{t('certificate')}</th>
              <th scope="col">{t('expires')}</th>
            </tr>
          </thead>
          <tbody>
            {[...data.certificates]
              .sort((a, b) => a.certificate.daysLeft - b.certificate.daysLeft)
              .map((c) => (
                <tr key={c.name}>
                  <td>{c.name}</td>
                  <td className="mono small">{c.certificate.subject}</td>
                  <td>
                    <Expiry certificate={c.certificate} />
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
