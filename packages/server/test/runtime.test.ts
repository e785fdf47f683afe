import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CENTRAL_NODE_V8_FLAGS, NODE_ENVIRONMENT, NODE_V8_FLAGS, nodeEnvironment } from '../src/runtime.ts';

const ROOT = new URL('../../../', import.meta.url);
const MiB = 1024 * 1024;
/** `NAME=value` words of NODE_ENVIRONMENT, in its order. */
const assignments = Object.entries(NODE_ENVIRONMENT).map(([k, v]) => `${k}=${v}`);

describe("the node's V8 flags and environment", () => {
  it('npm start gives node the environment and every organisation flag', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
      scripts: { start: string };
    };
    const words = pkg.scripts.start.split(/\s+/);
    const node = words.indexOf('node');
    const script = words.indexOf('packages/cli/bin/ehmi.js');
    assert.ok(script > node && node > 0, pkg.scripts.start);
    // The caller's own tunables follow ours: glibc takes the last setting of a name.
    assert.deepEqual(words.slice(words.indexOf('env') + 1, node), [`${assignments[0]}:$GLIBC_TUNABLES`]);
    assert.deepEqual(words.slice(node + 1, script), [...NODE_V8_FLAGS]);
  });

  it("bin/ehmi.js's #! line gives node the environment and every organisation flag", () => {
    const first = readFileSync(new URL('packages/cli/bin/ehmi.js', ROOT), 'utf8').split('\n')[0]!;
    assert.equal(
      first,
      `#!/usr/bin/env -S ${assignments[0]}:\${GLIBC_TUNABLES} node ${NODE_V8_FLAGS.join(' ')}`,
    );
  });

  it("the #! line keeps an operator's glibc tunables, after ours (env -S expands them)", () => {
    const first = readFileSync(new URL('packages/cli/bin/ehmi.js', ROOT), 'utf8').split('\n')[0]!;
    // What the kernel runs for the #! line: env, its one argument, then the script's own arguments.
    const run = (tunables: string | undefined) => {
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
      if (tunables === undefined) delete env.GLIBC_TUNABLES;
      else env.GLIBC_TUNABLES = tunables;
      return execFileSync(
        '/usr/bin/env',
        [first.slice('#!/usr/bin/env '.length), '-e', 'process.stdout.write(process.env.GLIBC_TUNABLES)'],
        { encoding: 'utf8', env },
      );
    };
    if (process.platform !== 'linux') return; // env -S and glibc: the Linux deployments'
    assert.equal(run(undefined), `${NODE_ENVIRONMENT.GLIBC_TUNABLES}:`);
    assert.equal(
      run('glibc.malloc.arena_max=2'),
      `${NODE_ENVIRONMENT.GLIBC_TUNABLES}:glibc.malloc.arena_max=2`,
    );
  });

  it("the environment keeps a caller's glibc tunables after ours, so that theirs win", () => {
    assert.equal(nodeEnvironment({}).GLIBC_TUNABLES, NODE_ENVIRONMENT.GLIBC_TUNABLES);
    const env = nodeEnvironment({
      PATH: '/bin',
      GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=999999',
    });
    assert.equal(env.PATH, '/bin');
    assert.equal(
      env.GLIBC_TUNABLES,
      `${NODE_ENVIRONMENT.GLIBC_TUNABLES}:glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=999999`,
    );
  });

  it("node takes them: an organisation's young generation stays at 8 MiB, the central node's grows to 16", () => {
    // Garbage with survivors: what makes V8 grow its semi-spaces to their maximum.
    const churn =
      'let k = []; for (let i = 0; i < 6e6; i++) { k.push({ i }); if (k.length > 6e5) k = []; }' +
      "process.stdout.write(String(require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size))";
    const youngGeneration = (flags: readonly string[]) =>
      Number(
        execFileSync(process.execPath, [...flags, '-e', churn], {
          encoding: 'utf8',
          env: { ...nodeEnvironment(process.env), NODE_OPTIONS: '' },
        }),
      );
    assert.equal(youngGeneration(NODE_V8_FLAGS), 8 * MiB);
    assert.equal(youngGeneration(CENTRAL_NODE_V8_FLAGS), 16 * MiB);
  });

  it('glibc takes the environment: a freed 256 KiB Buffer is returned, not kept in its heap', () => {
    // Allocate and free many chunk-sized Buffers, as a large payload's pipeline does; with the dynamic threshold
    // glibc serves them from its heap (brk) after the first is freed, and the heap keeps them.
    const churn =
      'const keep = []; for (let r = 0; r < 8; r++) { for (let i = 0; i < 64; i++) keep.push(Buffer.allocUnsafe(256 * 1024).fill(1)); keep.length = 0; globalThis.gc(); }' +
      "const heap = require('node:fs').readFileSync('/proc/self/smaps', 'utf8').split(/\\n(?=[0-9a-f]+-)/).find((m) => m.includes('[heap]'));" +
      'process.stdout.write(String(heap ? Number(/\\nRss:\\s+(\\d+) kB/.exec(heap)[1]) * 1024 : 0))';
    const heapRss = (env: NodeJS.ProcessEnv) =>
      Number(
        execFileSync(process.execPath, ['--expose-gc', '-e', churn], {
          encoding: 'utf8',
          env: { ...env, NODE_OPTIONS: '' },
        }),
      );
    const without = { ...process.env };
    delete without.GLIBC_TUNABLES;
    if (process.platform !== 'linux' || heapRss(without) < 8 * MiB) return; // not glibc's malloc
    assert.ok(heapRss(nodeEnvironment(without)) < 8 * MiB);
  });
});
