import { DataTable, ErrorBox, Loading, PageHeader } from '../components/common.tsx';
import { useApi } from '../hooks.ts';
import { type Key, useI18n } from '../i18n.ts';

export interface CertificateView {
  subject: string;
  issuer?: string;
  notAfter: string;
  daysLeft: number;
}

export interface RegistersView {
  organisations: {
    id: string;
    name: string;
    gln?: string;
    sor?: string;
    identifiers: { system: string; value: string }[];
    publication: { target: string; status: string; reason?: string }[];
    endpoints: {
      id: string;
      address: string;
      status: string;
      messageTypes: string[];
      accessPoint?: string;
    }[];
  }[];
  accessPoints: { id: string; name: string; owner?: string; certificate?: CertificateView }[];
}

export function Expiry({ certificate }: { certificate?: CertificateView }) {
  const { t, time } = useI18n();
  if (!certificate) return <span className="muted">—</span>;
  const cls = certificate.daysLeft < 0 ? 'bad' : certificate.daysLeft < 30 ? 'warn' : 'good';
  return (
    <span>
      {time(certificate.notAfter)}{' '}
      <span className={`badge ${cls}`}>
        {certificate.daysLeft < 0 ? t('expired') : `${certificate.daysLeft} ${t('daysLeft')}`}
      </span>
    </span>
  );
}

const SHORT: Record<string, string> = {
  'urn:oid:1.2.208.176.1.1': 'SOR',
  'https://www.gs1.org/gln': 'GLN',
  'http://www.gs1.org/gln': 'GLN',
  'urn:oid:1.2.208.176.1.4': 'Ydernummer',
};

/**
 * A message definition URI as people name it: `…structuredefinition::homecareobservation-message##…::1.1` is
 * "homecareobservation-message 1.1" (the whole URI stays in the title).
 */
export function messageTypeName(uri: string): string {
  const m = /([A-Za-z0-9._-]+)::([0-9][0-9.]*)$/.exec(uri);
  return m ? `${m[1]} ${m[2]}` : uri;
}

export function RegistersPage() {
  const { t } = useI18n();
  const { data, error, reload } = useApi<RegistersView>('/registers');
  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const aps = new Map(data.accessPoints.map((a) => [a.id, a]));
  return (
    <>
      <PageHeader title={t('registersTitle')} intro={t('registersIntro')} />
      <section className="card" aria-labelledby="orgs-title">
        <h2 id="orgs-title">{t('organisations')}</h2>
        <DataTable
          testId="organisations"
          columns={[t('name'), t('identifiers'), t('endpoints'), t('messageTypes'), t('publication')]}
        >
          {data.organisations.map((o) => (
            <tr key={o.id}>
              <td>
                <strong>{o.name}</strong>
              </td>
              <td className="small">
                {o.identifiers.map((i) => (
                  <div key={`${i.system}|${i.value}`}>
                    <span className="muted">{SHORT[i.system] ?? i.system.split(/[/:]/).pop()}</span>{' '}
                    <span className="mono">{i.value}</span>
                  </div>
                ))}
              </td>
              <td className="small">
                {o.endpoints.map((e) => (
                  <div key={e.id}>
                    <span className="mono">{e.address}</span>
                    {e.accessPoint ? (
                      <span className="muted"> · {aps.get(e.accessPoint)?.name ?? e.accessPoint}</span>
                    ) : null}
                  </div>
                ))}
              </td>
              <td className="small">
                {[...new Set(o.endpoints.flatMap((e) => e.messageTypes))].map((m) => (
                  <div key={m} title={m}>
                    {messageTypeName(m)}
                  </div>
                ))}
              </td>
              <td>
                {o.publication.length === 0 ? <span className="muted">—</span> : null}
                {o.publication.map((p) => (
                  <div key={p.target} title={p.reason}>
                    <span className="muted small">{p.target}</span>{' '}
                    <span className={`badge pub-${p.status}`}>
                      {t(`publication.${p.status}` as Key) ?? p.status}
                    </span>
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </DataTable>
      </section>
      <section className="card" aria-labelledby="aps-title">
        <h2 id="aps-title">{t('accessPoints')}</h2>
        <DataTable
          testId="access-points"
          columns={[t('name'), t('organisation'), t('certificate'), t('expires')]}
        >
          {data.accessPoints.map((a) => (
            <tr key={a.id}>
              <td>{a.name}</td>
              <td>{a.owner ?? '—'}</td>
              <td className="small mono">{a.certificate?.subject ?? '—'}</td>
              <td>
                <Expiry certificate={a.certificate} />
              </td>
            </tr>
          ))}
        </DataTable>
      </section>
    </>
  );
}
