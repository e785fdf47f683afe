/** How long the server waits for a client, at each stage of a connection (DESIGN-NOTES.md "HTTP timeouts"). */
export interface HttpTimeouts {
  /** Time to receive a request's complete header block; a client that trickles its headers is cut after it. */
  headersTimeoutMs: number;
  /**
   * The window of the minimum body rate: a request whose body brings fewer than `minBodyBytesPerWindow` octets in a
   * window, while the server waits for it, is cut. There is no limit on a whole request's time: a 2 GiB upload on a
   * slow link is legitimate as long as it keeps moving.
   */
  bodyRateWindowMs: number;
  /** The octets a request body must bring per `bodyRateWindowMs` (a client that trickles its body is cut). */
  minBodyBytesPerWindow: number;
  /**
   * A connection on which nothing arrives or leaves for this long while the client has the turn (sending its
   * request, reading the answer) is closed. While the server works on a request whose body is in, it does not run.
   */
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
  bodyRateWindowMs: 10_000,
  // 8 KiB per 10 s is 6.5 kbit/s: far below any real link, far above a client that holds a connection with a trickle.
  minBodyBytesPerWindow: 8 * 1024,
  idleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 72_000,
  closeGraceMs: 5_000,
});

/** The timeouts of the node's `http` configuration. */
export function timeoutsOf(http: HttpTimeouts): HttpTimeouts {
  return {
    headersTimeoutMs: http.headersTimeoutMs,
    bodyRateWindowMs: http.bodyRateWindowMs,
    minBodyBytesPerWindow: http.minBodyBytesPerWindow,
    idleTimeoutMs: http.idleTimeoutMs,
    keepAliveTimeoutMs: http.keepAliveTimeoutMs,
    closeGraceMs: http.closeGraceMs,
  };
}
