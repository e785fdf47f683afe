import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { NODE_V8_FLAGS } from '../src/runtime.ts';

const ROOT = new URL('../../../', import.meta.url);

describe("the node's V8 flags", () => {
  it('npm start passes every one of them to node', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
      scripts: { start: string };
    };
    const words = pkg.scripts.start.split(/\s+/);
    const script = words.indexOf('packages/cli/bin/ehmi.js');
    assert.ok(script > 0, pkg.scripts.start);
    assert.deepEqual(words.slice(words.indexOf('node') + 1, script), [...NODE_V8_FLAGS]);
  });

  it("bin/ehmi.js's #! line passes every one of them to node", () => {
    const first = readFileSync(new URL('packages/cli/bin/ehmi.js', ROOT), 'utf8').split('\n')[0]!;
    assert.equal(first, `#!/usr/bin/env -S node ${NODE_V8_FLAGS.join(' ')}`);
  });

  it('node takes them: the young generation stays at 8 MiB where it grows beyond without them', () => {
    // Garbage with survivors: what makes V8 grow its semi-spaces to their maximum.
    const churn =
      'let k = []; for (let i = 0; i < 3e6; i++) { k.push({ i }); if (k.length > 3e5) k = []; }' +
      "process.stdout.write(String(require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size))";
    const youngGeneration = (flags: readonly string[]) =>
      Number(
        execFileSync(process.execPath, [...flags, '-e', churn], {
          encoding: 'utf8',
          env: { ...process.env, NODE_OPTIONS: '' },
        }),
      );
    assert.ok(youngGeneration([]) > 8 * 1024 * 1024);
    assert.equal(youngGeneration(NODE_V8_FLAGS), 8 * 1024 * 1024);
  });
});
