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

/** One generic message for every refusal, so that a wrong user name and a wrong password look the same. */
const GENERIC_ERROR = 'The user name or password is wrong, or signing in is paused for a while. Try again.';

function page(uid: string, token: string, error?: string, username = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in – EHMI</title><link rel="stylesheet" href="/interaction.css"></head>
<body><main>
<h1>Sign in to EHMI</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(interactionPath(uid))}/login" autocomplete="on">
<input type="hidden" name="form_token" value="${escapeHtml(token)}">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required maxlength="64" value="${escapeHtml(username)}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">Sign in</button>
</form>
<p class="muted">EHMI authorization server</p>
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
  const expired = (reply: FastifyReply) =>
    secureHeaders(reply)
      .status(400)
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in – EHMI</title><link rel="stylesheet" href="/interaction.css"></head><body><main><h1>This sign-in has expired</h1><p>Go back to the application and start again.</p></main></body></html>',
      );

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
    scope.get<{ Params: { uid: string } }>(
      '/interaction/:uid',
      doc('The sign-in page of a person', page200),
      async (request, reply) => {
        const details = await interactionOf(request, reply, request.params.uid);
        if (details && details.prompt.name !== 'login') {
          log.warn({ prompt: details.prompt }, 'an interaction this server does not offer');
        }
        if (details?.prompt.name !== 'login') return expired(reply);
        return secureHeaders(reply)
          .type('text/html; charset=utf-8')
          .send(page(details.uid, formToken(details.uid)));
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
        if (details?.prompt.name !== 'login') return expired(reply);
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
            .type('text/html; charset=utf-8')
            .send(page(uid, expected, GENERIC_ERROR, username));
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
