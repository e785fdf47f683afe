// The console's sign-in in a real local network, driven over HTTPS as a browser would: the authorization server's
// sign-in page, PAR, PKCE, the code flow, the console's session cookie and its calls to the public APIs as the
// signed-in person, whose roles and organisation each resource server applies.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import { Accounts } from '../../../server/src/auth/accounts.ts';
import type { ConsoleRole } from '../../../server/src/console/index.ts';
import type { SampleRound } from '../../../server/src/console/sampler.ts';
import { eventually } from '../../../server/test/e2e/helpers.ts';
import {
  CONSOLE_OPERATOR,
  consoleOperatorPasswordFile,
  type ManifestOrganisation,
  NetworkClient,
  type RunningNetwork,
} from '../../src/index.ts';
import { sampleHomeCareObservation } from '../../src/sample.ts';
import { sharedNetwork } from './shared.ts';

const PASSWORD = 'a long enough password 1';

/** A browser: its own cookie jar (by origin), no client certificate, no redirects followed by itself. */
class Browser {
  readonly jar = new Map<string, Map<string, string>>();
  constructor(private readonly agent: Agent) {}
  cookies(origin: string): Map<string, string> {
    let c = this.jar.get(origin);
    if (!c) {
      c = new Map();
      this.jar.set(origin, c);
    }
    return c;
  }
  async go(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
    const u = new URL(url);
    const jar = this.cookies(u.origin);
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      dispatcher: this.agent,
      headers: {
        ...(jar.size > 0 ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...init.headers,
      },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      if (value === '' || /max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location');
    return {
      res,
      status: res.status,
      location: location ? new URL(location, url).href : undefined,
      text: await res.text(),
      setCookies: res.headers.getSetCookie(),
    };
  }
}

describe('the console: people sign in at the authorization server (local network)', () => {
  let dataDir: string;
  let net: RunningNetwork;
  let ca: string;
  let consoleUrl: string;
  let authUrl: string;
  let consoleRole: ConsoleRole;
  let gp: ManifestOrganisation;
  let municipality: ManifestOrganisation;
  let eua: NetworkClient;
  let anonymous: Agent;
  let consoleClient: Agent;
  let inboxItem: string;
  let messageHeaderId: string;
  let sentId: string;

  /** Sign in through the console as `username`: the browser and its session cookie's value. */
  async function signIn(username: string, password: string) {
    const browser = new Browser(anonymous);
    const start = await browser.go(`${consoleUrl}/auth/login?returnTo=/messages`);
    assert.equal(start.status, 303, start.text);
    const authorize = new URL(start.location!);
    assert.equal(authorize.origin, new URL(authUrl).origin);
    assert.ok(authorize.searchParams.get('request_uri')?.startsWith('urn:ietf:params:oauth:request_uri:'));
    const toLogin = await browser.go(authorize.href);
    assert.equal(toLogin.status, 303, toLogin.text);
    const page = await browser.go(toLogin.location!);
    assert.equal(page.status, 200, page.text);
    const token = /name="form_token" value="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(token, 'the form carries its anti-forgery token');
    const action = /action="([^"]+)"/.exec(page.text)![1]!;
    const post = await browser.go(new URL(action, authUrl).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(authUrl).origin },
      body: new URLSearchParams({ form_token: token, username, password }).toString(),
    });
    return { browser, page, post, token, action };
  }

  /** Follow the redirects after a successful sign-in form, back to the console. */
  async function finishSignIn(browser: Browser, post: { location?: string | undefined }) {
    const resumed = await browser.go(post.location!);
    assert.equal(resumed.status, 303, resumed.text);
    const callback = new URL(resumed.location!);
    if (callback.origin !== new URL(consoleUrl).origin) await browser.go(callback.href);
    assert.equal(callback.origin, new URL(consoleUrl).origin, callback.href);
    assert.equal(callback.pathname, '/auth/callback');
    const done = await browser.go(callback.href);
    return { callback, done, cookie: browser.cookies(new URL(consoleUrl).origin).get('__Host-ehmi-session') };
  }

  async function signedIn(username: string, password = PASSWORD) {
    const { browser, post } = await signIn(username, password);
    assert.equal(post.status, 303, post.text);
    const { done, cookie } = await finishSignIn(browser, post);
    assert.equal(done.status, 303, done.text);
    assert.ok(cookie);
    const callApi = await consoleRole.callApiOf(cookie);
    assert.ok(callApi);
    return { browser, cookie, callApi };
  }

  before(async () => {
    ({ net, dataDir } = await sharedNetwork());
    ca = readFileSync(net.manifest.trustAnchor, 'utf8');
    consoleUrl = net.manifest.services.console!;
    authUrl = net.manifest.services.auth!;
    consoleRole = net.central.roles.console as ConsoleRole;
    const org = (name: string) => net.manifest.organisations.find((o) => o.name === name)!;
    gp = org('gp');
    municipality = org('municipality');
    const hospital = org('hospital');
    anonymous = new Agent({ connect: { ca } });
    const consoleTls = join(dataDir, 'pki', 'console');
    consoleClient = new Agent({
      connect: {
        ca,
        cert: readFileSync(join(consoleTls, 'tls-client.pem')),
        key: readFileSync(join(consoleTls, 'tls-client.key')),
      },
    });
    const accounts = new Accounts(net.central.store as never);
    await accounts.create({
      username: 'gp-support',
      password: PASSWORD,
      name: 'GP support',
      roles: ['support'],
      organisation: { gln: gp.gln, sor: gp.sor, name: 'GP' },
    });
    await accounts.create({
      username: 'gp-operator',
      password: PASSWORD,
      name: 'GP operator',
      roles: ['org-operator', 'patient-data'],
      organisation: { gln: gp.gln, sor: gp.sor, name: 'GP' },
    });
    await accounts.create({
      username: 'hospital-operator',
      password: PASSWORD,
      name: 'Hospital operator',
      roles: ['org-operator', 'patient-data'],
      organisation: { gln: hospital.gln, sor: hospital.sor, name: 'Hospital' },
    });
    await accounts.create({
      username: 'throttled',
      password: PASSWORD,
      name: 'Throttled',
      roles: ['support'],
      organisation: { gln: gp.gln, sor: gp.sor },
    });
    // A prøvesvar from the municipality in the gp's inbox.
    eua = NetworkClient.open(dataDir);
    const sent = await eua.call('municipality', 'POST', '/messages', {
      bytes: JSON.stringify(sampleHomeCareObservation(municipality, gp)),
      contentType: 'application/fhir+json',
    });
    assert.equal(sent.status, 202, sent.text);
    const bundleId = (sent.json as { bundleId: string }).bundleId;
    sentId = (sent.json as { id: string }).id;
    messageHeaderId = (sent.json as { messageHeaderId?: string }).messageHeaderId ?? '';
    inboxItem = await eventually('the prøvesvar in the gp’s inbox', async () => {
      const inbox = await eua.call('gp', 'GET', '/inbox');
      return (inbox.json as { id: string; bundleId: string }[]).find((i) => i.bundleId === bundleId)?.id;
    });
  });

  after(async () => {
    await eua?.close();
    await anonymous?.close();
    await consoleClient?.close();
  });

  it('network.json names the console; the operator’s generated password is in the data folder, 0600', () => {
    assert.match(consoleUrl, /^https:\/\//);
    const file = consoleOperatorPasswordFile(dataDir);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('the sign-in page: no script, no inline style, a strict CSP, a form token', async () => {
    const { page } = await signIn('nobody', 'x');
    const csp = page.res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.doesNotMatch(page.text, /<script|style=/i);
    assert.equal(page.res.headers.get('cache-control'), 'no-store');
  });

  it('the sign-in page in Danish: the console’s language choice (ui_locales), the page’s switch, Accept-Language; English by default', async () => {
    const open = async (consolePath: string, headers: Record<string, string> = {}) => {
      const browser = new Browser(anonymous);
      const start = await browser.go(`${consoleUrl}${consolePath}`);
      const toLogin = await browser.go(start.location!, { headers });
      return { browser, page: await browser.go(toLogin.location!, { headers }), url: toLogin.location! };
    };
    const english = await open('/auth/login');
    assert.match(english.page.text, /<html lang="en">/);
    assert.match(english.page.text, /<label for="username">User name<\/label>/);
    const danish = await open('/auth/login?lang=da');
    assert.match(danish.page.text, /<html lang="da">/);
    assert.match(danish.page.text, /<label for="username">Brugernavn<\/label>/);
    assert.match(danish.page.text, /<label for="password">Adgangskode<\/label>/);
    assert.match(danish.page.text, />Log ind<\/button>/);
    assert.equal(danish.page.res.headers.get('content-language'), 'da');
    // The page's own switch, and the browser's preference when the console names none.
    const switched = await english.browser.go(`${english.url}?lang=da`);
    assert.match(switched.text, /Brugernavn/);
    const byHeader = await open('/auth/login', { 'accept-language': 'da-DK,da;q=0.9,en;q=0.5' });
    assert.match(byHeader.page.text, /<html lang="da">/);
    // A refusal answers in the page's language, with the same generic words for every refusal.
    const token = /name="form_token" value="([^"]+)"/.exec(danish.page.text)![1]!;
    const action = /action="([^"]+)"/.exec(danish.page.text)![1]!;
    const refused = await danish.browser.go(new URL(action, authUrl).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(authUrl).origin },
      body: new URLSearchParams({
        form_token: token,
        lang: 'da',
        username: 'nobody',
        password: 'x',
      }).toString(),
    });
    assert.equal(refused.status, 401);
    assert.match(refused.text, /Brugernavn eller adgangskode er forkert/);
  });

  it('a wrong password and an unknown user get the same generic error (401), and no session', async () => {
    const wrong = await signIn(CONSOLE_OPERATOR, 'not the password at all');
    const unknown = await signIn('no-such-user', 'not the password at all');
    assert.equal(wrong.post.status, 401);
    assert.equal(unknown.post.status, 401);
    const message = (t: string) => /class="error"[^>]*>([^<]+)</.exec(t)?.[1];
    assert.ok(message(wrong.post.text));
    assert.equal(message(wrong.post.text), message(unknown.post.text));
    assert.equal(wrong.browser.cookies(new URL(consoleUrl).origin).get('__Host-ehmi-session'), undefined);
  });

  it('the operator signs in: PAR, code, a __Host- session cookie (HttpOnly, Secure, SameSite=Strict), /api/session', async () => {
    const password = readFileSync(consoleOperatorPasswordFile(dataDir), 'utf8').trim();
    const { browser, post } = await signIn(CONSOLE_OPERATOR, password);
    assert.equal(post.status, 303, post.text);
    const { callback, done, cookie } = await finishSignIn(browser, post);
    assert.ok(callback.searchParams.get('code'));
    assert.equal(callback.searchParams.get('iss'), authUrl);
    assert.equal(done.status, 303);
    assert.equal(done.location, `${consoleUrl}/messages`);
    const set = done.setCookies.find((c) => c.startsWith('__Host-ehmi-session='))!;
    assert.match(set, /; Path=\//);
    assert.match(set, /; Secure/);
    assert.match(set, /; HttpOnly/);
    assert.match(set, /; SameSite=Strict/);
    assert.doesNotMatch(set, /Domain=/i);
    assert.ok(cookie);
    const session = await browser.go(`${consoleUrl}/api/session`);
    assert.equal(session.status, 200, session.text);
    const user = (JSON.parse(session.text) as { user: Record<string, unknown> }).user;
    assert.equal(user.name, 'Network operator');
    assert.deepEqual(user.roles, ['network-operator']);
    assert.equal(user.patientData, true);
    assert.equal(user.organisation, undefined);
    // No token anywhere the browser sees.
    assert.doesNotMatch(session.text + done.text, /eyJ/);

    // callApi: EDS as the operator (every event), the gp's MSH as the operator (reading).
    const callApi = (await consoleRole.callApiOf(cookie))!;
    const eds = await callApi('eds', '/AuditEvent?_count=5');
    assert.equal(eds.status, 200, await eds.clone().text());
    const inbox = await callApi('msh:gp', '/inbox');
    assert.equal(inbox.status, 200, await inbox.clone().text());
    const metrics = await callApi('node:gp', '/metrics');
    assert.equal(metrics.status, 200, await metrics.clone().text());
  });

  it('without a session the console’s API answers 401; a forged cookie is no session', async () => {
    const browser = new Browser(anonymous);
    assert.equal((await browser.go(`${consoleUrl}/api/session`)).status, 401);
    browser
      .cookies(new URL(consoleUrl).origin)
      .set('__Host-ehmi-session', randomBytes(32).toString('base64url'));
    assert.equal((await browser.go(`${consoleUrl}/api/session`)).status, 401);
  });

  it('the health page’s charts were sampled by the console itself, before anyone looked: the operator sees every node, the archive’s included, an organisation’s user its own', async () => {
    // Nobody has opened the health page in this network. Wait for the console's own sampler to read every node
    // twice in a row after the traffic of before() (the nodes started after the console: gaps first).
    const sampler = consoleRole.sampler;
    assert.ok(sampler, 'the local network’s console samples');
    let fullRounds = 0;
    let lastRound = 0;
    for (let round = 0; fullRounds < 2; round++) {
      assert.ok(round < 30, 'the sampler read every node twice in a row within 30 rounds');
      const [sampled] = (await once(sampler, 'sampled')) as [SampleRound];
      lastRound = sampled.at;
      fullRounds = sampled.nodes.every((n) => n.ok) ? fullRounds + 1 : 0;
      if (fullRounds > 0)
        assert.deepEqual(sampled.nodes.map((n) => n.key).sort(), [
          'archive',
          'central',
          'gp',
          'hospital',
          'municipality',
        ]);
    }

    const password = readFileSync(consoleOperatorPasswordFile(dataDir), 'utf8').trim();
    const operator = await signedIn(CONSOLE_OPERATOR, password);
    const page = await operator.browser.go(`${consoleUrl}/api/health`);
    assert.equal(page.status, 200, page.text);
    // The sampler's token stays in the console: no token anywhere in what the browser gets.
    assert.doesNotMatch(page.text, /eyJ/);
    type Health = {
      nodes: {
        key: string;
        roles: string[];
        services: { name: string; state: string; reason?: string }[];
        database: { state: string };
        metricsError?: string;
      }[];
      series: { times: number[]; nodes: { key: string; requests: (number | null)[] }[] };
    };
    const { nodes, series } = JSON.parse(page.text) as Health;
    // The document archive's node is the network's: its FHIR API, access point and own server, read as the operator.
    assert.deepEqual(nodes.map((n) => n.key).slice(0, 2), ['central', 'archive']);
    assert.deepEqual(
      nodes
        .map((n) => n.key)
        .slice(2)
        .sort(),
      ['gp', 'hospital', 'municipality'],
    );
    const archive = nodes.find((n) => n.key === 'archive')!;
    assert.deepEqual(archive.roles, ['Archive', 'AP']);
    assert.deepEqual(
      archive.services.map((s) => [s.name, s.state]),
      [
        ['archive', 'ok'],
        ['ap:archive', 'ok'],
        ['node:archive', 'ok'],
      ],
      JSON.stringify(archive),
    );
    assert.equal(archive.database.state, 'ok');
    assert.equal(archive.metricsError, undefined, JSON.stringify(archive));
    // The sampler goes on while the operator signs in; what matters is what it had read before the page was viewed.
    const before = series.times.filter((t) => t <= Math.round(lastRound / 1000)).length;
    assert.ok(before > 0, page.text);
    assert.deepEqual(series.nodes.map((n) => n.key).sort(), [
      'archive',
      'central',
      'gp',
      'hospital',
      'municipality',
    ]);
    for (const n of series.nodes) {
      assert.ok(
        n.requests.slice(0, before).some((r) => r !== null && r > 0),
        `${n.key} had a request rate before the page was viewed: ${JSON.stringify(n)}`,
      );
    }

    // An organisation's user sees its own node's series only (the readings carry no patient data).
    const gpUser = await signedIn('gp-support');
    const own = await gpUser.browser.go(`${consoleUrl}/api/health`);
    assert.equal(own.status, 200, own.text);
    const ownPage = JSON.parse(own.text) as Health;
    const ownSeries = ownPage.series;
    assert.deepEqual(
      ownPage.nodes.map((n) => n.key),
      ['gp'],
    );
    assert.deepEqual(
      ownSeries.nodes.map((n) => n.key),
      ['gp'],
    );
    assert.ok(ownSeries.nodes[0]!.requests.some((r) => r !== null));
    // Fail closed: the archive's node's /metrics is the operator's, refused to an organisation's user.
    const refused = await gpUser.callApi('node:archive', '/metrics');
    assert.equal(refused.status, 403, await refused.clone().text());
  });

  it('an organisation’s user reads its own MSH and is refused another organisation’s; EDS shows it only its own messages', async () => {
    const gpUser = await signedIn('gp-operator');
    const own = await gpUser.callApi('msh:gp', '/inbox');
    assert.equal(own.status, 200, await own.clone().text());
    assert.ok(((await own.json()) as { id: string }[]).some((i) => i.id === inboxItem));

    const hospital = await signedIn('hospital-operator');
    const other = await hospital.callApi('msh:gp', `/inbox/${inboxItem}`);
    assert.equal(other.status, 403, await other.clone().text());
    const otherList = await hospital.callApi('msh:gp', '/inbox');
    assert.equal(otherList.status, 403);
    if (messageHeaderId) {
      const events = await hospital.callApi(
        'eds',
        `/AuditEvent?message-id=${encodeURIComponent(messageHeaderId)}`,
      );
      assert.equal(events.status, 200, await events.clone().text());
      assert.equal(((await events.json()) as { entry?: unknown[] }).entry?.length ?? 0, 0);
      const mine = await gpUser.callApi(
        'eds',
        `/AuditEvent?message-id=${encodeURIComponent(messageHeaderId)}`,
      );
      assert.ok((((await mine.json()) as { entry?: unknown[] }).entry?.length ?? 0) > 0);
    }
    // Not the operator's: an organisation's user reads no node's metrics.
    assert.equal((await gpUser.callApi('node:gp', '/metrics')).status, 403);
  });

  it('the operator’s actions: the network operator resends and retries, never acknowledges; the gp’s operator acknowledges as its EUA, recorded; a console read is no 06.1', async () => {
    const password = readFileSync(consoleOperatorPasswordFile(dataDir), 'utf8').trim();
    const operator = await signedIn(CONSOLE_OPERATOR, password);
    const post = (who: typeof operator, service: string, path: string) =>
      who.callApi(service, path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
    // Acknowledging a clinical message is the GP's act, not the support desk's.
    const refused = await post(operator, 'msh:gp', `/inbox/${inboxItem}/$acknowledge`);
    assert.equal(refused.status, 403, await refused.clone().text());
    // Resending and retrying are the support desk's: allowed at any organisation's MSH (nothing dead: 409).
    const retry = await operator.callApi('msh:municipality', `/messages/${sentId}/$retry`, {
      method: 'POST',
    });
    assert.equal(retry.status, 409, await retry.clone().text());
    const dead = await operator.callApi('msh:municipality', `/messages/${sentId}/dead-letters`);
    assert.equal(dead.status, 200, await dead.clone().text());
    assert.deepEqual(await dead.json(), []);
    // Submitting stays the organisation's.
    const submit = await operator.callApi('msh:municipality', '/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(sampleHomeCareObservation(municipality, gp)),
    });
    assert.equal(submit.status, 403, await submit.clone().text());
    const resend = await operator.callApi('msh:municipality', `/messages/${sentId}/$resend`, {
      method: 'POST',
    });
    assert.equal(resend.status, 202, await resend.clone().text());

    // The gp's operator reads the item in the console: no 06.1 (the console is not the clinical system) …
    const gpOperator = await signedIn('gp-operator');
    assert.equal((await gpOperator.callApi('msh:gp', `/inbox/${inboxItem}`)).status, 200);
    const gpStore = net.nodes.gp!.store.db as unknown as import('kysely').Kysely<{
      msh_inbox: { id: string; eua_taken_at: number | null; acknowledged_by: string | null };
    }>;
    const row = () =>
      gpStore.selectFrom('msh_inbox').selectAll().where('id', '=', inboxItem).executeTakeFirstOrThrow();
    assert.equal((await row()).eua_taken_at, null, 'a read in the console is no step of the EUA');
    // … and acknowledges it, acting as the gp's EUA: the MSH keeps who did.
    const ack = await post(gpOperator, 'msh:gp', `/inbox/${inboxItem}/$acknowledge`);
    assert.equal(ack.status, 202, await ack.clone().text());
    assert.equal((await row()).acknowledged_by, 'person:gp-operator');
    assert.notEqual((await row()).eua_taken_at, null, 'acknowledging is the EUA taking the message (06.1)');
    const listed = (await (await gpOperator.callApi('msh:gp', '/inbox')).json()) as {
      id: string;
      acknowledgement: { by: string } | null;
    }[];
    assert.equal(listed.find((i) => i.id === inboxItem)?.acknowledgement?.by, 'person:gp-operator');
  });

  it('patient data only with the entitlement: support reads the gp’s inbox list, not an item’s content', async () => {
    const support = await signedIn('gp-support');
    assert.equal((await support.callApi('msh:gp', '/inbox')).status, 200);
    const item = await support.callApi('msh:gp', `/inbox/${inboxItem}`);
    assert.equal(item.status, 403, await item.clone().text());
    const entitled = await signedIn('gp-operator');
    assert.equal((await entitled.callApi('msh:gp', `/inbox/${inboxItem}`)).status, 200);
    // EDS: the message's patient events carry the CPR to the entitled user; support sees them without the patient,
    // labelled REDACTED, and cannot search by patient.
    type Events = {
      entry?: {
        resource: { entity?: { type?: { code?: string } }[]; meta?: { security?: { code?: string }[] } };
      }[];
    };
    const query = `/AuditEvent?message-id=${encodeURIComponent(messageHeaderId)}`;
    const isPatient = (e: { type?: { code?: string } }) => e.type?.code === 'ehmiPatient';
    const patientEvents = await eventually('a patient event of the prøvesvar in EDS', async () => {
      const events = (await (await entitled.callApi('eds', query)).json()) as Events;
      const n = (events.entry ?? []).filter((x) => x.resource.entity?.some(isPatient)).length;
      return n > 0 ? n : undefined;
    });
    const seen = await support.callApi('eds', query);
    assert.equal(seen.status, 200, await seen.clone().text());
    const entries = ((await seen.json()) as Events).entry ?? [];
    assert.ok(entries.length >= patientEvents);
    assert.equal(entries.filter((x) => x.resource.entity?.some(isPatient)).length, 0, 'no CPR to support');
    const redacted = entries.filter((x) => x.resource.meta?.security?.some((c) => c.code === 'REDACTED'));
    assert.equal(redacted.length, patientEvents);
    const byCpr = await support.callApi('eds', '/AuditEvent?cpr=0101010101');
    assert.equal(byCpr.status, 403);
    // The MSH likewise: its messages searched by patient say which are about that patient.
    const mshByCpr = await support.callApi('msh:gp', '/messages?patient=0101010101');
    assert.equal(mshByCpr.status, 403, await mshByCpr.clone().text());
    assert.equal((await entitled.callApi('msh:gp', '/messages?patient=0101010101')).status, 200);
  });

  it('CSRF: sign-out without the console’s Origin and header is refused; with them the session ends', async () => {
    const { browser, cookie } = await signedIn('gp-support');
    const bare = await browser.go(`${consoleUrl}/auth/logout`, { method: 'POST' });
    assert.equal(bare.status, 403);
    const crossSite = await browser.go(`${consoleUrl}/auth/logout`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'x-ehmi-console': '1' },
    });
    assert.equal(crossSite.status, 403);
    assert.equal((await browser.go(`${consoleUrl}/api/session`)).status, 200);
    const out = await browser.go(`${consoleUrl}/auth/logout`, {
      method: 'POST',
      headers: { origin: new URL(consoleUrl).origin, 'x-ehmi-console': '1' },
    });
    assert.equal(out.status, 204);
    assert.equal((await browser.go(`${consoleUrl}/api/session`)).status, 401);
    assert.equal(await consoleRole.callApiOf(cookie), undefined);
  });

  it('the sign-in form is refused from another origin or without its token', async () => {
    const browser = new Browser(anonymous);
    const start = await browser.go(`${consoleUrl}/auth/login`);
    const toLogin = await browser.go(start.location!);
    const page = await browser.go(toLogin.location!);
    const action = new URL(/action="([^"]+)"/.exec(page.text)![1]!, authUrl).href;
    const body = new URLSearchParams({ form_token: 'forged', username: 'gp-support', password: PASSWORD });
    const forged = await browser.go(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(authUrl).origin },
      body: body.toString(),
    });
    assert.equal(forged.status, 403);
    const token = /name="form_token" value="([^"]+)"/.exec(page.text)![1]!;
    body.set('form_token', token);
    const crossSite = await browser.go(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: body.toString(),
    });
    assert.equal(crossSite.status, 403);
  });

  it('a callback without the browser’s sign-in (another browser, or a replayed callback) starts no session', async () => {
    const { browser, post } = await signIn('gp-support', PASSWORD);
    const resumed = await browser.go(post.location!);
    const callback = resumed.location!;
    const stranger = new Browser(anonymous);
    const theirs = await stranger.go(callback);
    assert.equal(theirs.status, 400);
    const mine = await browser.go(callback);
    assert.equal(mine.status, 303);
    const again = await browser.go(callback);
    assert.equal(again.status, 400);
  });

  describe('the authorization server as the console’s client sees it (FAPI 2.0)', () => {
    const form = (params: Record<string, string | string[]>) => {
      const body = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) body.append(k, x);
      return body.toString();
    };
    const post = async (path: string, params: Record<string, string | string[]>, agent = consoleClient) => {
      const res = await fetch(`${authUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form(params),
        dispatcher: agent,
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    const redirectUri = () => `${consoleUrl}/auth/callback`;
    const base = () => ({
      client_id: 'console',
      response_type: 'code',
      redirect_uri: redirectUri(),
      scope: 'openid profile offline_access',
      state: 'state-1234567890',
      nonce: 'nonce-1234567890',
      resource: net.manifest.services.eds!,
    });

    it('a pushed request without PKCE is refused', async () => {
      const r = await post('/request', base());
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_request');
      assert.match(r.body.error_description ?? '', /PKCE/);
    });

    it('an authorization request that was not pushed is refused (PAR required)', async () => {
      const url = new URL(`${authUrl}/auth`);
      for (const [k, v] of Object.entries(base())) url.searchParams.set(k, v);
      url.searchParams.set('code_challenge', 'x'.repeat(43));
      url.searchParams.set('code_challenge_method', 'S256');
      const res = await fetch(url, { redirect: 'manual', dispatcher: anonymous });
      const location = res.headers.get('location') ?? '';
      await res.body?.cancel();
      assert.ok(res.status === 400 || /error=invalid_request/.test(location), `${res.status} ${location}`);
    });

    it('a pushed request needs the console’s certificate', async () => {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const r = await post(
        '/request',
        { ...base(), code_challenge: challenge, code_challenge_method: 'S256' },
        anonymous,
      );
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_client');
    });

    it('a replayed code is refused and revokes what the first exchange gave', async () => {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const par = await post('/request', {
        ...base(),
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      assert.equal(par.status, 201, JSON.stringify(par.body));
      const browser = new Browser(anonymous);
      const authorize = `${authUrl}/auth?client_id=console&request_uri=${encodeURIComponent(par.body.request_uri!)}`;
      const toLogin = await browser.go(authorize);
      const page = await browser.go(toLogin.location!);
      const token = /name="form_token" value="([^"]+)"/.exec(page.text)![1]!;
      const action = new URL(/action="([^"]+)"/.exec(page.text)![1]!, authUrl).href;
      const signedIn = await browser.go(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(authUrl).origin },
        body: new URLSearchParams({
          form_token: token,
          username: 'gp-support',
          password: PASSWORD,
        }).toString(),
      });
      assert.equal(signedIn.status, 303, signedIn.text);
      const back = await browser.go(signedIn.location!);
      const code = new URL(back.location!).searchParams.get('code')!;
      const exchange = {
        client_id: 'console',
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri(),
        code_verifier: verifier,
      };
      const first = await post('/token', exchange);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.ok(first.body.id_token && first.body.refresh_token);
      const replay = await post('/token', exchange);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');
      const refresh = await post('/token', {
        client_id: 'console',
        grant_type: 'refresh_token',
        refresh_token: first.body.refresh_token!,
        resource: net.manifest.services.eds!,
      });
      assert.equal(refresh.status, 400);
      assert.equal(refresh.body.error, 'invalid_grant');
    });
  });

  it('failed sign-ins throttle the account: after five, even the right password is refused for a while', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await signIn('throttled', 'wrong password number x')).post.status, 401);
    }
    assert.equal((await signIn('throttled', PASSWORD)).post.status, 401);
  });
});
