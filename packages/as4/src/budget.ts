import { EhmiError } from '@ehmi/errors';

/**
 * A pool of octets shared by the messages a receiver processes at once: the SOAP envelopes it holds in memory, the
 * payloads it has decompressed to disk. One message alone may be within its own limits (`limits.ts`) while a
 * thousand of them at once are not; the pool bounds the sum. A message takes from the pool through its own
 * {@link ByteLease} and gives everything back when it is done, whatever the outcome.
 *
 * A pool that runs dry is the receiver's condition, not the message's fault: the message is refused with
 * EHMI_UNAVAILABLE (HTTP 503, EBMS:0004, retryable), so the sender tries again later.
 *
 * @example
 * const envelopes = new ByteBudget(64 * 1024 * 1024, 'buffered SOAP envelopes');
 * const lease = envelopes.lease();
 * try { lease.take(chunk.length); … } finally { lease.release(); }
 */
export class ByteBudget {
  readonly max: number;
  readonly what: string;
  #used = 0;

  constructor(max: number, what: string) {
    if (!Number.isSafeInteger(max) || max <= 0) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `the budget for ${what} must be a positive integer, got ${max}`,
      );
    }
    this.max = max;
    this.what = what;
  }

  /** Octets currently taken by all leases. */
  get used(): number {
    return this.#used;
  }

  /** A message's share of the pool: what it takes is counted, and given back at once by `release`. */
  lease(): ByteLease {
    let held = 0;
    let released = false;
    return {
      take: (octets: number) => {
        if (released) throw new EhmiError('EHMI_INTERNAL', `a released lease of ${this.what} was used`);
        if (this.#used + octets > this.max) {
          throw new EhmiError(
            'EHMI_UNAVAILABLE',
            `the receiver is at its limit of ${this.max} octets of ${this.what} across the messages in progress; try again later`,
            { details: { limit: this.what, max: this.max } },
          );
        }
        this.#used += octets;
        held += octets;
      },
      get held() {
        return held;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#used -= held;
        held = 0;
      },
    };
  }
}

/** One message's share of a {@link ByteBudget}. */
export interface ByteLease {
  /** Counts `octets` against the pool; throws EHMI_UNAVAILABLE (nothing taken) when the pool cannot give them. */
  take(octets: number): void;
  /** Octets this lease holds. */
  readonly held: number;
  /** Gives back everything this lease holds. Safe to call more than once. */
  release(): void;
}

/** The pools a receiver shares between the messages it processes at once (see {@link ByteBudget}). */
export interface ReceiveBudgets {
  /** Octets of SOAP envelopes (root parts) held in memory. */
  envelopes?: ByteBudget;
  /** Octets of decompressed payloads written out (temporary files). */
  decompressed?: ByteBudget;
}
