import { DSIG_NS } from '@ehmi/xmldsig';

/** Namespace URIs used by AS4 (ebMS3 Core §5, AS4 Profile §2, WSS 1.1). Internal. */
export const NS = {
  S12: 'http://www.w3.org/2003/05/soap-envelope',
  S11: 'http://schemas.xmlsoap.org/soap/envelope/',
  EB: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/',
  EBBP: 'http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0',
  DS: DSIG_NS.ds,
  WSSE: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  WSU: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  XENC: 'http://www.w3.org/2001/04/xmlenc#',
  XMLNS: DSIG_NS.xmlns,
} as const;

/**
 * ebMS3 Core §5.2.2.3: the default roles, MEP and MPC values, and the test Service/Action (exported: a P-Mode for
 * connectivity tests, e.g. Domibus' connection monitoring or the eDelivery conformance test bed, names them).
 *
 * @example
 * const ping = createPMode({ ...partners, service: { value: EBMS_URI.testService }, action: EBMS_URI.testAction });
 */
export const EBMS_URI = {
  defaultMpc: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC',
  defaultFrom: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator',
  defaultTo: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder',
  oneWay: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/oneWay',
  twoWay: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/twoWay',
  push: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/push',
  /** AS4 Profile §5.1.5 / eDelivery AS4 1.15 §2.2.3.2: the test service and action. */
  testService: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/service',
  testAction: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/test',
} as const;
