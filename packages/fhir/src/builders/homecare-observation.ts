import type {
  Bundle,
  DiagnosticReport,
  Identifier,
  MessageHeader,
  Observation,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  Provenance,
  Quantity,
} from '@medplum/fhirtypes';
import {
  type BuildContext,
  entry,
  instant,
  invalidInput,
  ref,
  requireDateTime,
  requireText,
  resolveContext,
} from './common.ts';
import {
  EXTENSION,
  HOMECARE_FULLURL_BASE,
  HOMECARE_MESSAGE_DEFINITION,
  PROFILE,
  SYSTEM,
  sorEndpoint,
} from './medcom.ts';
import { addNarratives } from './narrative.ts';

/** An organisation as MedCom messaging identifies it: SOR and GLN are both required (MedComMessagingOrganization). */
export interface MessagingOrganizationInput {
  /** SOR id (`urn:oid:1.2.208.176.1.1`). */
  sor: string;
  /** GLN / EAN location number (`https://www.gs1.org/gln`). */
  gln: string;
  name?: string;
  /** Message endpoint; default the SOR form `https://sor2.sum.dsdn.dk/#id=<sor>` of the MedCom examples. */
  endpoint?: string;
}

/** The municipal acute team that sends the results (MedComProducerOrganization). */
export interface ProducerOrganizationInput extends MessagingOrganizationInput {
  /** ProducentID code; the only code in MedComProducentID is `KAF` (Kommunal akutfunktion), the default. */
  producentId?: string;
}

/** The GP practice that requested the observations (MedComRequesterOrganization). */
export interface RequesterOrganizationInput extends MessagingOrganizationInput {
  /** Ydernummer (`urn:oid:1.2.208.176.1.4`), required by MedComRequesterOrganization. */
  ydernummer: string;
  /**
   * Initials of the requesting practitioner (`contact.name.given`). When unknown, the contact carries a
   * data-absent-reason `unknown` instead (invariant medcom-homecareObservation-4).
   */
  requesterInitials?: string;
}

export interface PatientInput {
  /** CPR number (`urn:oid:1.2.208.176.1.2`); give this or `identifier`. */
  cpr?: string;
  /** Another identifier, such as an eCPR (`urn:oid:1.2.208.176.1.6.1.1`). */
  identifier?: { system: string; value: string; use?: Identifier['use'] };
  /** Family name; MedComCorePatient requires an official name with a family name. */
  family: string;
  given?: string[];
}

/** The practitioner who performed the observations (homecareReport-1..3: role code, name and phone required). */
export interface PractitionerInput {
  given?: string[];
  family?: string;
  /** Phone number, required (medcom-homecareReport-3). */
  phone: string;
  /** Role in `medcom-core-PractitionerRolesSKSadministrativ`; default `sygeplejerske`. */
  role?: string;
}

export type ObservationValueInput =
  | {
      /** The measured number. */
      quantity: number;
      /** Unit as displayed (`mmol/L`, `10^9/L`, `°C`). */
      unit: string;
      /** UCUM code (`mmol/L`, `10*9/L`, `Cel`); sets `system` http://unitsofmeasure.org and `code`. */
      ucum?: string;
      comparator?: Quantity['comparator'];
    }
  | {
      /** A text result, at most 12 characters (MedComHomeCareObservation valueString maxLength). */
      string: string;
    };

export interface ObservationInput {
  /** Observation code; NPU by default (`urn:oid:1.2.208.176.2.1`). */
  code: string;
  /** Code system; default NPU. MedCom's own codes (`MCS88122`…) use `SYSTEM.medcomObservationCodes`. */
  system?: string;
  display?: string;
  value: ObservationValueInput;
  /** When the observation was made: a FHIR dateTime with a timezone. */
  effective: string;
  /** Comment on this observation (`Observation.note`). */
  note?: string;
}

/** The typed input of a "kommunale prøvesvar" message. */
export interface HomeCareObservationInput {
  sender: ProducerOrganizationInput;
  receiver: RequesterOrganizationInput;
  patient: PatientInput;
  practitioner: PractitionerInput;
  observations: ObservationInput[];
  /** Clinical comment for the whole report (`DiagnosticReport.conclusion`). */
  conclusion?: string;
  /** When the report was released (`DiagnosticReport.issued`); default now. */
  issued?: string;
  /** The patient refused consent to share the results: `DiagnosticReport.meta.security` = R (Restricted). */
  restricted?: boolean;
  /**
   * This message modifies or retracts an earlier one: its Provenance gets activity `modified-message` with
   * `entity.role` revision, or `retract-message` with role removal, and `entity.what` = the earlier
   * MessageHeader (MedComMessagingProvenance intro; MedCom examples 73996cdc and 5f341feb).
   */
  replaces?: { messageHeaderId: string; change: 'modified' | 'retracted' };
}

export interface HomeCareObservationOptions extends BuildContext {
  /** Base of the entries' `fullUrl`; default `http://medcomfhir.dk/ig/homecareobservation` as in the examples. */
  fullUrlBase?: string;
  /** Add a generated `text` narrative to every resource (MedCom: "SHALL always be included"). Default true. */
  narrative?: boolean;
}

/**
 * Build a MedCom HomeCareObservation message ("kommunale prøvesvar", IG 1.2.1) from a small typed input.
 * Every call creates a new `Bundle.id` and a new `MessageHeader.id` (UUID v4), as MedCom's reliable-messaging
 * rules require for a new message (052.2; medcom-fhir.md §1.5, §2). A resend of the same message needs only a new
 * Bundle.id and timestamp: use {@link resendMessage} for that, not this function.
 *
 * Entries in the order of the MedCom examples: MessageHeader, Patient, DiagnosticReport, PractitionerRole,
 * Practitioner, Organization (receiver), Organization (sender), Provenance (`new-message`, or `modified-message`
 * / `retract-message` with `replaces`), Observations. Each
 * resource gets a generated narrative unless `narrative: false`.
 *
 * @throws EhmiError `EHMI_VALIDATION_FAILED` naming the input field that is missing or malformed.
 * @example
 * const bundle = buildHomeCareObservationMessage({
 *   sender: { sor: '1144561000016002', gln: '5790000123117', name: 'Pleje og Rehabilitering' },
 *   receiver: { sor: '52581000016005', gln: '5790000127092', ydernummer: '061654', requesterInitials: 'OKM' },
 *   patient: { cpr: '2509479989', family: 'Elmer' },
 *   practitioner: { given: ['Mia'], phone: '+45 05577668' },
 *   observations: [
 *     { code: 'NPU19748', display: 'P—C-reaktivt protein; massek. = ? mg/L',
 *       value: { quantity: 26, unit: 'mg/L', ucum: 'mg/L' }, effective: '2026-11-25T10:24:08+01:00' },
 *   ],
 * });
 */
export function buildHomeCareObservationMessage(
  input: HomeCareObservationInput,
  options: HomeCareObservationOptions = {},
): Bundle {
  const { now, newId } = resolveContext(options);
  const base = options.fullUrlBase ?? HOMECARE_FULLURL_BASE;
  if (!Array.isArray(input.observations) || input.observations.length === 0) {
    throw invalidInput('observations', 'must list at least one observation');
  }
  const timestamp = instant(now());

  const sender = producerOrganization(input.sender, newId());
  const receiver = requesterOrganization(input.receiver, newId());
  const patient = buildPatient(input.patient, newId());
  const practitioner = buildPractitioner(input.practitioner, newId());
  const role = buildPractitionerRole(input.practitioner, practitioner, newId());
  const observations = input.observations.map((o, i) =>
    buildObservation(o, patient, newId(), `observations[${i}]`),
  );

  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: newId(),
    meta: {
      profile: [PROFILE.homeCareDiagnosticReport],
      ...(input.restricted
        ? { security: [{ system: SYSTEM.confidentiality, code: 'R', display: 'Restricted' }] }
        : {}),
    },
    status: 'final',
    code: { coding: [{ system: SYSTEM.diagnosticReportCodes, code: 'HomeCareReport' }] },
    subject: ref(patient),
    issued: input.issued === undefined ? timestamp : requireDateTime(input.issued, 'issued'),
    // medcom-homecareobservation-diagnosticreport: performer 2..2, the producer organisation and the role
    performer: [ref(sender), ref(role)],
    result: observations.map(ref),
    ...(input.conclusion ? { conclusion: input.conclusion } : {}),
  };

  const header: MessageHeader = {
    resourceType: 'MessageHeader',
    id: newId(),
    meta: { profile: [PROFILE.homeCareMessageHeader] },
    eventCoding: { system: SYSTEM.eventCodes, code: 'homecareobservation-message' },
    destination: [
      {
        extension: [
          { url: EXTENSION.destinationUse, valueCoding: { system: SYSTEM.destinationUse, code: 'primary' } },
        ],
        endpoint: input.receiver.endpoint ?? sorEndpoint(input.receiver.sor),
        receiver: ref(receiver),
      },
    ],
    sender: ref(sender),
    source: { endpoint: input.sender.endpoint ?? sorEndpoint(input.sender.sor) },
    focus: [ref(report)],
    definition: HOMECARE_MESSAGE_DEFINITION,
  };

  // MedComMessagingProvenance: the message's own Provenance, target = this MessageHeader, agent = the sender.
  const provenance: Provenance = {
    resourceType: 'Provenance',
    id: newId(),
    meta: { profile: [PROFILE.messagingProvenance] },
    target: [ref(header)],
    occurredDateTime: timestamp,
    recorded: timestamp,
    activity: { coding: [{ system: SYSTEM.activityCodes, code: activityOf(input.replaces) }] },
    agent: [{ who: ref(sender) }],
  };
  if (input.replaces) {
    const what = requireText(input.replaces.messageHeaderId, 'replaces.messageHeaderId');
    const role = input.replaces.change === 'retracted' ? 'removal' : 'revision';
    provenance.entity = [{ role, what: { reference: `MessageHeader/${what}` } }];
  }

  const resources = [
    header,
    patient,
    report,
    role,
    practitioner,
    receiver,
    sender,
    provenance,
    ...observations,
  ];
  if (options.narrative !== false) addNarratives(resources);
  return {
    resourceType: 'Bundle',
    id: newId(),
    meta: { profile: [PROFILE.homeCareMessage] },
    type: 'message',
    timestamp,
    entry: resources.map((r) => entry(base, r)),
  };
}

function activityOf(replaces: HomeCareObservationInput['replaces']): string {
  if (!replaces) return 'new-message';
  if (replaces.change === 'modified') return 'modified-message';
  if (replaces.change === 'retracted') return 'retract-message';
  throw invalidInput('replaces.change', 'must be modified or retracted');
}

function organizationIdentifiers(org: MessagingOrganizationInput, path: string): Identifier[] {
  return [
    { system: SYSTEM.gln, value: requireText(org.gln, `${path}.gln`) },
    { system: SYSTEM.sor, value: requireText(org.sor, `${path}.sor`) },
  ];
}

function producerOrganization(org: ProducerOrganizationInput, id: string): Organization {
  return {
    resourceType: 'Organization',
    id,
    meta: { profile: [PROFILE.producerOrganization] },
    identifier: [
      ...organizationIdentifiers(org, 'sender'),
      { system: SYSTEM.producentId, value: org.producentId ?? 'KAF' },
    ],
    ...(org.name ? { name: org.name } : {}),
  };
}

function requesterOrganization(org: RequesterOrganizationInput, id: string): Organization {
  const initials = org.requesterInitials?.trim();
  return {
    resourceType: 'Organization',
    id,
    meta: { profile: [PROFILE.requesterOrganization] },
    identifier: [
      ...organizationIdentifiers(org, 'receiver'),
      { system: SYSTEM.ydernummer, value: requireText(org.ydernummer, 'receiver.ydernummer') },
    ],
    ...(org.name ? { name: org.name } : {}),
    // MedComRequesterOrganization: contact 1..1; name.given = requester initials, or data-absent-reason
    contact: [
      initials
        ? { name: { given: [initials] } }
        : { extension: [{ url: EXTENSION.dataAbsentReason, valueCode: 'unknown' }] },
    ],
  };
}

function buildPatient(p: PatientInput, id: string): Patient {
  let identifier: Identifier;
  if (p.cpr !== undefined && p.identifier === undefined) {
    identifier = { system: SYSTEM.cpr, value: requireText(p.cpr, 'patient.cpr') };
  } else if (p.identifier !== undefined && p.cpr === undefined) {
    identifier = {
      ...(p.identifier.use ? { use: p.identifier.use } : {}),
      system: requireText(p.identifier.system, 'patient.identifier.system'),
      value: requireText(p.identifier.value, 'patient.identifier.value'),
    };
  } else {
    throw invalidInput('patient', 'needs exactly one of cpr and identifier');
  }
  return {
    resourceType: 'Patient',
    id,
    meta: { profile: [PROFILE.corePatient] },
    identifier: [identifier],
    // MedComCorePatient: name[official] 1..1 with family 1..1
    name: [
      {
        use: 'official',
        family: requireText(p.family, 'patient.family'),
        ...(p.given?.length ? { given: p.given } : {}),
      },
    ],
  };
}

function buildPractitioner(p: PractitionerInput, id: string): Practitioner {
  if (!p.given?.length && !p.family)
    throw invalidInput('practitioner', 'needs a name (medcom-homecareReport-2)');
  return {
    resourceType: 'Practitioner',
    id,
    meta: { profile: [PROFILE.corePractitioner] },
    name: [{ ...(p.family ? { family: p.family } : {}), ...(p.given?.length ? { given: p.given } : {}) }],
    telecom: [{ system: 'phone', value: requireText(p.phone, 'practitioner.phone') }],
  };
}

function buildPractitionerRole(
  p: PractitionerInput,
  practitioner: Practitioner,
  id: string,
): PractitionerRole {
  return {
    resourceType: 'PractitionerRole',
    id,
    meta: { profile: [PROFILE.corePractitionerRole] },
    practitioner: ref(practitioner),
    code: [{ coding: [{ system: SYSTEM.practitionerRoles, code: p.role ?? 'sygeplejerske' }] }],
  };
}

function buildObservation(o: ObservationInput, patient: Patient, id: string, path: string): Observation {
  const obs: Observation = {
    resourceType: 'Observation',
    id,
    meta: { profile: [PROFILE.homeCareObservation] },
    status: 'final',
    code: {
      coding: [
        {
          system: o.system ?? SYSTEM.npu,
          code: requireText(o.code, `${path}.code`),
          ...(o.display ? { display: o.display } : {}),
        },
      ],
    },
    subject: ref(patient),
    effectiveDateTime: requireDateTime(o.effective, `${path}.effective`),
    // Every MedCom example states "Not Interpreted": the profile's only interpretation code (pattern NI)
    interpretation: [{ coding: [{ system: SYSTEM.interpretation, code: 'NI', display: 'Not Interpreted' }] }],
  };
  const v = o.value;
  if ('quantity' in v) {
    if (typeof v.quantity !== 'number' || !Number.isFinite(v.quantity)) {
      throw invalidInput(`${path}.value.quantity`, 'must be a finite number');
    }
    // dk-core-observation-mandatory-units: a quantity value needs a unit or a code
    obs.valueQuantity = {
      value: v.quantity,
      ...(v.comparator ? { comparator: v.comparator } : {}),
      unit: requireText(v.unit, `${path}.value.unit`),
      ...(v.ucum ? { system: SYSTEM.ucum, code: v.ucum } : {}),
    };
  } else {
    const text = requireText(v.string, `${path}.value.string`);
    if (text.length > 12) throw invalidInput(`${path}.value.string`, 'is longer than 12 characters');
    obs.valueString = text;
  }
  if (o.note) obs.note = [{ text: o.note }];
  return obs;
}
