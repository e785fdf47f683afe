// The files of examples/ do what the README says with them: every message and envelope passes `ehmi validate`,
// every message wraps with `ehmi sbdh wrap` into a valid envelope, `ehmi up --config examples/node.json` starts
// and stops, and its EER takes examples/eer/carehome.json and passes it on to its EAS.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { eventually, freePortBase } from '../../server/test/e2e/helpers.ts';
import { runEhmi } from './helpers.ts';
import { BIN, cleanEnv, launch, ROOT, tcpFree } from './processes.ts';

const EXAMPLES = join(ROOT, 'examples');

/** Every file under examples/, as paths relative to the repository (what the README's commands name). */
function exampleFiles(dir = EXAMPLES): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? exampleFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .map((f) => relative(ROOT, f))
    .sort();
}

/** A MedCom message (a Bundle of type message), an ehmiSBDH envelope, or something else. */
function kindOf(file: string): 'message' | 'envelope' | 'other' {
  const text = readFileSync(join(ROOT, file), 'utf8');
  if (file.endsWith('.json')) {
    const j = JSON.parse(text) as { resourceType?: string; type?: string };
    return j.resourceType === 'Bundle' && j.type === 'message' ? 'message' : 'other';
  }
  if (!file.endsWith('.xml')) return 'other';
  if (/<StandardBusinessDocument[\s>]/.test(text)) return 'envelope';
  return /<Bundle[\s>]/.test(text) && /<type value="message"\s*\/>/.test(text) ? 'message' : 'other';
}

const ehmi = (...argv: string[]) => runEhmi(argv, { cwd: ROOT, env: {} });

describe('examples/', () => {
  const files = exampleFiles();
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('holds messages in FHIR JSON and XML, an envelope, a node config and an EER bundle', () => {
    const kinds = files.map((f) => [f, kindOf(f)]);
    assert.ok(
      kinds.some(([f, k]) => k === 'message' && f!.endsWith('.json')),
      JSON.stringify(kinds),
    );
    assert.ok(
      kinds.some(([f, k]) => k === 'message' && f!.endsWith('.xml')),
      JSON.stringify(kinds),
    );
    assert.ok(
      kinds.some(([, k]) => k === 'envelope'),
      JSON.stringify(kinds),
    );
    assert.ok(files.includes('examples/node.json') && files.includes('examples/eer/carehome.json'));
  });

  // Node configurations and network descriptions are no documents to validate: their own tests read them
  // (examples/operations/ below, examples/networks/ in packages/network/test/description.test.ts).
  const documents = files.filter(
    (f) =>
      /\.(json|xml)$/.test(f) &&
      f !== 'examples/node.json' &&
      !f.startsWith('examples/networks/') &&
      !f.startsWith('examples/operations/'),
  );
  for (const file of documents) {
    it(`ehmi validate ${file}`, async () => {
      const r = await ehmi('validate', file);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /: valid /);
      assert.doesNotMatch(r.stdout + r.stderr, /: error: /);
    });
  }

  it("examples/operations/organisation-node.json is a whole configuration of one organisation's node (docs/operations.md)", async () => {
    const { loadConfig } = await import('@ehmi/server/config');
    const config = loadConfig({ file: 'examples/operations/organisation-node.json', env: {}, cwd: ROOT });
    assert.equal(config.msh.enabled && config.ap.enabled, true);
    assert.equal(config.insecure, false);
    assert.equal(config.authorization?.issuer, 'https://auth.ehmi.example');
    assert.deepEqual(config.msh.clientTrustAnchors, ['/etc/ehmi/trust/network-root-ca.pem']);
    assert.equal(config.ap.discovery.smp?.zone, 'sml.ehmi.example');
    // The systemd unit starts that configuration with an organisation node's V8 flags and environment, as
    // bin/ehmi.js's #! line does.
    const { NODE_ENVIRONMENT, NODE_V8_FLAGS } = await import('@ehmi/server');
    const unit = readFileSync(join(ROOT, 'examples/operations/ehmi-node.service'), 'utf8');
    for (const [name, value] of Object.entries(NODE_ENVIRONMENT))
      assert.ok(unit.split('\n').includes(`Environment=${name}=${value}`), name);
    assert.match(
      unit,
      new RegExp(
        `^ExecStart=/usr/bin/node ${NODE_V8_FLAGS.join(' ')} /opt/ehmi/packages/cli/bin/ehmi\\.js up --config /etc/ehmi/node\\.json$`,
        'm',
      ),
    );
    assert.match(unit, /^KillSignal=SIGTERM$/m);
  });

  for (const file of files.filter((f) => kindOf(f) === 'message')) {
    it(`ehmi sbdh wrap ${file}: a valid ehmiSBDH`, async () => {
      const r = await ehmi('sbdh', 'wrap', file);
      assert.equal(r.code, 0, r.stderr);
      const dir = await mkdtemp(join(tmpdir(), 'ehmi-examples-'));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      const envelope = join(dir, 'envelope.xml');
      writeFileSync(envelope, r.stdout);
      const v = await ehmi('validate', envelope);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /valid against ehmiSBDH/);
    });
  }

  it('ehmi up --config examples/node.json starts EER and EAS; EER takes eer/carehome.json and EAS finds it; a second start on its ports fails cleanly; SIGTERM stops it', {
    timeout: 120_000,
  }, async () => {
    const data = await mkdtemp(join(tmpdir(), 'ehmi-examples-node-'));
    cleanup.push(() => rm(data, { recursive: true, force: true }));
    // The example's ports, moved to free ones (the environment wins over the file).
    const base = await freePortBase();
    const env = {
      ...cleanEnv(),
      EHMI_HTTP_PORT: String(base),
      EHMI_EER_PORT: String(base + 1),
      EHMI_EAS_PORT: String(base + 2),
      EHMI_EER_EAS_URL: `http://127.0.0.1:${base + 2}`,
    };
    const node = launch(
      process.execPath,
      [BIN, 'up', '--config', 'examples/node.json', '--data', join(data, 'registers')],
      { env },
    );
    cleanup.push(async () => {
      if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
    });
    await node.line(/^ready: /);
    assert.match(node.out(), new RegExp(`^eer +http://127\\.0\\.0\\.1:${base + 1} `, 'm'));
    assert.match(node.out(), new RegExp(`^eas +http://127\\.0\\.0\\.1:${base + 2} `, 'm'));

    const posted = await fetch(`http://127.0.0.1:${base + 1}`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      body: readFileSync(join(EXAMPLES, 'eer', 'carehome.json')),
    });
    assert.equal(posted.status, 200, await posted.text());
    const sor = '999991000016004';
    await eventually('EAS knows the care home', async () => {
      const r = await fetch(
        `http://127.0.0.1:${base + 2}/Organization/$getReceivingOrganizationBySORId?sorId=${sor}`,
      );
      const body = (await r.json()) as { total?: number };
      return r.status === 200 && body.total === 1 ? body : undefined;
    });

    const fresh = join(data, 'second');
    const second = launch(process.execPath, [BIN, 'up', '--config', 'examples/node.json', '--data', fresh], {
      env,
    });
    assert.equal((await second.exited).code, 3, second.err());
    // The example is insecure (development): each register says so once, and each server that /metrics is open
    // on (and the node's own server, its audit log), then the port in use stops the start.
    const [insecure, rest] = partition(second.err(), (l) => /"msg":"INSECURE \(development\)/.test(l));
    const said = insecure.map((l) => JSON.parse(l) as { role?: string; service?: string });
    assert.deepEqual(
      said.flatMap((l) => (l.role ? [l.role] : [])),
      ['eer', 'eas'],
    );
    assert.ok(
      said.every((l) => l.role || /\/(metrics|audit) to anyone/.test(JSON.stringify(l))),
      insecure.join(''),
    );
    assert.match(rest.join(''), /^ehmi: port \d+ is in use \(.*\)\n$/);
    assert.deepEqual(readdirSync(data), ['registers']);

    node.child.kill('SIGTERM');
    assert.deepEqual(await node.exited, { code: 0, signal: null }, node.err());
    assert.match(node.out(), /^stopped$/m);
    for (const port of [base, base + 1, base + 2]) assert.ok(await tcpFree(port), `port ${port} is free`);
  });
});

/** The lines of `text` (each with its newline) that `test` picks, and the others. */
function partition(text: string, test: (line: string) => boolean): [string[], string[]] {
  const lines = text.split(/(?<=\n)/).filter(Boolean);
  return [lines.filter(test), lines.filter((l) => !test(l))];
}
