import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { configKeys, envName, loadConfig } from '../../src/role-list.ts';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof EhmiError, `expected EhmiError, got ${String(err)}`);
    assert.equal(err.code, 'EHMI_CONFIG_INVALID');
    return err.message;
  }
  assert.fail('expected a configuration error');
}

async function configFile(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ehmi-config-'));
  const file = join(dir, 'node.json');
  await writeFile(file, content);
  return file;
}

describe('configuration', () => {
  it('has defaults for a node on a laptop: SQLite in ./.ehmi, port 8700 on loopback', () => {
    const c = loadConfig({ env: {}, cwd: '/srv' });
    assert.equal(c.dataDir, '/srv/.ehmi');
    assert.equal(c.database.url, undefined);
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.port, 8700);
    assert.equal(c.queue.maxAttempts, 10);
  });

  it('names environment variables after the key path', () => {
    assert.equal(envName(['http', 'port']), 'EHMI_HTTP_PORT');
    assert.equal(envName(['queue', 'leaseMs']), 'EHMI_QUEUE_LEASE_MS');
    assert.ok(configKeys().some((k) => k.key === 'dataDir' && k.env === 'EHMI_DATA_DIR'));
  });

  it('reads a file and lets the environment override it, with numbers coerced', async () => {
    const file = await configFile('{"http": {"port": 9000, "host": "0.0.0.0"}, "log": {"level": "warn"}}');
    const c = loadConfig({ file, env: { EHMI_HTTP_PORT: '9100' } });
    assert.equal(c.http.port, 9100);
    assert.equal(c.http.host, '0.0.0.0');
    assert.equal(c.log.level, 'warn');
  });

  it('takes DATABASE_URL for the database, and EHMI_DATABASE_URL over it', () => {
    assert.equal(loadConfig({ env: { DATABASE_URL: 'postgres://a/b' } }).database.url, 'postgres://a/b');
    assert.equal(
      loadConfig({ env: { DATABASE_URL: 'postgres://a/b', EHMI_DATABASE_URL: 'postgresql://c/d' } }).database
        .url,
      'postgresql://c/d',
    );
  });

  it('stops on an unknown key in the file, naming it', async () => {
    const file = await configFile('{"http": {"prot": 1}}');
    assert.match(
      configError(() => loadConfig({ file, env: {} })),
      /unknown configuration key "http\.prot"/,
    );
  });

  it('stops on an unknown EHMI_ variable, naming it and listing the known ones', () => {
    const msg = configError(() => loadConfig({ env: { EHMI_HTTP_PROT: '1' } }));
    assert.match(msg, /unknown configuration variable EHMI_HTTP_PROT/);
    assert.match(msg, /EHMI_HTTP_PORT/);
  });

  it('stops on a bad value, naming the key, where it came from, and what is expected', async () => {
    assert.match(
      configError(() => loadConfig({ env: { EHMI_HTTP_PORT: '70000' } })),
      /configuration key "http\.port" \(from EHMI_HTTP_PORT\): .*<=65535/,
    );
    assert.match(
      configError(() => loadConfig({ env: { EHMI_HTTP_PORT: 'eighty' } })),
      /EHMI_HTTP_PORT.*expected a number/,
    );
    assert.match(
      configError(() => loadConfig({ env: { DATABASE_URL: 'mysql://x' } })),
      /"database\.url" \(from DATABASE_URL\): expected a postgres:\/\/ or postgresql:\/\/ URL/,
    );
    const file = await configFile('{"log": {"level": "loud"}}');
    assert.match(
      configError(() => loadConfig({ file, env: {} })),
      /"log\.level" \(from .*node\.json\): .*"info"/,
    );
  });

  it('stops on a config file that is missing or not JSON', async () => {
    assert.match(
      configError(() => loadConfig({ file: '/nonexistent/x.json', env: {} })),
      /cannot read config file/,
    );
    const file = await configFile('{ not json');
    assert.match(
      configError(() => loadConfig({ file, env: {} })),
      /is not valid JSON/,
    );
  });

  it('ignores variables that are not configuration (EHMI_CONFIG, EHMI_DEBUG, EHMI_TEST_*)', async () => {
    const file = await configFile('{}');
    assert.doesNotThrow(() => loadConfig({ env: { EHMI_CONFIG: file, EHMI_DEBUG: '1', EHMI_TEST_X: 'y' } }));
  });
});
