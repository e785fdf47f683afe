// The console in a real browser (Debian's chromium driven by playwright-core) against a real local network started
// as `ehmi up` starts it: sign in, send a prøvesvar from the network client, find it in the list, open its journey
// and see each step drawn at its station, acknowledge it in the GP's inbox, and see the journey complete. Every page
// passes axe-core with no serious or critical violation, breaks no Content-Security-Policy rule, leaves nothing in
// the browser's storage, and is kept as a screenshot in packages/console/test-results/screenshots/.
// The pages refresh themselves on a timer (the list and a journey every 5 s, the health page every 10 s): the test
// waits for the network to reach a step (asking its APIs, as `eventually` does), then moves the page's clock past the
// next refresh (Playwright's clock), instead of waiting the refresh out.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NetworkClient, type RunningNetwork, startNetwork } from '@ehmi/network';
import { SAMPLE_PATIENT_CPR, sampleHomeCareObservation } from '@ehmi/network/sample';
import axe from 'axe-core';
import pino from 'pino';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { eventually } from '../../server/test/e2e/helpers.ts';
import { freePortBase } from '../../server/test/helpers/ports.ts';
import { BidiFirefox } from './bidi.ts';
import { startPreviewConsole } from './preview.ts';

const CHROMIUM = process.env.EHMI_CHROMIUM ?? '/usr/bin/chromium';
const FIREFOX = process.env.EHMI_FIREFOX ?? '/usr/bin/firefox-esr';
const SCREENSHOTS = fileURLToPath(new URL('../test-results/screenshots/', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/index.html', import.meta.url));
// CI installs chromium (.ci/run); elsewhere a machine without it skips, saying why.
/** How often the pages ask again (packages/console/src/pages: Messages and Journey, Health). */
const LIST_REFRESH_MS = 5000;
const HEALTH_REFRESH_MS = 10_000;
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true' ? `no browser at ${CHROMIUM}` : false;

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown }[];
}

describe('the console in a browser', { skip, timeout: 480_000 }, () => {
  let dataDir: string;
  let net: RunningNetwork;
  let client: NetworkClient;
  let consoleUrl: string;
  /** The console role's sign-in (`ehmi up`'s operator account), or none for the preview without sign-in. */
  let account: { username: string; password: string } | undefined;
  let closeConsole: (() => Promise<void>) | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];
  /** The prøvesvar's tracking id, once sent (the Firefox smoke test opens its journey). */
  let sentId: string | undefined;

  /** axe-core on the page as it stands: no serious or critical violation. */
  async function checkAccessibility(name: string): Promise<void> {
    await page.evaluate(`${axe.source}; 0`);
    const violations = (await page.evaluate(`(async () => {
      const result = await window.axe.run({ resultTypes: ['violations'] });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target })) }));
    })()`)) as Violation[];
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad, null, 1)}`);
  }

  /**
   * Waits until the sending MSH's journey of message `id` has step `code` succeeded, then moves the page's clock past
   * its next refresh, so that the page asks for what the network now holds.
   */
  async function reached(id: string, code: string): Promise<void> {
    await eventually(
      `step ${code} of ${id} in the sending MSH's journey`,
      async () => {
        const res = await client.call('municipality', 'GET', `/messages/${encodeURIComponent(id)}/journey`);
        const events = (res.json as { events?: { code: string | null; outcome: string }[] } | undefined)
          ?.events;
        return res.status === 200 && events?.some((e) => e.code === code && e.outcome === 'success')
          ? true
          : undefined;
      },
      120_000,
    );
    await page.clock.fastForward(LIST_REFRESH_MS);
  }

  async function screenshot(name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  /** The page's checks: accessibility, the screenshot, no CSP refusal, nothing in the browser's storage. */
  async function look(name: string): Promise<void> {
    await checkAccessibility(name);
    await screenshot(name);
    assert.deepEqual(cspViolations, [], `${name}: Content-Security-Policy refusals`);
    const stored = await page.evaluate(`(async () => ({
      local: localStorage.length,
      session: sessionStorage.length,
      idb: (await indexedDB.databases()).length,
      cookies: document.cookie,
    }))()`);
    assert.deepEqual(stored, { local: 0, session: 0, idb: 0, cookies: '' }, `${name}: browser storage`);
  }

  before(async () => {
    assert.ok(existsSync(DIST), 'the console is built (npm ci builds it; npm run build:console)');
    await mkdir(SCREENSHOTS, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), 'ehmi-console-'));
    net = await startNetwork({
      dataDir,
      portBase: await freePortBase(),
      logger: pino({ level: 'silent' }),
      base: { log: { level: 'silent' } },
    });
    client = NetworkClient.open(dataDir);
    if (net.manifest.services.console) {
      consoleUrl = net.manifest.services.console.replace(/\/+$/, '');
      // The operator account `ehmi up` creates, its generated password in the data folder.
      account = {
        username: 'operator',
        password: (await readFile(join(dataDir, 'console-operator.password'), 'utf8')).trim(),
      };
    } else {
      const preview = await startPreviewConsole(client);
      consoleUrl = preview.url;
      closeConsole = preview.close;
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1360, height: 900 },
      locale: 'en-GB',
    });
    // The page's timers run as usual, and the test moves them on where it would otherwise wait for a refresh.
    await context.clock.install();
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await closeConsole?.();
    await client?.close();
    await net?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('signs in, follows a prøvesvar from the list to its journey and the GP’s inbox, and sees it acknowledged', async () => {
    // Sign in: the console's page, then the authorization server's form, then back with a session.
    await page.goto(consoleUrl);
    if (account) {
      await page.getByTestId('sign-in').waitFor();
      await look('00-sign-in');
      await page.getByTestId('sign-in').click();
      await page.getByLabel('User name').fill(account.username);
      await page.getByLabel('Password').fill(account.password);
      await screenshot('00-sign-in-form');
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
    await page.getByTestId('user').waitFor();
    await look('01-messages-empty');

    // A prøvesvar from the municipality to the GP, sent from the network client as `ehmi send` does.
    const from = client.organisation('municipality');
    const to = client.organisation('gp');
    const bundle = sampleHomeCareObservation(from, to);
    const sent = await client.call('municipality', 'POST', '/messages', {
      bytes: JSON.stringify(bundle),
      contentType: 'application/fhir+json',
    });
    assert.equal(sent.status, 202, sent.text);
    const id = (sent.json as { id: string }).id;
    sentId = id;

    // It appears in the list by itself (the list's next refresh), and its row leads to its journey.
    await page.clock.fastForward(LIST_REFRESH_MS);
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.waitFor();
    await row.getByRole('link').click();
    await page.getByTestId('journey').waitFor();
    // Wait until the receiving side took it: the EnvelopeReceipt is back at the sender's MSH (10.1).
    await reached(id, '10.1');
    await page.locator('[data-testid="step-10.1"][data-state="success"]').waitFor({ timeout: 120_000 });
    // Each station reports to EDS on its own (a job each): the sender's 10.1 may be there before the receiving AP's
    // 04.1, so each step is waited for.
    for (const code of [
      '01.1',
      '02.1',
      '02.2',
      '03.1',
      '03.2',
      '04.1',
      '04.2',
      '05.1',
      '05.2',
      '07.1',
      '10.1',
    ]) {
      await reached(id, code);
      const step = page.locator(`[data-testid="step-${code}"][data-state="success"]`);
      await step.waitFor({ timeout: 120_000 });
      const station = await step.getAttribute('data-station');
      assert.ok(station && /\/(EUA|MSH|AP)$/.test(station), `${code} is drawn at its station (${station})`);
    }
    await look('02-journey-delivered');

    // The GP's inbox shows it as a person reads it; acknowledge it.
    await page.getByRole('link', { name: 'Inbox', exact: true }).click();
    await page.getByTestId('inbox-organisation').selectOption('gp');
    const firstItem = page.locator('[data-testid="inbox"] tbody tr').first();
    await firstItem.waitFor();
    await look('03-inbox');
    await firstItem.getByRole('link').click();
    await page.getByTestId('observations').waitFor();
    const observations = String(await page.getByTestId('observations').textContent());
    assert.match(observations, /26/);
    assert.match(observations, /mg\/L/);
    assert.match(String(await page.getByTestId('medcom-message').textContent()), /Bruno/);
    await look('04-inbox-item');
    // The view of the patient's message is in the audit log of the GP's node, with the patient.
    const gpNode = client.organisation('gp').node;
    assert.ok(gpNode, 'network.json names the GP node’s own server');
    await eventually('the read of the inbox item in the GP node’s audit log', async () => {
      const res = await client.audit(
        gpNode,
        new URLSearchParams({ patient: `urn:oid:1.2.208.176.1.2|${SAMPLE_PATIENT_CPR}` }),
      );
      return res.status === 200 && res.text.includes('/inbox/:id') ? true : undefined;
    });
    await page.getByRole('tab', { name: 'Raw JSON' }).click();
    await page.getByTestId('raw-json').waitFor();
    await page.getByRole('tab', { name: 'Raw XML' }).click();
    await page.getByTestId('raw-xml').getByText('<Bundle', { exact: false }).waitFor();
    await page.getByRole('tab', { name: 'Rendered' }).click();
    if (account) {
      // The network's operator reads every inbox but acts for no organisation (the MSH refuses its writes): the
      // page offers no Acknowledge, and the GP's own system acknowledges, as `ehmi ack gp <id>` does.
      assert.equal(await page.getByRole('button', { name: 'Acknowledge' }).count(), 0);
      const itemId = decodeURIComponent(new URL(page.url()).hash.split('/').pop() ?? '');
      const ack = await client.call('gp', 'POST', `/inbox/${itemId}/$acknowledge`);
      assert.equal(ack.status, 202, ack.text);
    } else {
      await page.getByRole('button', { name: 'Acknowledge' }).click();
      await page.getByTestId('acknowledged').waitFor();
    }

    // Back at the journey: the acknowledgement arrives at the sender (15.1), the journey is complete.
    await page.goto(`${consoleUrl}#/journey/municipality/${encodeURIComponent(id)}`);
    await reached(id, '15.1');
    await page.locator('[data-testid="step-15.1"][data-state="success"]').waitFor({ timeout: 120_000 });
    // Each station reports to EDS on its own (a job each): 15.1 may be there before the receiver's 13.2.
    for (const code of ['06.1', '11.1', '12.1', '13.2', '14.1', '15.1']) {
      await reached(id, code);
      await page.locator(`[data-testid="step-${code}"][data-state="success"]`).waitFor({ timeout: 120_000 });
    }
    await page.locator('.badge.status-acknowledged').first().waitFor();
    await look('05-journey-acknowledged');

    // The list, the registers and the health pages, in English and in Danish.
    await page.getByRole('link', { name: 'Messages', exact: true }).click();
    await page.locator(`tr[data-id="${id}"] .status-acknowledged`).waitFor();
    await look('06-messages');
    await page.getByRole('link', { name: 'Registers', exact: true }).click();
    await page.getByTestId('organisations').waitFor();
    assert.match(String(await page.getByTestId('organisations').textContent()), /Skødstrup Lægepraksis/);
    await look('07-registers');
    await page.getByRole('link', { name: 'Health', exact: true }).click();
    await page.getByTestId('nodes').waitFor();
    // The document archive's node is the operator's to see, beside the central node and the organisations'.
    await page.locator('#node-archive').waitFor();
    // The charts need two readings of the counters: the page's next refresh is the second.
    await page.clock.fastForward(HEALTH_REFRESH_MS);
    await page.locator('figure.chart canvas').first().waitFor({ timeout: 60_000 });
    await look('08-health');
    await page.getByTestId('language').selectOption('da');
    await page.getByRole('link', { name: 'Beskeder', exact: true }).waitFor();
    await look('09-health-da');
    await page.getByRole('link', { name: 'Beskeder', exact: true }).click();
    await page.locator(`tr[data-id="${id}"]`).waitFor();
    await look('10-messages-da');
  });

  it('is usable by keyboard: the skip button and the navigation take focus in order', async () => {
    await page.goto(`${consoleUrl}#/messages`);
    await page.reload();
    await page.getByTestId('user').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.className'), 'skip');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate('document.activeElement?.id'), 'main');
    await page.keyboard.press('Shift+Tab');
    // From the top again: the navigation's links are reached by Tab and followed by Enter.
    await page.focus('.topbar nav a[href="#/registers"]');
    await page.keyboard.press('Enter');
    await page.getByTestId('organisations').waitFor();
  });

  // A smoke test: the sign-in and one page load. The pages themselves (journey, inbox, registers, health) are checked
  // in Chromium above; Firefox shows that the sign-in's redirects, the session cookie and the page's scripts work there.
  it('works in Firefox too (firefox-esr over WebDriver BiDi): signs in and lists the messages', {
    skip: existsSync(FIREFOX) ? false : `no Firefox at ${FIREFOX}`,
  }, async () => {
    assert.ok(sentId, 'the message of the first test');
    const firefox = await BidiFirefox.launch(FIREFOX);
    try {
      if (account) {
        // The sign-in form of the authorization server, filled and sent; its redirects end at the console.
        await firefox.navigate(`${consoleUrl}/auth/login`);
        await firefox.waitFor('#username');
        const back = firefox.nextLoad(consoleUrl);
        await firefox.evaluate(`(() => {
          document.querySelector('#username').value = ${JSON.stringify(account.username)};
          document.querySelector('#password').value = ${JSON.stringify(account.password)};
          document.querySelector('form').submit();
          return true;
        })()`);
        await back;
      }
      await firefox.navigate(consoleUrl);
      await firefox.waitFor(`tr[data-id="${sentId}"]`);
      await writeFile(join(SCREENSHOTS, 'firefox-01-messages.png'), await firefox.screenshot());
      assert.deepEqual(await firefox.evaluate('localStorage.length + sessionStorage.length'), 0);
    } finally {
      await firefox.close();
    }
  });
});
