// The ehmi process when whoever reads its output goes away first (`ehmi track ID | head -1`, `ehmi --help | true`):
// no "Unhandled 'error' event" stack trace, the command's own exit code.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/ehmi.js', import.meta.url));

function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Close our end of the stdout pipe before the CLI (tsx start-up takes far longer) writes anything.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('ehmi with a closed stdout pipe', () => {
  it('--help exits 0 without an EPIPE stack trace', async () => {
    const r = await runWithClosedStdout(['--help']);
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled 'error' event/);
    assert.equal(r.code, 0);
  });

  it('a command that fails after its output keeps its exit code (no network: 4, one line)', async () => {
    const r = await runWithClosedStdout(['inbox', 'gp', '--data', '/nonexistent-ehmi-data']);
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled 'error' event/);
    assert.equal(r.code, 4);
  });
});
