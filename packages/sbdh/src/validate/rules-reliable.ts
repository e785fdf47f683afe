import {
  BUSINESS_SERVICE_REQUEST,
  BUSINESS_SERVICE_RESPONSE,
  RECEIPT_SCOPE,
  RESPONSE_TIME_MINUTES,
} from '../constants.ts';
import type { EhmiEnvelope, Scope } from '../model.ts';
import { addMinutes, hasOffset } from '../time.ts';
import { at, type EnvelopeKind, type Report } from './report.ts';

/**
 * "Reliable messaging": Request on messages and acknowledgements, Response on EnvelopeReceipts ("An ehmiSBDH
 * EnvelopeReceipt is never acknowledged"), with CorrelationInformation and the matching BusinessService.
 */
export function checkReliableMessaging(
  envelope: EhmiEnvelope,
  kind: EnvelopeKind,
  s: Scope | undefined,
  error: Report,
  warning: Report,
): void {
  const where = at(RECEIPT_SCOPE);
  if (!s) {
    if (kind === 'receipt')
      error(
        'receipt-scope-missing',
        where,
        'an EnvelopeReceipt needs the EHMI-ReceiptAcknowledgement Response scope',
      );
    else
      warning(
        'receipt-scope-missing',
        where,
        'no EHMI-ReceiptAcknowledgement Request: reliable messaging is off',
      );
    return;
  }
  const di = envelope.documentIdentification;
  const mode = s.instanceIdentifier;
  if (mode !== 'Request' && mode !== 'Response') {
    error('receipt-scope', where, `InstanceIdentifier is '${mode}', not Request or Response`);
    return;
  }
  if (kind === 'receipt' && mode === 'Request')
    error(
      'receipt-scope',
      where,
      'An ehmiSBDH EnvelopeReceipt is never acknowledged: it cannot carry a Request',
    );
  if (kind !== 'receipt' && mode === 'Response')
    warning(
      'variant-response-on-message',
      where,
      `a ${di.standard} envelope carries Response where the IG uses Request`,
    );
  const ci = s.correlationInformation;
  if (!ci)
    error('correlation-missing', `${where}/CorrelationInformation`, 'CorrelationInformation is missing');
  const name = s.businessService?.businessServiceName;
  const expectedName = mode === 'Request' ? BUSINESS_SERVICE_REQUEST : BUSINESS_SERVICE_RESPONSE;
  if (!s.businessService)
    error('business-service-missing', `${where}/BusinessService`, 'BusinessService is missing');
  else if (name !== expectedName)
    warning(
      'business-service-name',
      `${where}/BusinessService/BusinessServiceName`,
      `'${name}' on a ${mode}; expected ${expectedName}`,
    );
  const tst = s.businessService?.serviceTransaction.TypeOfServiceTransaction;
  const expectedTst = mode === 'Request' ? 'RequestingServiceTransaction' : 'RespondingServiceTransaction';
  if (tst !== undefined && tst !== expectedTst) {
    warning(
      'service-transaction',
      `${where}/BusinessService/ServiceTransaction/@TypeOfServiceTransaction`,
      `'${tst}' on a ${mode}; expected ${expectedTst}`,
    );
  }
  if (ci && mode === 'Request') {
    // "RequestingDocumentInstanceIdentifier is the original envelope's identifier = DocumentIdentification/InstanceIdentifier".
    if (ci.requestingDocumentInstanceIdentifier !== di.instanceIdentifier) {
      warning(
        'correlation-instance',
        `${where}/CorrelationInformation/RequestingDocumentInstanceIdentifier`,
        `'${ci.requestingDocumentInstanceIdentifier}' differs from the envelope's InstanceIdentifier '${di.instanceIdentifier}'`,
      );
    }
    if (Date.parse(ci.requestingDocumentCreationDateTime) !== Date.parse(di.creationDateAndTime)) {
      warning(
        'correlation-time',
        `${where}/CorrelationInformation/RequestingDocumentCreationDateTime`,
        `'${ci.requestingDocumentCreationDateTime}' differs from CreationDateAndTime '${di.creationDateAndTime}'`,
      );
    }
    const expected = ci.expectedResponseDateTime;
    if (
      expected &&
      hasOffset(ci.requestingDocumentCreationDateTime) &&
      Date.parse(expected) !==
        Date.parse(addMinutes(ci.requestingDocumentCreationDateTime, RESPONSE_TIME_MINUTES))
    ) {
      warning(
        'correlation-expected',
        `${where}/CorrelationInformation/ExpectedResponseDateTime`,
        `'${expected}' is not RequestingDocumentCreationDateTime + ${RESPONSE_TIME_MINUTES} min (Production Pilot)`,
      );
    }
  }
}
