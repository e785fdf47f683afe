/**
 * The path of a message through the node's durable job queues, in the order a message takes them
 * (docs/architecture.md "The path of a message" draws it with the file that handles each step). Every hop is a job
 * committed in the same transaction as the state it moves on from, so a crash between hops loses nothing and a
 * repeated job changes nothing.
 *
 * Sending side:   EUA → MSH submit → `msh.dispatch` → AP → `ap.send` → AS4 over HTTPS → receiving AP
 * Receiving side: receiving AP → `ap.deliver` → MSH deliver → EnvelopeReceipt back on the sending path
 * Back:           sending AP gets the AS4 receipt (or gives up) → `ap.outcome` → MSH records it
 */
export const QUEUES = {
  /** MSH → its access point: a submitted, wrapped envelope is handed over (msh/outbound/dispatch.ts). */
  dispatch: 'msh.dispatch',
  /** Access point → the receiver's access point: one AS4 UserMessage, retried until receipted (ap/send.ts). */
  send: 'ap.send',
  /** Receiving access point → its MSH: a received envelope (ap/handover.ts → msh/inbound). */
  deliver: 'ap.deliver',
  /** Sending access point → its MSH: the AS4 receipt, or the reason the send failed (ap/handover.ts). */
  outcome: 'ap.outcome',
  /** Every station → EHMI Delivery Status: each step as an AuditEvent, retried until EDS took it (delivery-status/). */
  edsReport: 'eds.report',
  /** MSH → the EUA's webhook receivers: one event, POSTed until a 2xx or its last try (msh/webhooks/). */
  webhook: 'msh.webhook',
} as const;

/** The hops in the order a message takes them. */
export const MESSAGE_PATH = [QUEUES.dispatch, QUEUES.send, QUEUES.deliver, QUEUES.outcome] as const;
