import { useI18n } from '../i18n.ts';

/** The page of a visitor without a session: sign-in happens at the authorization server (the role's `/auth/login`). */
export function SignInPage() {
  const { t, lang, setLang } = useI18n();
  return (
    <main id="main" className="signin">
      <div className="signin-card">
        <img src="/favicon.svg" alt="" width="48" height="48" />
        <h1>{t('signInTitle')}</h1>
        <p>{t('signInText')}</p>
        <a className="button primary" href={`/auth/login?lang=${lang}`} data-testid="sign-in">
          {t('signIn')}
        </a>
        <label className="lang">
          <span>{t('language')}</span>
          <select value={lang} onChange={(e) => setLang(e.target.value as 'en' | 'da')}>
            <option value="en">English</option>
            <option value="da">Dansk</option>
          </select>
        </label>
      </div>
    </main>
  );
}
