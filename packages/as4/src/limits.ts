import { EhmiError } from '@ehmi/errors';

/**
 * Resource limits of the AS4 receive path, declared in one place with their reason (docs/architecture.md
 * "Limits"). Each one has a test that goes one byte (or one part) over.
 */
export interface As4Limits {
  /**
   * Most MIME parts in one message, the SOAP root part included. phase4 #382 showed 10,000 tiny parts costing
   * 644 MB of heap; EHMI messages carry one payload (the ehmiSBDH), so 101 leaves room for batches.
   */
  maxParts: number;
  /**
   * Most octets in the header block of one MIME part (names, values and line ends). Real AS4 parts carry
   * 3–5 short headers (< 500 octets); oversized headers returned HTTP 500 in phase4 #382. multipasta itself
   * refuses more than 16 KiB or 100 header lines.
   */
  maxPartHeaderBytes: number;
  /** Most octets of the whole HTTP body. 2 GiB is the Domibus default maximum without Split & Join. */
  maxTotalBytes: number;
  /**
   * Most octets of the SOAP envelope (the root part), which is parsed into a DOM and so held in memory.
   * A signed and encrypted envelope is 10–30 KB; payloads never belong in the Body (eDelivery AS4 1.15 §2.2.3.1).
   */
  maxEnvelopeBytes: number;
  /**
   * Most octets one compressed part may expand to (eDelivery AS4 1.15 §2.2.3.3 gzip): a bound against
   * decompression bombs (a 1 MiB gzip stream can inflate to 1 GiB). Same 2 GiB ceiling as the message.
   */
  maxDecompressedBytes: number;
  /**
   * Most octets a compressed part may expand to per octet of its compressed size, once it is past
   * `decompressionRatioFreeBytes`: a gzip bomb (gzip reaches about 1,000:1 on repeated octets) is stopped after a few
   * hundred megabytes instead of at `maxDecompressedBytes`. XML and FHIR payloads compress 5–30:1; base64 content
   * about 1.3:1.
   */
  maxDecompressionRatio: number;
  /** Octets any compressed part may expand to whatever its ratio (a small but very regular payload). */
  decompressionRatioFreeBytes: number;
}

/** The defaults; callers pass a partial object to override. */
export const DEFAULT_AS4_LIMITS: Readonly<As4Limits> = Object.freeze({
  maxParts: 101,
  maxPartHeaderBytes: 8 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
  maxEnvelopeBytes: 4 * 1024 * 1024,
  maxDecompressedBytes: 2 * 1024 * 1024 * 1024,
  maxDecompressionRatio: 100,
  decompressionRatioFreeBytes: 10 * 1024 * 1024,
});

/**
 * The defaults overridden by `partial`; a limit that is not a positive integer is a configuration error.
 *
 * @example
 * const limits = resolveLimits({ maxParts: 10 });
 */
export function resolveLimits(partial: Partial<As4Limits> = {}): As4Limits {
  const limits = { ...DEFAULT_AS4_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `AS4 limit ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  return limits;
}
