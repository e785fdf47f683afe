import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addMinutes, formatDateTime, isXsdDateTime } from '../src/time.ts';

describe('time: xs:dateTime with offset', () => {
  it('writes Copenhagen winter time with +01:00', () => {
    assert.equal(
      formatDateTime(new Date('2025-04-01T15:19:00Z'), 'Europe/Copenhagen'),
      '2025-04-01T17:19:00+02:00',
    );
    assert.equal(formatDateTime(new Date('2026-01-15T08:00:00Z')), '2026-01-15T09:00:00+01:00');
  });

  it('adds the 10-minute response time in the same offset', () => {
    assert.equal(addMinutes('2025-04-01T16:19:00+01:00', 10), '2025-04-01T16:29:00+01:00');
    assert.equal(addMinutes('2025-12-31T23:55:00Z', 10), '2026-01-01T00:05:00Z');
  });

  it('rejects the prose form with hyphens in the time', () => {
    assert.equal(isXsdDateTime('2025-04-01T16-19-00+01:00'), false);
    assert.equal(isXsdDateTime('2025-04-01T16:19:00.000+01:00'), true);
  });
});
