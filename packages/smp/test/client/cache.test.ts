import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TtlCache } from '../../src/index.ts';

describe('TtlCache', () => {
  it('returns a cached value until the TTL has passed', async () => {
    let now = 1_000;
    let loads = 0;
    const cache = new TtlCache<number>(100, { now: () => now });
    const load = async () => ++loads;
    assert.equal(await cache.get('k', load), 1);
    now += 99;
    assert.equal(await cache.get('k', load), 1);
    now += 2;
    assert.equal(await cache.get('k', load), 2);
  });

  it('drops the oldest entry beyond maxEntries', async () => {
    const cache = new TtlCache<string>(60_000, { maxEntries: 2 });
    for (const k of ['a', 'b', 'c']) await cache.get(k, async () => k);
    assert.equal(cache.size, 2);
    let reloaded = false;
    await cache.get('a', async () => {
      reloaded = true;
      return 'a';
    });
    assert.ok(reloaded);
  });

  it('runs one loader for concurrent gets of a key', async () => {
    let loads = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const cache = new TtlCache<number>(0);
    const load = async () => {
      loads++;
      await released;
      return loads;
    };
    // All three ask while the first load is still running.
    const gets = [cache.get('k', load), cache.get('k', load), cache.get('k', load)];
    release();
    const values = await Promise.all(gets);
    assert.deepEqual(values, [1, 1, 1]);
    assert.equal(loads, 1);
  });

  it('does not keep a failure', async () => {
    const cache = new TtlCache<number>(60_000);
    await assert.rejects(cache.get('k', async () => Promise.reject(new Error('down'))));
    assert.equal(await cache.get('k', async () => 7), 7);
  });
});
