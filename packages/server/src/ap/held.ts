import type { LoadedEnvelope } from '@ehmi/sbdh';

/** A received envelope as the receiving AP read it whole: its octets and the document parsed from them. */
export interface HeldEnvelope {
  /** `sha256:<hex>` of `bytes`: the blob the hand-over names. */
  hash: string;
  bytes: Buffer;
  loaded: LoadedEnvelope;
}

/** Envelopes up to this size are read whole by the receiving AP for its EDS facts (larger: the header only). */
export const HELD_ENVELOPE_BYTES = 256 * 1024;

/**
 * Received envelopes the AP read and parsed at its commit, held for their hand-over to the MSH of this process, so
 * the MSH neither reads the blob again nor parses its text again. Taken once, by AS4 MessageId, and only for the
 * same blob. Bounded by octets (the oldest go first): a hand-over that finds none (run by another instance, after a
 * restart, or late) reads the blob as before. Nothing here is durable: the blob and its row are.
 */
export class HeldEnvelopes {
  readonly #held = new Map<string, HeldEnvelope>();
  #bytes = 0;

  constructor(readonly maxBytes = 4 * 1024 * 1024) {}

  hold(messageId: string, held: HeldEnvelope): void {
    if (held.bytes.byteLength > this.maxBytes) return;
    this.#drop(messageId);
    this.#held.set(messageId, held);
    this.#bytes += held.bytes.byteLength;
    for (const [id, oldest] of this.#held) {
      if (this.#bytes <= this.maxBytes) break;
      this.#held.delete(id);
      this.#bytes -= oldest.bytes.byteLength;
    }
  }

  /** The envelope held for `messageId` when it is the blob `hash`; it is held no longer either way. */
  take(messageId: string, hash: string): HeldEnvelope | undefined {
    const held = this.#drop(messageId);
    return held?.hash === hash ? held : undefined;
  }

  get size(): number {
    return this.#held.size;
  }

  #drop(messageId: string): HeldEnvelope | undefined {
    const held = this.#held.get(messageId);
    if (held) {
      this.#held.delete(messageId);
      this.#bytes -= held.bytes.byteLength;
    }
    return held;
  }
}
