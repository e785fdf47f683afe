import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, signOut as endSession, type SessionUser, whenUnauthenticated } from './api.ts';
import { I18nContext, type Key, type Lang, makeI18n, useI18n } from './i18n.ts';
import { HealthPage } from './pages/Health.tsx';
import { InboxItemPage, InboxPage } from './pages/Inbox.tsx';
import { JourneyPage } from './pages/Journey.tsx';
import { MessagesPage } from './pages/Messages.tsx';
import { RegistersPage } from './pages/Registers.tsx';
import { SignInPage } from './pages/SignIn.tsx';
import { href, type Route, useRoute } from './router.ts';

const NAV: { page: string; label: Key }[] = [
  { page: 'messages', label: 'navMessages' },
  { page: 'inbox', label: 'navInbox' },
  { page: 'registers', label: 'navRegisters' },
  { page: 'health', label: 'navHealth' },
];

/** Which top-level section a page belongs to (a journey is a message's, an inbox item the inbox's). */
function sectionOf(page: string): string {
  return page === 'journey' ? 'messages' : page;
}

export function App() {
  const [lang, setLang] = useState<Lang>(() => (document.documentElement.lang === 'da' ? 'da' : 'en'));
  const i18n = useMemo(() => makeI18n(lang, setLang), [lang]);
  const [user, setUser] = useState<SessionUser | null | undefined>(undefined);

  const loadSession = useCallback(() => {
    api<{ user: SessionUser }>('/session')
      .then((s) => setUser(s.user))
      .catch(() => setUser(null));
  }, []);
  useEffect(() => {
    whenUnauthenticated(() => setUser(null));
    loadSession();
  }, [loadSession]);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  return (
    <I18nContext.Provider value={i18n}>
      {user === undefined ? (
        <p className="boot">{i18n.t('loading')}</p>
      ) : user === null ? (
        <SignInPage />
      ) : (
        <Shell user={user} />
      )}
    </I18nContext.Provider>
  );
}

function Shell({ user }: { user: SessionUser }) {
  const { t, lang, setLang } = useI18n();
  const route = useRoute();
  const section = sectionOf(route.page);
  useEffect(() => {
    const label = NAV.find((n) => n.page === section)?.label ?? 'navMessages';
    document.title = `${t(label)} · ${t('appName')}`;
  }, [section, t]);

  const signOut = async () => {
    try {
      await endSession();
    } finally {
      window.location.assign('/');
    }
  };

  return (
    <>
      <button type="button" className="skip" onClick={skipToMain}>
        {t('skipToContent')}
      </button>
      <header className="topbar">
        <div className="brand">
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <span>{t('appName')}</span>
        </div>
        <nav aria-label={t('mainNavigation')}>
          <ul>
            {NAV.map((n) => (
              <li key={n.page}>
                <a href={href(n.page)} aria-current={section === n.page ? 'page' : undefined}>
                  {t(n.label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          <label className="lang">
            <span className="visually-hidden">{t('language')}</span>
            <select value={lang} onChange={(e) => setLang(e.target.value as Lang)} data-testid="language">
              <option value="en">English</option>
              <option value="da">Dansk</option>
            </select>
          </label>
          <span className="who" data-testid="user">
            <span className="visually-hidden">{t('signedInAs')} </span>
            {user.name}
            <span className="muted">
              {' · '}
              {user.organisation?.name ?? user.organisation?.gln ?? t('networkOperator')}
            </span>
          </span>
          <button type="button" className="ghost" onClick={signOut}>
            {t('signOut')}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} user={user} />
      </main>
    </>
  );
}

function skipToMain() {
  document.getElementById('main')?.focus();
}

function Page({ route, user }: { route: Route; user: SessionUser }) {
  switch (route.page) {
    case 'journey':
      return <JourneyPage organisation={route.parts[0] ?? ''} id={route.parts[1] ?? ''} user={user} />;
    case 'inbox':
      return route.parts[1] ? (
        <InboxItemPage organisation={route.parts[0] ?? ''} id={route.parts[1]} user={user} />
      ) : (
        <InboxPage organisation={route.parts[0]} user={user} />
      );
    case 'registers':
      return <RegistersPage />;
    case 'health':
      return <HealthPage />;
    default:
      return <MessagesPage user={user} query={route.query} />;
  }
}
