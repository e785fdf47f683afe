/**
 * Canonical URLs, code systems and codes of the MedCom standards the builders emit, each checked against the
 * generated profiles and examples in fixtures/fhir (see docs/specs/medcom-fhir.md §1, §3, §4).
 */

/** StructureDefinition URLs claimed in `meta.profile`. */
export const PROFILE = {
  // HomeCareObservation 1.2.1 (dk_HomeCareObservations@ig-release/1.2.1), on messaging 3.0.0 and core 2.4.0
  homeCareMessage:
    'http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message',
  homeCareMessageHeader:
    'http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-messageheader',
  homeCareDiagnosticReport:
    'http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-diagnosticreport',
  homeCareObservation:
    'http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecare-observation',
  producerOrganization: 'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-producer-organization',
  requesterOrganization: 'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-requesterorganization',
  messagingProvenance: 'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-provenance',
  corePatient: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient',
  corePractitioner: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitioner',
  corePractitionerRole: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitionerrole',
  // Acknowledgement 2.0.3 (dk-medcom-acknowledgement@HEAD)
  acknowledgement:
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement',
  acknowledgementHeader:
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgementHeader',
  acknowledgementOperationOutcome:
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-acknowledgement-operationoutcome',
} as const;

/** Code systems and identifier systems. */
export const SYSTEM = {
  eventCodes: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes',
  activityCodes: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes',
  destinationUse: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-destinationUse',
  diagnosticReportCodes: 'http://medcomfhir.dk/ig/terminology/CodeSystem/MedComDiagnosticReportCodes',
  interpretation: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-interpretation-codes',
  practitionerRoles:
    'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesSKSadministrativ',
  producentId: 'http://medcomfhir.dk/ig/terminology/CodeSystem/MedComProducentID',
  medcomObservationCodes: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-observation-codes',
  acknowledgementErrorCodes:
    'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes',
  hl7OperationOutcome: 'http://terminology.hl7.org/CodeSystem/operation-outcome',
  confidentiality: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  /** NPU, as MedCom writes it (dk-core notes the OID is "wrong" but MedCom uses it: medcom-fhir.md §4.2). */
  npu: 'urn:oid:1.2.208.176.2.1',
  ucum: 'http://unitsofmeasure.org',
  /** SOR (dk-core-sor-identifier). */
  sor: 'urn:oid:1.2.208.176.1.1',
  /** GLN/EAN (dk-core-gln-identifier; every MedCom example, not the stale `urn:oid:1.3.88` alias). */
  gln: 'https://www.gs1.org/gln',
  /** Ydernummer (provider number of a GP practice). */
  ydernummer: 'urn:oid:1.2.208.176.1.4',
  /** CPR. */
  cpr: 'urn:oid:1.2.208.176.1.2',
} as const;

export const EXTENSION = {
  destinationUse:
    'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension',
  dataAbsentReason: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason',
} as const;

/** `MessageHeader.definition` of HomeCareObservation, as in every 1.2.1 example (invariant medcom-hcobs-definition-url). */
export const HOMECARE_MESSAGE_DEFINITION =
  'http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComHomeCareObservationMessageDefinition|1.1';

/** Base of `Bundle.entry.fullUrl` in the MedCom examples: `<base>/<Type>/<id>`, referenced as `<Type>/<id>`. */
export const HOMECARE_FULLURL_BASE = 'http://medcomfhir.dk/ig/homecareobservation';
export const ACKNOWLEDGEMENT_FULLURL_BASE = 'https://medcomfhir.dk/ig/acknowledgement';

/** The SOR-based endpoint form used in MessageHeader.destination.endpoint and source.endpoint (medcom-fhir.md §1.2). */
export function sorEndpoint(sor: string): string {
  return `https://sor2.sum.dsdn.dk/#id=${sor}`;
}
