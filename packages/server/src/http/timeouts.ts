/** How long the server waits for a client, at each stage of a connection (DESIGN-NOTES.md "HTTP timeouts"). */
export interface HttpTimeouts {
  /** Time to receive a request's complete header block; a client that trickles its headers is cut after it. */
  headersTimeoutMs: number;
  /**
   * Time to receive a whole request, body included; bounds a client that trickles its body. Long enough for a
   * large AS4 upload (100 MB in 10 minutes is 1.4 Mbit/s).
   */
  requestTimeoutMs: number;
  /** A connection on which nothing arrives or leaves for this long (mid-request or mid-response) is closed. */
  idleTimeoutMs: number;
  /** An idle keep-alive connection between requests is closed after this. */
  keepAliveTimeoutMs: number;
  /**
   * On close, requests in flight get this long to finish; then every connection still open is ended, so a stop (or a
   * restart on the same ports) never waits for a client that sent half a request.
   */
  closeGraceMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 600_000,
  idleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 72_000,
  closeGraceMs: 5_000,
});

/** The timeouts of the node's `http` configuration. */
export function timeoutsOf(http: HttpTimeouts): HttpTimeouts {
  return {
    headersTimeoutMs: http.headersTimeoutMs,
    requestTimeoutMs: http.requestTimeoutMs,
    idleTimeoutMs: http.idleTimeoutMs,
    keepAliveTimeoutMs: http.keepAliveTimeoutMs,
    closeGraceMs: http.closeGraceMs,
  };
}
