import type {
  Bundle,
  Coding,
  MessageHeader,
  MessageHeaderDestination,
  OperationOutcome,
  OperationOutcomeIssue,
  Organization,
  Provenance,
  Resource,
} from '@medplum/fhirtypes';
import { messageHeaderOf, requireInBundle, resolveInBundle } from './bundle.ts';
import { type BuildContext, entry, instant, invalidInput, ref, resolveContext } from './common.ts';
import { ACKNOWLEDGEMENT_FULLURL_BASE, EXTENSION, PROFILE, SYSTEM } from './medcom.ts';
import { addNarratives } from './narrative.ts';
import { resendMessage } from './resend.ts';

/** `MessageHeader.response.code` (R4 response-code): ok = AA, fatal-error = AE, transient-error = AR. */
export type AcknowledgementCode = 'ok' | 'transient-error' | 'fatal-error';

/** MedCom's own acknowledgement error codes (CodeSystem medcom-acknowledgement-error-codes, terminology 2.0.1). */
export const MEDCOM_ACK_ERROR_CODES = [
  'MSG_Receiver_Identifier_UNKNOWN',
  'MSG_Receiver_Identifier_MISSING',
  'MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE',
  'MSG_VALUESET_VALUE_UNKNOWN',
  'MSG_CodeSystem_VALUE_UNKNOWN',
  'MSG_Element_To_Long',
  'MSG_Datatype_Wrong',
  'MSG_Mailbox_Out_Of_Operation',
  'MSG_Damaged_durin_transport',
] as const;

export interface AcknowledgementIssue {
  severity: OperationOutcomeIssue['severity'];
  /** FHIR issue type (`structure`, `value`, `processing`, `transient`, `duplicate`, `informational`…). */
  code: OperationOutcomeIssue['code'];
  /**
   * `issue.details.coding`, bound to ValueSet medcom-acknowledgement-issue-details. A bare code picks its system:
   * MedCom's codes ({@link MEDCOM_ACK_ERROR_CODES}) or, for other `MSG_*` codes, HL7 operation-outcome.
   */
  details?: string | Coding;
  /** Human-readable text (`issue.details.text`). */
  text?: string;
  diagnostics?: string;
  /** FHIRPath of the offending element(s) in the received message. */
  expression?: string[];
}

export interface AcknowledgementOptions extends BuildContext {
  code: AcknowledgementCode;
  /** Required unless `code` is `ok` (medcom-acknowledgement-1); MAY be given with ok, e.g. for a duplicate. */
  issues?: AcknowledgementIssue[];
  /**
   * The acknowledgement already sent for this message (same MessageHeader.id). When given, its content is sent
   * again with only a new Bundle.id and timestamp; `code` and `issues` are then ignored, because a duplicate is
   * acknowledged exactly as the original and never switches between positive and negative (MedCom 020 §1.2
   * scenario #2, 043 "resend the original response").
   */
  previous?: Bundle;
  /** Base of the entries' `fullUrl`; default the base of the received MessageHeader's fullUrl, else MedCom's. */
  fullUrlBase?: string;
  /**
   * Add a generated `text` narrative to the resources the acknowledgement creates (MessageHeader, Provenance,
   * OperationOutcome); carried-over resources keep theirs. Default true.
   */
  narrative?: boolean;
}

/**
 * Build the MedCom Acknowledgement (IG 2.0.3) for a received MedCom message. The acknowledgement goes back to
 * the sender of the received message: its sender is the received message's primary receiver, its destination
 * endpoint the received `source.endpoint` ("the target for the Acknowledgement message", medcom-fhir.md §1.2),
 * `response.identifier` the received MessageHeader.id. It carries two Provenance entries (governance for
 * acknowledgement §1.3): the received message's own Provenance, copied, and a new `acknowledgement` Provenance
 * with `entity.role = revision` and `entity.what = MessageHeader/<received id>`. An OperationOutcome
 * (MedComAcknowledgementOperationOutcome) is added when issues are given, which a non-ok code requires.
 * New Bundle.id and MessageHeader.id per call; pass `previous` to resend an acknowledgement for a duplicate.
 *
 * @throws EhmiError `EHMI_VALIDATION_FAILED` when the received Bundle is not a MedCom message that can be
 *   acknowledged (no MessageHeader first, sender or receiver not in the Bundle, an acknowledgement itself: KR2.R).
 * @example
 * const ack = buildAcknowledgement(received, { code: 'ok' });
 * const nack = buildAcknowledgement(received, {
 *   code: 'fatal-error',
 *   issues: [{ severity: 'error', code: 'value', details: 'MSG_VALUESET_VALUE_UNKNOWN', text: 'Unknown NPU code' }],
 * });
 */
export function buildAcknowledgement(received: Bundle, options: AcknowledgementOptions): Bundle {
  const header = messageHeaderOf(received);
  if (options.previous) return resendPrevious(options.previous, header, options);
  if (header.eventCoding?.code === 'acknowledgement-message') {
    throw invalidInput(
      'MessageHeader.eventCoding',
      'is an acknowledgement, which is never acknowledged (KR2.R)',
    );
  }
  const issues = options.issues ?? [];
  if (options.code !== 'ok' && issues.length === 0) {
    throw invalidInput('issues', `are required with ${options.code} (medcom-acknowledgement-1)`);
  }
  const { now, newId } = resolveContext(options);
  const timestamp = instant(now());
  const base = options.fullUrlBase ?? baseOf(received, header) ?? ACKNOWLEDGEMENT_FULLURL_BASE;

  const primary = primaryDestination(header);
  const originalReceiver = requireInBundle<Organization>(
    received,
    primary.receiver,
    'Organization',
    'MessageHeader.destination.receiver',
  );
  const originalSender = requireInBundle<Organization>(
    received,
    header.sender,
    'Organization',
    'MessageHeader.sender',
  );
  if (!header.source?.endpoint) throw invalidInput('MessageHeader.source.endpoint', 'is required to reply');

  const outcome: OperationOutcome | undefined =
    issues.length > 0
      ? {
          resourceType: 'OperationOutcome',
          id: newId(),
          meta: { profile: [PROFILE.acknowledgementOperationOutcome] },
          issue: issues.map(toIssue),
        }
      : undefined;

  const ackHeader: MessageHeader = {
    resourceType: 'MessageHeader',
    id: newId(),
    meta: { profile: [PROFILE.acknowledgementHeader] },
    eventCoding: { system: SYSTEM.eventCodes, code: 'acknowledgement-message' },
    destination: [
      {
        extension: [
          { url: EXTENSION.destinationUse, valueCoding: { system: SYSTEM.destinationUse, code: 'primary' } },
        ],
        endpoint: header.source.endpoint,
        receiver: ref(originalSender),
      },
    ],
    sender: ref(originalReceiver),
    source: { endpoint: primary.endpoint },
    response: {
      identifier: header.id as string,
      code: options.code,
      ...(outcome ? { details: ref(outcome) } : {}),
    },
  };

  // The received message's own Provenance (target = its MessageHeader), carried over unchanged.
  const headerEntry = received.entry?.[0];
  const copied = (received.entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is Provenance => r?.resourceType === 'Provenance')
    .filter((p) => (p.target ?? []).some((t) => resolveInBundle(received, t) === headerEntry))
    .map((p) => structuredClone(p));

  const ackProvenance: Provenance = {
    resourceType: 'Provenance',
    id: newId(),
    meta: { profile: [PROFILE.messagingProvenance] },
    target: [ref(ackHeader)],
    occurredDateTime: timestamp,
    recorded: timestamp,
    activity: { coding: [{ system: SYSTEM.activityCodes, code: 'acknowledgement' }] },
    agent: [{ who: ref(originalReceiver) }],
    entity: [{ role: 'revision', what: { reference: `MessageHeader/${header.id}` } }],
  };

  // Every Organization the copied Provenance names must be in the Bundle too (references are bundled).
  const organizations = new Map<string, Organization>();
  for (const org of [originalReceiver, originalSender])
    organizations.set(org.id as string, structuredClone(org));
  for (const p of copied) {
    for (const agent of p.agent ?? []) {
      const who = resolveInBundle(received, agent.who)?.resource;
      if (who?.resourceType === 'Organization' && who.id && !organizations.has(who.id)) {
        organizations.set(who.id, structuredClone(who));
      }
    }
  }

  const resources: Resource[] = [ackHeader, ...copied, ackProvenance, ...organizations.values()];
  if (outcome) resources.push(outcome);
  if (options.narrative !== false) {
    addNarratives(outcome ? [ackHeader, ackProvenance, outcome] : [ackHeader, ackProvenance], resources);
  }
  return {
    resourceType: 'Bundle',
    id: newId(),
    meta: { profile: [PROFILE.acknowledgement] },
    type: 'message',
    timestamp,
    entry: resources.map((r) => entry(base, r)),
  };
}

function resendPrevious(previous: Bundle, header: MessageHeader, options: AcknowledgementOptions): Bundle {
  const prevHeader = messageHeaderOf(previous);
  if (prevHeader.response?.identifier !== header.id) {
    throw invalidInput(
      'previous',
      `acknowledges MessageHeader ${prevHeader.response?.identifier}, not the received ${header.id}`,
    );
  }
  return resendMessage(previous, options);
}

/** The destination with use = primary (MedComMessagingMessageHeader: destination[primary] 1..1). */
function primaryDestination(header: MessageHeader): MessageHeaderDestination {
  const destinations = header.destination ?? [];
  const primary = destinations.filter((d) =>
    (d.extension ?? []).some((x) => x.url === EXTENSION.destinationUse && x.valueCoding?.code === 'primary'),
  );
  const found = primary.length === 1 ? primary[0] : destinations.length === 1 ? destinations[0] : undefined;
  if (!found) throw invalidInput('MessageHeader.destination', 'has no single primary destination');
  if (!found.endpoint) throw invalidInput('MessageHeader.destination.endpoint', 'is required to reply');
  return found;
}

/** `https://x/y/MessageHeader/<id>` → `https://x/y`, so the acknowledgement's entries share the message's base. */
function baseOf(received: Bundle, header: MessageHeader): string | undefined {
  const fullUrl = received.entry?.[0]?.fullUrl ?? '';
  const suffix = `/MessageHeader/${header.id}`;
  return /^https?:\/\//.test(fullUrl) && fullUrl.endsWith(suffix)
    ? fullUrl.slice(0, -suffix.length)
    : undefined;
}

function toIssue(issue: AcknowledgementIssue): OperationOutcomeIssue {
  const coding = issue.details === undefined ? undefined : detailsCoding(issue.details);
  const out: OperationOutcomeIssue = { severity: issue.severity, code: issue.code };
  if (coding || issue.text) {
    out.details = { ...(coding ? { coding: [coding] } : {}), ...(issue.text ? { text: issue.text } : {}) };
  }
  if (issue.diagnostics) out.diagnostics = issue.diagnostics;
  if (issue.expression?.length) out.expression = [...issue.expression];
  return out;
}

function detailsCoding(details: string | Coding): Coding {
  if (typeof details !== 'string') return { ...details };
  if ((MEDCOM_ACK_ERROR_CODES as readonly string[]).includes(details)) {
    return { system: SYSTEM.acknowledgementErrorCodes, code: details };
  }
  if (details.startsWith('MSG_')) return { system: SYSTEM.hl7OperationOutcome, code: details };
  throw invalidInput(
    'issues.details',
    `${details} is not in medcom-acknowledgement-issue-details; give a Coding`,
  );
}
