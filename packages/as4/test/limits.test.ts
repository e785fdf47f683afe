import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_AS4_LIMITS, resolveLimits } from '../src/limits.ts';

describe('resolveLimits', () => {
  it('returns the defaults when nothing is overridden', () => {
    assert.deepEqual(resolveLimits(), { ...DEFAULT_AS4_LIMITS });
  });

  it('overrides one limit and keeps the others', () => {
    const l = resolveLimits({ maxParts: 5 });
    assert.equal(l.maxParts, 5);
    assert.equal(l.maxTotalBytes, DEFAULT_AS4_LIMITS.maxTotalBytes);
  });

  it('refuses a limit that is not a positive integer', () => {
    assert.throws(() => resolveLimits({ maxParts: 0 }), { code: 'EHMI_CONFIG_INVALID' });
    assert.throws(() => resolveLimits({ maxTotalBytes: 1.5 }), { code: 'EHMI_CONFIG_INVALID' });
  });

  it('freezes the defaults', () => {
    assert.throws(() => {
      (DEFAULT_AS4_LIMITS as { maxParts: number }).maxParts = 1;
    }, TypeError);
  });
});
