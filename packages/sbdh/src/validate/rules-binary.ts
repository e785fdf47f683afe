import type { EhmiEnvelope, EnvelopeIssue } from '../model.ts';
import { decodeBase64 } from '../parse/base64.ts';
import { readSignal } from '../receipt/signal.ts';
import { checkPayload } from './payload.ts';
import type { EnvelopeKind, Report } from './report.ts';

/** BinaryContent: base64 that decodes, and the payload its mimeType and the envelope's kind say. */
export function checkBinaryContent(
  envelope: EhmiEnvelope,
  kind: EnvelopeKind,
  error: Report,
  issues: EnvelopeIssue[],
): void {
  const bc = envelope.binaryContent;
  const bytes = decodeBase64(bc.base64);
  if (!bytes) {
    error(
      'base64',
      'BinaryContent',
      bc.base64 === '' ? 'BinaryContent is empty' : 'BinaryContent is not valid base64',
    );
    return;
  }
  if (kind === 'receipt') {
    // "Receipt BinaryContent = base64 of the bpssignal … with mimeType application/xml".
    if (bc.mimeType !== 'application/xml')
      error(
        'mimetype',
        'BinaryContent/@mimeType',
        `an EnvelopeReceipt carries application/xml, not ${bc.mimeType}`,
      );
    // The embedded signal "in principle contains the same information, but … does not need to be checked when it
    // is a ReceiptAcknowledgement" (ehmiSBDHEnvelopeReceipt): its deviations are warnings.
    // A ReceiptException's signal carries the reason the business transaction ends: one that cannot be read at all
    // (not XML, another root) is a broken BinaryContent there. MedCom's own ReceiptAcknowledgement samples embed a
    // signal that is not well-formed, so for those it stays a warning.
    const type = envelope.documentIdentification.type;
    const { signal, issues: signalIssues } = readSignal(bytes);
    for (const i of signalIssues)
      issues.push(!signal && type === 'ReceiptException' ? i : { ...i, severity: 'warning' });
    if (signal && signal.kind === 'Exception' && type !== 'ReceiptException') {
      error('signal-type', 'BinaryContent', `the signal is an Exception but Type is '${type}'`);
    }
    if (signal && signal.kind === 'ReceiptAcknowledgement' && type === 'ReceiptException') {
      error(
        'signal-type',
        'BinaryContent',
        'the signal is a ReceiptAcknowledgement but Type is ReceiptException',
      );
    }
    return;
  }
  issues.push(...checkPayload(envelope, bytes));
}
