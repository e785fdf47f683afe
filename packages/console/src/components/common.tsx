import type { ReactNode } from 'react';
import { type Key, useI18n } from '../i18n.ts';

export function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const key = `status.${status}` as Key;
  return <span className={`badge status-${status}`}>{t(key) ?? status}</span>;
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p className="muted" role="status">
      {t('loading')}
    </p>
  );
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  return (
    <div className="error" role="alert">
      <strong>{t('error')}:</strong> {error instanceof Error ? error.message : String(error)}
      {onRetry ? (
        <button type="button" className="ghost" onClick={onRetry}>
          {t('retry')}
        </button>
      ) : null}
    </div>
  );
}

export function PageHeader({
  title,
  intro,
  children,
}: {
  title: string;
  intro?: string;
  children?: ReactNode;
}) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {intro ? <p className="muted">{intro}</p> : null}
      </div>
      {children ? <div className="page-actions">{children}</div> : null}
    </div>
  );
}

/** A GLN or party id as people read it: the organisation's name when known, the id beside it. */
export function Party({ id, names }: { id: string; names?: Record<string, string> }) {
  const bare = id.replace(/^0088:/, '');
  const name = names?.[bare];
  return name ? (
    <span>
      {name} <span className="muted mono">{bare}</span>
    </span>
  ) : (
    <span className="mono">{bare}</span>
  );
}

/** A column of a {@link DataTable}: its heading, and a class for its cells' alignment (`num`). */
export type Column = string | { label: string; className?: string } | null;

/**
 * The console's data table: headed columns (a `null` column is left out, e.g. actions a user may not take), an
 * optional caption for screen readers, the rows as children, what to say when there are none (`empty`), and a
 * scrolling wrapper on narrow screens.
 */
export function DataTable({
  testId,
  caption,
  columns,
  empty,
  children,
}: {
  testId?: string;
  caption?: string;
  columns: Column[];
  /** Shown below the headings when there are no rows. */
  empty?: ReactNode;
  children: ReactNode;
}) {
  const heads = columns
    .filter((c): c is NonNullable<Column> => c !== null)
    .map((c) => (typeof c === 'string' ? { label: c } : c));
  return (
    <div className="table-wrap">
      <table className="data" data-testid={testId}>
        {caption ? <caption className="visually-hidden">{caption}</caption> : null}
        <thead>
          <tr>
            {heads.map((c) => (
              <th key={c.label} scope="col" className={c.className}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
      {empty ?? null}
    </div>
  );
}
