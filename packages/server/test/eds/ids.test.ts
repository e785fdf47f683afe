import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventId, eventRows } from '../../src/eds/repository.ts';
import { edsFixture } from './helpers.ts';

describe('EDS event ids', () => {
  it('are UUIDs of version 7 whose order follows the time they were made in', () => {
    const t = Date.UTC(2026, 11, 7, 12);
    const ids = [eventId(t), eventId(t + 1), eventId(t + 1000), eventId(t + 86_400_000)];
    for (const id of ids)
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(ids[0]!.slice(0, 13).replace('-', ''), t.toString(16).padStart(12, '0'));
    assert.notEqual(eventId(t), eventId(t), 'random after the time');
  });

  it('a stored event gets one, and its index rows carry it', () => {
    const now = Date.UTC(2026, 11, 7, 12);
    const rows = eventRows(edsFixture('AuditEvent-EDS-PDS-06.1.json'), now);
    assert.match(rows.event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    assert.equal(rows.stored.resource.id, rows.event.id);
    assert.ok(rows.search.length > 0 && rows.search.every((r) => r.event_id === rows.event.id));
  });
});
