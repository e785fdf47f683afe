import { EhmiError } from '@ehmi/errors';
import { FHIR_ACK_STANDARD, GLN_PREFIX, RECEIPT_STANDARD } from '../constants.ts';
import { type EhmiEnvelope, scopeValue } from '../model.ts';
import {
  type EdsFlow,
  type EdsSide,
  type EdsStationKind,
  type EdsStep,
  type EdsSubtype,
  edsStep,
  edsStepFor,
} from './steps.ts';

/** Canonical URLs and code systems of the EDS IG 1.0.2 and the EHMI terminology (ehmi-core §3). */
export const EDS = {
  basicProfile: 'http://medcomehmi.dk/ig/eds/StructureDefinition/EdsBasicDeliveryStatus',
  patientProfile: 'http://medcomehmi.dk/ig/eds/StructureDefinition/EdsPatientDeliveryStatus',
  otherIdExtension: 'http://medcomehmi.dk/ig/eds/StructureDefinition/eds-otherId',
  types: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-types',
  subtypes: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-sub-types',
  roles: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-participationroletype',
  agentIdTypes:
    'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-agent-who-identifier-types',
  entityTypes: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-entity-type',
  sourceTypes: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-delivery-status-source-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
  sor: 'urn:oid:1.2.208.176.1.1',
  cpr: 'urn:oid:1.2.208.176.1.2',
} as const;

/** The version of the ehmiSBDH IG our envelopes follow (the transport envelope's version in EDS). */
export const EDS_TRANSPORT_ENVELOPE_VERSION = '2.0';

/** An organisation as EDS names it: its SOR code, its GLN and, when known, its name. */
export interface EdsParty {
  sor: string;
  gln: string;
  name?: string | undefined;
}

/** The message an event is about, as its ehmiSBDH (or, before it is wrapped, its MedCom message) says. */
export interface EdsMessageFacts {
  /** MESSAGEIDENTIFIER: MessageHeader.id for a MedCom message; the receipt's own id for an EnvelopeReceipt. */
  messageId: string;
  /** The SBDH Standard (`homecareobservation-message`, `acknowledgement-message`, `ehmisbdh-acknowledgement`, …). */
  messageType: string;
  /** The SBDH TypeVersion (`1.2`, `2.0`, `ebbp-signals-2.0`). */
  messageVersion: string;
  /** The StatisticalInformation scope (`MCM:homecareobservation-message`), when the envelope has one. */
  statisticalInfo?: string | undefined;
  /** MESSAGEENVELOPEIDENTIFIER: the FHIR Bundle.id; absent for a payload that is no FHIR Bundle. */
  messageEnvelopeId?: string | undefined;
  /** The SBDH DocumentIdentification/InstanceIdentifier; absent before the message is wrapped (01.x). */
  transportEnvelopeId?: string | undefined;
  sender: EdsParty;
  receiver: EdsParty;
  /** The patient's CPR (PATIENTID), for the events of a clinical message. */
  patientCpr?: string | undefined;
  /** For an EnvelopeReceipt or an acknowledgement: the message it answers. */
  original?:
    | {
        messageId: string;
        messageType: string;
        messageVersion: string;
        messageEnvelopeId?: string | undefined;
        transportEnvelopeId?: string | undefined;
      }
    | undefined;
}

/** The station that took a step: its EER Device and the organisation it serves. */
export interface EdsStation {
  /** The Device's identifier (EER `ehmiDEVICEID`; the token's `ehmi:eer:device_id`). */
  deviceId: string;
  deviceName?: string | undefined;
  manufacturer?: string | undefined;
  /** `source.type`: `EUA-MSH` when the MSH reports a step its EUA took through the MSH's API. */
  sourceType: EdsStationKind | 'EUA-MSH';
  /** The organisation the station serves: the Device's owner. */
  organisation: EdsParty;
}

/** Which flow a message belongs to, from its type (and for a receipt, the type of the message it answers). */
export function edsFlowOf(messageType: string, originalType?: string): EdsFlow {
  if (isReceiptType(messageType)) return originalType && isAckType(originalType) ? 'ack-receipt' : 'receipt';
  if (isAckType(messageType)) return 'acknowledgement';
  return 'message';
}

// The EDS samples name types in words (`SBDH-Ack`, `Acknowledgement`); the profiles say the SBDH Standard.
function isReceiptType(t: string): boolean {
  return t === RECEIPT_STANDARD || /^sbdh-?ack/i.test(t);
}
function isAckType(t: string): boolean {
  return t === FHIR_ACK_STANDARD || /^acknowledgement(-message)?$/i.test(t);
}

/** The facts of an ehmiSBDH for EDS; names of the parties are not in the envelope and may be given. */
export function edsFactsOf(
  envelope: Pick<EhmiEnvelope, 'sender' | 'receiver' | 'documentIdentification' | 'scopes'>,
  names: { sender?: string | undefined; receiver?: string | undefined } = {},
): EdsMessageFacts {
  const gln = (v: string) => (v.startsWith(GLN_PREFIX) ? v.slice(GLN_PREFIX.length) : v);
  const doc = envelope.documentIdentification;
  const scope = (t: string) => scopeValue(envelope, t);
  const origId = scope('ORIGINALMESSAGEIDENTIFIER');
  const sender = { sor: scope('SENDERID') ?? '', gln: gln(envelope.sender.value), name: names.sender };
  const receiver = {
    sor: scope('RECEIVERID') ?? '',
    gln: gln(envelope.receiver.value),
    name: names.receiver,
  };
  if (envelope.scopes.some((s) => s.type === 'XDS-METADATA') && !origId) {
    // The copy for the document archive (ehmi-core §1.3) is a delivery of its own: it is named by its own envelope's
    // id, and points to the message it copies (ehmiOrigMessage), so that the message's own journey is not mixed with
    // the copy's steps and the copy is still found from the message (`orig-message-id`).
    const messageId = scope('MESSAGEIDENTIFIER') ?? doc.instanceIdentifier;
    return {
      messageId: doc.instanceIdentifier,
      messageType: doc.standard,
      messageVersion: doc.typeVersion,
      statisticalInfo: scope('StatisticalInformation'),
      transportEnvelopeId: doc.instanceIdentifier,
      sender,
      receiver,
      patientCpr: scope('PATIENTID'),
      original: {
        messageId,
        messageType: doc.standard,
        messageVersion: doc.typeVersion,
        messageEnvelopeId: scope('MESSAGEENVELOPEIDENTIFIER'),
      },
    };
  }
  return {
    messageId: scope('MESSAGEIDENTIFIER') ?? doc.instanceIdentifier,
    messageType: doc.standard,
    messageVersion: doc.typeVersion,
    statisticalInfo: scope('StatisticalInformation'),
    messageEnvelopeId: scope('MESSAGEENVELOPEIDENTIFIER'),
    transportEnvelopeId: doc.instanceIdentifier,
    sender,
    receiver,
    patientCpr: scope('PATIENTID'),
    original: origId
      ? {
          messageId: origId,
          messageType: scope('ORIGINALMESSAGESTANDARD') ?? 'unknown',
          messageVersion: scope('ORIGINALMESSAGEVERSION') ?? 'unknown',
          messageEnvelopeId: scope('ORIGINALMESSAGEENVELOPEIDENTIFIER'),
          transportEnvelopeId: scope('ORIGINALENVELOPEIDENTIFIER'),
        }
      : undefined,
  };
}

export interface DeliveryStatusInput {
  /** The step (`03.2`). */
  code: string;
  facts: EdsMessageFacts;
  station: EdsStation;
  outcome: 'success' | 'failure';
  /** When the step was taken. */
  recorded: Date;
}

type Json = Record<string, unknown>;

const ENTITY_DISPLAY: Record<string, string> = {
  ehmiPatient: 'Patient',
  ehmiMessage: 'Message',
  ehmiMessageEnvelope: 'Message Envelope',
  ehmiTransportEnvelope: 'Transport Envelope',
  ehmiOrigMessage: 'Original Message',
  ehmiOrigMessageEnvelope: 'Original Message Envelope',
  ehmiOrigTransportEnvelope: 'Original Transport Envelope',
};

function entity(code: string, id: string | undefined, details: [string, string | undefined][] = []): Json {
  const detail = details
    .filter((d): d is [string, string] => d[1] !== undefined && d[1] !== '')
    .map(([type, valueString]) => ({ type, valueString }));
  return {
    type: { system: EDS.entityTypes, code, display: ENTITY_DISPLAY[code] },
    ...(id ? { what: { identifier: { value: id } } } : {}),
    ...(code === 'ehmiPatient' ? { role: { system: EDS.objectRole, code: '1', display: 'Patient' } } : {}),
    ...(detail.length > 0 ? { detail } : {}),
  };
}

function agent(role: 'ehmiSender' | 'ehmiReceiver', party: EdsParty): Json {
  return {
    type: {
      coding: [{ system: EDS.roles, code: role, display: role === 'ehmiSender' ? 'Sender' : 'Receiver' }],
    },
    extension: [
      {
        url: EDS.otherIdExtension,
        valueIdentifier: { type: { coding: [{ system: EDS.agentIdTypes, code: 'GLN' }] }, value: party.gln },
      },
    ],
    who: {
      identifier: { system: EDS.sor, value: party.sor },
      ...(party.name ? { display: party.name } : {}),
    },
    ...(party.name ? { name: party.name } : {}),
    requestor: role === 'ehmiSender',
  };
}

/**
 * The EDS AuditEvent a station registers for one step: EdsPatientDeliveryStatus for a clinical message's steps
 * when the patient is known, EdsBasicDeliveryStatus otherwise (receipts and acknowledgements carry no patient). The
 * observing Device is contained, with its owner, so that a reader tells the sending from the receiving station.
 */
export function buildDeliveryStatus(input: DeliveryStatusInput): Json {
  const step = edsStep(input.code);
  if (!step) throw new EhmiError('EHMI_INTERNAL', `EDS has no step ${input.code}`);
  const { facts, station } = input;
  const flow = edsFlowOf(facts.messageType, facts.original?.messageType);
  if (flow !== step.flow) {
    throw new EhmiError(
      'EHMI_INTERNAL',
      `EDS step ${step.code} is of the ${step.flow} flow, not of a ${flow}`,
    );
  }
  const patient = flow === 'message' && facts.patientCpr ? facts.patientCpr : undefined;
  const orig = facts.original;
  const entities: Json[] = [
    entity('ehmiMessage', facts.messageId, [
      ['ehmiMessageType', facts.messageType],
      ['ehmiMessageVersion', facts.messageVersion],
      ['ehmiStatisticalInfo', facts.statisticalInfo],
    ]),
  ];
  if (patient) entities.push(entity('ehmiPatient', patient));
  if (facts.messageEnvelopeId) {
    entities.push(
      entity('ehmiMessageEnvelope', facts.messageEnvelopeId, [['ehmiMessageEnvelopeType', 'Bundle']]),
    );
  }
  if (facts.transportEnvelopeId) {
    entities.push(
      entity('ehmiTransportEnvelope', facts.transportEnvelopeId, [
        ['ehmiTransportEnvelopeType', 'SBDH'],
        ['ehmiTransportEnvelopeVersion', EDS_TRANSPORT_ENVELOPE_VERSION],
      ]),
    );
  }
  if (orig) {
    entities.push(
      entity('ehmiOrigMessage', orig.messageId, [
        ['ehmiMessageType', orig.messageType],
        ['ehmiMessageVersion', orig.messageVersion],
      ]),
    );
    if (orig.messageEnvelopeId) entities.push(entity('ehmiOrigMessageEnvelope', orig.messageEnvelopeId));
    if (orig.transportEnvelopeId) {
      entities.push(
        entity('ehmiOrigTransportEnvelope', orig.transportEnvelopeId, [
          ['ehmiTransportEnvelopeType', 'SBDH'],
          ['ehmiTransportEnvelopeVersion', EDS_TRANSPORT_ENVELOPE_VERSION],
        ]),
      );
    }
  }
  const device: Json = {
    resourceType: 'Device',
    id: 'station',
    identifier: [{ value: station.deviceId }],
    status: 'active',
    ...(station.manufacturer ? { manufacturer: station.manufacturer } : {}),
    ...(station.deviceName ? { deviceName: [{ name: station.deviceName, type: 'manufacturer-name' }] } : {}),
    type: { coding: [{ system: EDS.sourceTypes, code: station.sourceType }] },
    owner: {
      identifier: { system: EDS.sor, value: station.organisation.sor },
      ...(station.organisation.name ? { display: station.organisation.name } : {}),
    },
  };
  return {
    resourceType: 'AuditEvent',
    meta: { profile: [patient ? EDS.patientProfile : EDS.basicProfile] },
    contained: [device],
    type: { system: EDS.types, code: 'ehmiMessaging', display: 'EHMI messaging event' },
    subtype: [{ system: EDS.subtypes, code: step.subtype }],
    action: 'C',
    recorded: input.recorded.toISOString(),
    outcome: input.outcome === 'success' ? '0' : '8',
    agent: [agent('ehmiSender', facts.sender), agent('ehmiReceiver', facts.receiver)],
    source: {
      observer: { reference: '#station', identifier: { value: station.deviceId } },
      type: [{ system: EDS.sourceTypes, code: station.sourceType }],
    },
    entity: entities,
  };
}

/** One EDS event read back: the step it records, where, when and how it went. */
export interface DeliveryStatusView {
  /** The AuditEvent's id on the EDS server. */
  id?: string | undefined;
  /** The step, when the event names one the table has (undefined: a step we cannot place). */
  step?: EdsStep | undefined;
  flow: EdsFlow;
  station: EdsStationKind;
  /** `source.type` as registered (`EUA-MSH`, `AP`, a legacy code …). */
  sourceType: string;
  /** The station's side of its flow, when the event says which organisation the station serves. */
  side?: EdsSide | undefined;
  subtype: string;
  outcome: 'success' | 'failure';
  recorded: string;
  messageId: string;
  messageType: string;
  originalMessageId?: string | undefined;
  sender: EdsParty;
  receiver: EdsParty;
  /** The observing Device's identifier. */
  deviceId?: string | undefined;
  /** The organisation the observing Device serves (its owner), when the event names it. */
  owner?: { sor: string; name?: string | undefined } | undefined;
  /** The SBDH InstanceIdentifier the step concerns (a resend is a new one), when the event names it. */
  transportEnvelopeId?: string | undefined;
  patientCpr?: string | undefined;
}

const asArray = (v: unknown): Json[] =>
  (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).filter(
    (x): x is Json => typeof x === 'object' && x !== null,
  );
const s = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const codeOf = (cc: unknown): string | undefined => {
  const c = cc as Json | undefined;
  return s(c?.code) ?? s(asArray(c?.coding)[0]?.code);
};

function partyOf(agents: Json[], role: string): EdsParty {
  const a = agents.find((x) => asArray((x.type as Json | undefined)?.coding).some((c) => c.code === role));
  const who = (a?.who as Json | undefined) ?? {};
  const gln = asArray(a?.extension)
    .filter((e) => e.url === EDS.otherIdExtension)
    .map((e) => e.valueIdentifier as Json | undefined)
    .find((id) => asArray((id?.type as Json | undefined)?.coding).some((c) => c.code === 'GLN'))?.value;
  return {
    sor: s((who.identifier as Json | undefined)?.value) ?? '',
    gln: s(gln) ?? '',
    name: s(a?.name) ?? s(who.display),
  };
}

function stationKindOf(sourceType: string): EdsStationKind | undefined {
  switch (sourceType) {
    case 'EUA':
    case 'EUA-MSH':
    case 'ehmiEUAPPLICATION':
      return 'EUA';
    case 'MSH':
    case 'AP-MSH':
    case 'ehmiMESSAGESERVICEHANDLER':
      return 'MSH';
    case 'AP':
    case 'ehmiEDELIVERY-AP':
      return 'AP';
    default:
      return undefined;
  }
}

/**
 * Read an EDS AuditEvent back into the step it records. The station's side comes from the owner of the observing
 * Device (which organisation it serves: the flow's sender or receiver); a first or last step is placed by its
 * sub-type alone. Returns undefined for an AuditEvent that is no EDS delivery status.
 */
export function readDeliveryStatus(event: Json): DeliveryStatusView | undefined {
  const entities = asArray(event.entity);
  const byType = (code: string) => entities.find((e) => (e.type as Json | undefined)?.code === code);
  const message = byType('ehmiMessage');
  const messageId = s(((message?.what as Json | undefined)?.identifier as Json | undefined)?.value);
  const detail = (e: Json | undefined, type: string) =>
    s(asArray(e?.detail).find((d) => d.type === type)?.valueString);
  const messageType = detail(message, 'ehmiMessageType');
  const sourceType = codeOf(asArray((event.source as Json | undefined)?.type)[0]);
  const station = sourceType ? stationKindOf(sourceType) : undefined;
  const subtype = codeOf(asArray(event.subtype)[0]);
  if (!messageId || !messageType || !station || !sourceType || !subtype) return undefined;
  const orig = byType('ehmiOrigMessage');
  const flow = edsFlowOf(messageType, detail(orig, 'ehmiMessageType'));
  const agents = asArray(event.agent);
  const sender = partyOf(agents, 'ehmiSender');
  const receiver = partyOf(agents, 'ehmiReceiver');
  const observer = (event.source as Json).observer as Json | undefined;
  const ref = s(observer?.reference);
  const device = ref?.startsWith('#')
    ? asArray(event.contained).find((c) => c.resourceType === 'Device' && c.id === ref.slice(1))
    : undefined;
  const deviceId =
    s((observer?.identifier as Json | undefined)?.value) ?? s(asArray(device?.identifier)[0]?.value);
  const ownerRef = device?.owner as Json | undefined;
  const ownerSor = s((ownerRef?.identifier as Json | undefined)?.value);
  let side: EdsSide | undefined;
  if (ownerSor && ownerSor === sender.sor && ownerSor !== receiver.sor) side = 'origin';
  else if (ownerSor && ownerSor === receiver.sor && ownerSor !== sender.sor) side = 'destination';
  else if (/created|^msg-created/.test(subtype)) side = 'origin';
  else if (/finalized/.test(subtype)) side = 'destination';
  const step = side ? edsStepFor(flow, station, side, subtype as EdsSubtype) : undefined;
  const patient = byType('ehmiPatient');
  return {
    id: s(event.id),
    step,
    flow,
    station,
    sourceType,
    side,
    subtype,
    outcome: event.outcome === '0' ? 'success' : 'failure',
    recorded: s(event.recorded) ?? '',
    messageId,
    messageType,
    originalMessageId: s(((orig?.what as Json | undefined)?.identifier as Json | undefined)?.value),
    sender,
    receiver,
    deviceId,
    owner: ownerSor ? { sor: ownerSor, name: s(ownerRef?.display) } : undefined,
    transportEnvelopeId: s(
      ((byType('ehmiTransportEnvelope')?.what as Json | undefined)?.identifier as Json | undefined)?.value,
    ),
    patientCpr: s(((patient?.what as Json | undefined)?.identifier as Json | undefined)?.value),
  };
}
