// A small WebDriver BiDi client (W3C WebDriver BiDi: session, browsingContext, script) for Debian's firefox-esr,
// which playwright-core cannot drive (it needs its own patched Firefox build, which this machine cannot download).
// Enough for a smoke test: open a page, wait for an element, run a script, take a screenshot.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

export class BidiFirefox {
  #ws: WebSocket;
  #process: ChildProcess;
  #profile: string;
  #next = 1;
  #pending = new Map<number, Pending>();
  #loads: { prefix: string; resolve: () => void }[] = [];
  context = '';

  private constructor(ws: WebSocket, process: ChildProcess, profile: string) {
    this.#ws = ws;
    this.#process = process;
    this.#profile = profile;
    ws.addEventListener('message', (event) => {
      const msg = JSON.parse(String(event.data)) as {
        id?: number;
        type?: string;
        result?: Record<string, unknown>;
        error?: string;
        message?: string;
      };
      if (msg.id === undefined) {
        const event = msg as { method?: string; params?: { url?: string } };
        if (event.method === 'browsingContext.load') {
          const url = event.params?.url ?? '';
          const due = this.#loads.filter((w) => url.startsWith(w.prefix));
          this.#loads = this.#loads.filter((w) => !url.startsWith(w.prefix));
          for (const w of due) w.resolve();
        }
        return;
      }
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.type === 'error') p.reject(new Error(`${msg.error}: ${msg.message}`));
      else p.resolve(msg.result ?? {});
    });
  }

  /** Starts headless Firefox with a fresh profile and opens a BiDi session that accepts the network's test CA. */
  static async launch(executable: string): Promise<BidiFirefox> {
    const profile = await mkdtemp(join(tmpdir(), 'ehmi-firefox-'));
    // Nothing outside this machine: no updates, telemetry, or first-run pages.
    await writeFile(
      join(profile, 'user.js'),
      [
        'user_pref("app.update.enabled", false);',
        'user_pref("datareporting.policy.dataSubmissionEnabled", false);',
        'user_pref("toolkit.telemetry.enabled", false);',
        'user_pref("browser.shell.checkDefaultBrowser", false);',
        'user_pref("browser.startup.homepage_override.mstone", "ignore");',
        'user_pref("network.captive-portal-service.enabled", false);',
        'user_pref("network.connectivity-service.enabled", false);',
        'user_pref("browser.safebrowsing.malware.enabled", false);',
        'user_pref("browser.safebrowsing.phishing.enabled", false);',
        'user_pref("extensions.update.enabled", false);',
        '',
      ].join('\n'),
    );
    const child = spawn(
      executable,
      ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port=0', 'about:blank'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' } },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(text);
        if (m) resolve(m[1] as string);
      });
      child.once('exit', (code) =>
        reject(new Error(`firefox exited (${code}) before it listened: ${text.slice(-500)}`)),
      );
    });
    const ws = new WebSocket(`${url.replace(/\/$/, '')}/session`);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error(`no BiDi connection to ${url}`)), { once: true });
    });
    const browser = new BidiFirefox(ws, child, profile);
    await browser.send('session.new', { capabilities: { alwaysMatch: { acceptInsecureCerts: true } } });
    const tree = (await browser.send('browsingContext.getTree', {})) as { contexts: { context: string }[] };
    browser.context = tree.contexts[0]?.context ?? '';
    await browser.send('session.subscribe', { events: ['browsingContext.load'] });
    await browser.send('browsingContext.setViewport', {
      context: browser.context,
      viewport: { width: 1360, height: 900 },
    });
    return browser;
  }

  send(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async navigate(url: string): Promise<void> {
    await this.send('browsingContext.navigate', { context: this.context, url, wait: 'complete' });
  }

  /** A promise of the next page load whose URL starts with `prefix` (ask before the action that loads it). */
  nextLoad(prefix: string): Promise<void> {
    return new Promise((resolve) => this.#loads.push({ prefix, resolve }));
  }

  /** Evaluates a script expression in the page (a promise is awaited) and returns its value. */
  async evaluate(expression: string): Promise<unknown> {
    const r = (await this.send('script.evaluate', {
      expression,
      target: { context: this.context },
      awaitPromise: true,
    })) as { type: string; result?: { value?: unknown }; exceptionDetails?: { text?: string } };
    if (r.type === 'exception') throw new Error(`script failed: ${r.exceptionDetails?.text}`);
    return r.result?.value;
  }

  /** Waits until an element matches `selector`, told by a MutationObserver (no sleeping), at most `timeoutMs`. */
  async waitFor(selector: string, timeoutMs = 30_000): Promise<void> {
    const found = await this.evaluate(`new Promise((resolve) => {
      const sel = ${JSON.stringify(selector)};
      if (document.querySelector(sel)) return resolve(true);
      const timer = setTimeout(() => { observer.disconnect(); resolve(false); }, ${timeoutMs});
      const observer = new MutationObserver(() => {
        if (document.querySelector(sel)) { clearTimeout(timer); observer.disconnect(); resolve(true); }
      });
      observer.observe(document, { subtree: true, childList: true, attributes: true });
    })`);
    if (found !== true) throw new Error(`no ${selector} within ${timeoutMs} ms`);
  }

  /** A PNG of the page. */
  async screenshot(): Promise<Buffer> {
    const r = (await this.send('browsingContext.captureScreenshot', {
      context: this.context,
      origin: 'document',
    })) as {
      data: string;
    };
    return Buffer.from(r.data, 'base64');
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.send('session.end', {}), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // the browser is going away anyway
    }
    this.#ws.close();
    if (this.#process.exitCode === null) {
      const exited = new Promise((r) => this.#process.once('exit', r));
      this.#process.kill('SIGTERM');
      await exited;
    }
    await rm(this.#profile, { recursive: true, force: true });
  }
}
