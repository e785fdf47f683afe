import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { noteAudit } from '../http/audit-note.ts';
import type { Accounts } from './accounts.ts';

/** What the sign-in pages need of oidc-provider: the interaction of the browser's cookie, and its result. */
export interface InteractionProvider {
  interactionDetails(
    req: FastifyRequest['raw'],
    res: FastifyReply['raw'],
  ): Promise<{ uid: string; prompt: { name: string }; params: Record<string, unknown> }>;
  interactionResult(
    req: FastifyRequest['raw'],
    res: FastifyReply['raw'],
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<string>;
}

export interface LoginOptions {
  /** The current provider (it is built again when the signing keys change). */
  provider: () => InteractionProvider | undefined;
  accounts: Accounts;
  /** The issuer's origin: a form post must come from it (the `Origin` header). */
  origin: () => string;
  /** Origins the browser is sent on to after signing in (the clients' redirect URIs), for `form-action`. */
  clientOrigins: readonly string[];
  /** The key of the form's anti-forgery token (a secret shared by the instances). */
  formKey: () => Buffer;
  logger: Logger;
}

/** The path of the sign-in page of an interaction (oidc-provider's `interactions.url`). */
export const interactionPath = (uid: string) => `/interaction/${encodeURIComponent(uid)}`;

const STYLESHEET = `body{font-family:system-ui,sans-serif;background:#f4f6f8;color:#1b2430;margin:0}
main{max-width:24rem;margin:10vh auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 1.2rem}label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;border:1px solid #8a96a3;border-radius:.3rem}
input:focus,button:focus{outline:3px solid #2f6fde;outline-offset:1px}
button{margin-top:1.4rem;width:100%;padding:.65rem;font-size:1rem;background:#1f5fc8;color:#fff;border:0;border-radius:.3rem}
.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:.3rem;margin-bottom:.8rem}
.muted{color:#56606b;font-size:.9rem}`;

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** The sign-in page's languages: English by default, Danish as the console offers it. */
export type LoginLanguage = 'en' | 'da';

/** The page's words in each language. The error is one generic message for every refusal (user name or password). */
export const LOGIN_TEXTS: Readonly<Record<LoginLanguage, Readonly<Record<string, string>>>> = {
  en: {
    title: 'Sign in – EHMI',
    heading: 'Sign in to EHMI',
    username: 'User name',
    password: 'Password',
    submit: 'Sign in',
    error: 'The user name or password is wrong, or signing in is paused for a while. Try again.',
    footer: 'EHMI authorization server',
    other: 'Dansk',
    expiredHeading: 'This sign-in has expired',
    expiredText: 'Go back to the application and start again.',
  },
  da: {
    title: 'Log ind – EHMI',
    heading: 'Log ind i EHMI',
    username: 'Brugernavn',
    password: 'Adgangskode',
    submit: 'Log ind',
    error: 'Brugernavn eller adgangskode er forkert, eller login er sat på pause et stykke tid. Prøv igen.',
    footer: 'EHMI-autorisationsserver',
    other: 'English',
    expiredHeading: 'Dette login er udløbet',
    expiredText: 'Gå tilbage til programmet, og start forfra.',
  },
};

const isLanguage = (v: unknown): v is LoginLanguage => v === 'en' || v === 'da';

/**
 * The language of the sign-in page: the `lang` parameter (the page's own switch, and the form's hidden field), else
 * the client's `ui_locales` (OpenID Connect Core §3.1.2.1: the console passes the language its user chose), else the
 * browser's `Accept-Language` (the first of Danish or English in its order of preference), else English.
 */
export function loginLanguage(options: {
  lang?: unknown;
  uiLocales?: unknown;
  acceptLanguage?: string | undefined;
}): LoginLanguage {
  if (isLanguage(options.lang)) return options.lang;
  if (typeof options.uiLocales === 'string') {
    for (const tag of options.uiLocales.split(/\s+/)) {
      const base = tag.toLowerCase().split('-')[0];
      if (isLanguage(base)) return base;
    }
  }
  const ranked = (options.acceptLanguage ?? '')
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
      return { base: tag.trim().toLowerCase().split('-')[0], q: q === undefined ? 1 : Number(q), i };
    })
    .filter((l) => l.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const l of ranked) if (isLanguage(l.base)) return l.base;
  return 'en';
}

function page(uid: string, token: string, lang: LoginLanguage, error?: boolean, username = ''): string {
  const t = LOGIN_TEXTS[lang];
  const other: LoginLanguage = lang === 'da' ? 'en' : 'da';
  const path = escapeHtml(interactionPath(uid));
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t.title}</title><link rel="stylesheet" href="/interaction.css"></head>
<body><main>
<h1>${t.heading}</h1>
${error ? `<p class="error" role="alert">${escapeHtml(t.error as string)}</p>` : ''}
<form method="post" action="${path}/login" autocomplete="on">
<input type="hidden" name="form_token" value="${escapeHtml(token)}">
<input type="hidden" name="lang" value="${lang}">
<label for="username">${t.username}</label>
<input id="username" name="username" autocomplete="username" required maxlength="64" value="${escapeHtml(username)}" autofocus>
<label for="password">${t.password}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">${t.submit}</button>
</form>
<p class="muted"><a href="${path}?lang=${other}" lang="${other}" hreflang="${other}">${LOGIN_TEXTS[lang].other}</a> · ${t.footer}</p>
</main></body></html>`;
}

/**
 * The sign-in interaction of the authorization server (oidc-provider's `interactions.url`): a server-rendered form
 * (no script, no inline style, a strict Content-Security-Policy), posted back to the same origin with an
 * anti-forgery token bound to the interaction and checked `Origin`; one generic error for every refusal; the
 * throttling of `accounts.ts`; each sign-in and each refusal in the audit log (the call's record names the account)
 * and the log.
 */
export async function registerLogin(app: FastifyInstance, options: LoginOptions): Promise<void> {
  const { accounts, logger: log } = options;
  const formToken = (uid: string) =>
    createHmac('sha256', options.formKey()).update(`sign-in:${uid}`).digest('base64url');
  const csp = [
    "default-src 'none'",
    "style-src 'self'",
    `form-action 'self' ${options.clientOrigins.join(' ')}`.trim(),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  const secureHeaders = (reply: FastifyReply) =>
    reply
      .header('content-security-policy', csp)
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      // Not no-referrer: under it a browser's form post carries `Origin: null` (Fetch, "append a request Origin
      // header"), and the Origin check below would refuse every sign-in. same-origin still sends nothing elsewhere.
      .header('referrer-policy', 'same-origin');
  const provider = () => {
    const p = options.provider();
    if (!p) throw new Error('the authorization server is starting');
    return p;
  };
  /** The interaction of this browser (its `_interaction` cookie), when it is the one the URL names. */
  const interactionOf = async (request: FastifyRequest, reply: FastifyReply, uid: string) => {
    try {
      const details = await provider().interactionDetails(request.raw, reply.raw);
      return details.uid === uid ? details : undefined;
    } catch (err) {
      log.info({ err: (err as Error).message }, 'no interaction for this sign-in page');
      return undefined;
    }
  };
  const expired = (reply: FastifyReply, lang: LoginLanguage) =>
    secureHeaders(reply)
      .status(400)
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>${LOGIN_TEXTS[lang].title}</title><link rel="stylesheet" href="/interaction.css"></head><body><main><h1>${LOGIN_TEXTS[lang].expiredHeading}</h1><p>${LOGIN_TEXTS[lang].expiredText}</p></main></body></html>`,
      );
  const languageOf = (
    request: FastifyRequest,
    details: { params: Record<string, unknown> } | undefined,
    lang?: unknown,
  ) =>
    loginLanguage({
      lang,
      uiLocales: details?.params.ui_locales,
      acceptLanguage: request.headers['accept-language'],
    });

  await app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 4096 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    const doc = (summary: string, responses: Record<string, string>) =>
      ({
        schema: {
          summary,
          security: [],
          responses: Object.fromEntries(
            Object.entries(responses).map(([status, description]) => [status, { description }]),
          ),
        },
      }) as object;

    scope.get(
      '/interaction.css',
      doc('The sign-in page’s stylesheet', { '200': 'CSS' }),
      async (_request, reply) =>
        reply
          .header('cache-control', 'public, max-age=3600')
          .type('text/css; charset=utf-8')
          .send(STYLESHEET),
    );

    const page200 = { '200': 'The sign-in form (HTML)', '400': 'The sign-in has expired' };
    scope.get<{ Params: { uid: string }; Querystring: { lang?: string } }>(
      '/interaction/:uid',
      doc('The sign-in page of a person (English, or Danish: lang=da, ui_locales, Accept-Language)', page200),
      async (request, reply) => {
        const details = await interactionOf(request, reply, request.params.uid);
        const lang = languageOf(request, details, request.query.lang);
        if (details && details.prompt.name !== 'login') {
          log.warn({ prompt: details.prompt }, 'an interaction this server does not offer');
        }
        if (details?.prompt.name !== 'login') return expired(reply, lang);
        return secureHeaders(reply)
          .header('content-language', lang)
          .header('vary', 'accept-language')
          .type('text/html; charset=utf-8')
          .send(page(details.uid, formToken(details.uid), lang));
      },
    );

    scope.post<{ Params: { uid: string }; Body: Record<string, string | undefined> }>(
      '/interaction/:uid/login',
      doc('Sign in with user name and password (the form’s post)', {
        '303': 'Signed in: back to the authorization endpoint',
        '401': 'The form again, with one generic error',
        '403': 'Not posted from the sign-in page',
      }),
      async (request, reply) => {
        noteAudit(request, { operation: 'sign-in' });
        // CSRF: the form is posted from the issuer's own page (Origin), with the token bound to this interaction,
        // and the interaction cookie (SameSite=Lax) names the same interaction.
        const origin = request.headers.origin;
        const body = request.body ?? {};
        const uid = request.params.uid;
        const token = typeof body.form_token === 'string' ? body.form_token : '';
        const expected = formToken(uid);
        if (
          origin !== options.origin() ||
          token.length !== expected.length ||
          !timingSafeEqual(Buffer.from(token), Buffer.from(expected))
        ) {
          noteAudit(request, { detail: 'sign-in form refused: wrong origin or form token' });
          return secureHeaders(reply).status(403).type('text/plain; charset=utf-8').send('Forbidden');
        }
        const details = await interactionOf(request, reply, uid);
        const lang = languageOf(request, details, body.lang);
        if (details?.prompt.name !== 'login') return expired(reply, lang);
        const username = typeof body.username === 'string' ? body.username.slice(0, 64) : '';
        const password = typeof body.password === 'string' ? body.password.slice(0, 256) : '';
        const result = await accounts.signIn(username, password, request.ip);
        if (!result.ok) {
          const known =
            result.reason !== 'wrong-credentials' || (await accounts.find(username)) !== undefined;
          noteAudit(request, {
            ...(known ? { resource: `Account/${username.trim().toLowerCase()}` } : {}),
            detail: `sign-in refused: ${result.reason}`,
          });
          log.info({ reason: result.reason, address: request.ip }, 'sign-in refused');
          return secureHeaders(reply)
            .status(401)
            .header('content-language', lang)
            .type('text/html; charset=utf-8')
            .send(page(uid, expected, lang, true, username));
        }
        noteAudit(request, { resource: `Account/${result.account.username}` });
        log.info({ user: result.account.username, address: request.ip }, 'signed in');
        const returnTo = await provider().interactionResult(
          request.raw,
          reply.raw,
          { login: { accountId: result.account.username, amr: ['pwd'] } },
          { mergeWithLastSubmission: false },
        );
        return secureHeaders(reply).redirect(returnTo, 303);
      },
    );
  });
}
