/**
 * A small TTL cache with in-flight sharing: concurrent `get`s of one key run the loader once. Failures are not
 * cached. Entries are dropped lazily and when the cache is over `maxEntries` (oldest first).
 *
 * @example
 * const cache = new TtlCache<string>(60_000);
 * const url = await cache.get(key, () => discover(participant));
 */
export class TtlCache<T> {
  readonly #entries = new Map<string, { value: T; expires: number }>();
  readonly #inflight = new Map<string, Promise<T>>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(ttlMs: number, options: { maxEntries?: number; now?: () => number } = {}) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The cached value of `key`, or `load`'s (shared with a load in flight). `fresh`: the cached value is not used, and
   * the loaded one replaces it.
   */
  async get(key: string, load: () => Promise<T>, options: { fresh?: boolean } = {}): Promise<T> {
    const hit = options.fresh ? undefined : this.#entries.get(key);
    if (hit) {
      if (hit.expires > this.#now()) return hit.value;
      this.#entries.delete(key);
    }
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const p = load().then(
      (value) => {
        this.#inflight.delete(key);
        if (this.#ttlMs > 0) {
          this.#entries.set(key, { value, expires: this.#now() + this.#ttlMs });
          if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
        }
        return value;
      },
      (err: unknown) => {
        this.#inflight.delete(key);
        throw err;
      },
    );
    this.#inflight.set(key, p);
    return p;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
