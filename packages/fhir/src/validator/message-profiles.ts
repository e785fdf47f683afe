import type { Conformance } from '../conformance/conformance.ts';
import type { ElementDefinition, Json, StructureDefinition } from '../conformance/types.ts';
import type { Issue } from './issues.ts';

interface EventCoding {
  system?: string;
  code?: string;
}

/** The event a MessageHeader profile pins (`eventCoding` fixed or pattern), if any. */
function pinnedEvent(sd: StructureDefinition): EventCoding | undefined {
  const ev: EventCoding = {};
  for (const e of sd.snapshot?.element ?? []) {
    if (!e.path.startsWith('MessageHeader.event')) continue;
    const coding = (e.patternCoding ?? e.fixedCoding) as EventCoding | undefined;
    if (coding?.code) return coding;
    const tail = e.path.split('.').pop();
    const v = (el: ElementDefinition, kind: string) =>
      (el[`pattern${kind}`] ?? el[`fixed${kind}`]) as string | undefined;
    if (tail === 'code' && v(e, 'Code')) ev.code = v(e, 'Code');
    if (tail === 'system' && v(e, 'Uri')) ev.system = v(e, 'Uri');
  }
  return ev.code ? ev : undefined;
}

const MEDCOM_EVENTS = 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes';

/**
 * MedCom's event codes and their message profiles, for events whose header profile does not pin the event
 * (MedComAcknowledgementMessageHeader leaves eventCoding to the instance). From the canonical URLs of the MedCom
 * IGs (messaging, acknowledgement, CareCommunication, HospitalNotification, HomeCareObservation).
 */
export const MEDCOM_MESSAGE_PROFILES: Readonly<Record<string, string>> = {
  'empty-message': 'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-message',
  'acknowledgement-message':
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement',
  'care-communication-message':
    'http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message',
  'hospital-notification-message':
    'http://medcomfhir.dk/ig/hospitalnotification/StructureDefinition/medcom-hospitalNotification-message',
  'homecareobservation-message':
    'http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message',
};

/**
 * Event code → message Bundle profile, derived from the loaded profiles: a MessageHeader profile that pins
 * `eventCoding`, and the Bundle profile whose invariant requires `conformsTo()` that header (MedCom:
 * medcom-homecareObsMessage-1, medcom-acknowledgement-2). Keys are `system|code` and `|code`.
 */
export function messageProfiles(conformance: Conformance): Map<string, string> {
  const cached = conformance.messageProfiles;
  if (cached) return cached;
  const headers = new Map<string, EventCoding>();
  const bundles: StructureDefinition[] = [];
  for (const s of conformance.summaries()) {
    if (s.resourceType !== 'StructureDefinition' || s.derivation !== 'constraint') continue;
    if (s.type !== 'MessageHeader' && s.type !== 'Bundle') continue;
    const sd = conformance.bodyOf(s) as StructureDefinition | undefined;
    if (!sd) continue;
    if (sd.type === 'MessageHeader') {
      const ev = pinnedEvent(sd);
      if (ev && !headers.has(sd.url)) headers.set(sd.url, ev);
    } else if (sd.type === 'Bundle') bundles.push(sd);
  }
  const map = new Map<string, string>();
  for (const b of bundles) {
    const root = b.snapshot?.element[0];
    for (const c of root?.constraint ?? []) {
      for (const m of c.expression?.matchAll(/conformsTo\('([^']+)'\)/g) ?? []) {
        const ev = headers.get(m[1] as string);
        if (!ev?.code) continue;
        for (const key of [`${ev.system ?? ''}|${ev.code}`, `|${ev.code}`])
          if (!map.has(key)) map.set(key, b.url);
      }
    }
  }
  for (const [code, url] of Object.entries(MEDCOM_MESSAGE_PROFILES)) {
    if (!map.has(`${MEDCOM_EVENTS}|${code}`)) map.set(`${MEDCOM_EVENTS}|${code}`, url);
  }
  conformance.messageProfiles = map;
  return map;
}

/**
 * The message profile a message Bundle's event implies: MessageHeader.eventCoding, or the eventCoding of the
 * MessageDefinition named by MessageHeader.definition (FHIR R4 messaging.html §2.4.1: "the event … identifies
 * the content"). Issues explain an event or definition the loaded resources do not know.
 *
 * @example
 * impliedMessageProfile(bundle, shippedConformance()).profile;
 * // 'http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message'
 */
export function impliedMessageProfile(
  bundle: Json,
  conformance: Conformance,
): { profile?: string; issues: Issue[] } {
  const issues: Issue[] = [];
  if (bundle.resourceType !== 'Bundle' || bundle.type !== 'message') return { issues };
  const entries = (bundle.entry as Json[] | undefined) ?? [];
  const header = entries[0]?.resource as Json | undefined;
  if (header?.resourceType !== 'MessageHeader') return { issues };
  let ev = header.eventCoding as EventCoding | undefined;
  const def = header.definition;
  if (!ev?.code && typeof def === 'string') {
    const md = conformance.resolve(def, 'MessageDefinition') as Json | undefined;
    if (md) ev = md.eventCoding as EventCoding | undefined;
    else {
      issues.push({
        severity: 'warning',
        code: 'not-found',
        expression: 'Bundle.entry[0].resource.definition',
        message: `MessageDefinition ${def} is not loaded`,
      });
    }
  }
  if (!ev?.code) return { issues };
  const map = messageProfiles(conformance);
  const profile =
    map.get(`${ev.system ?? ''}|${ev.code}`) ?? (ev.system ? undefined : map.get(`|${ev.code}`));
  if (!profile || !conformance.structureDefinition(profile)) {
    // A profile the event implies but that is not loaded, or an unknown MedCom event: the message was not checked
    // against what its event requires, so say so (a warning is printed; information is not). A foreign event
    // implies no profile we could know of.
    const unchecked = profile !== undefined || ev.system === MEDCOM_EVENTS;
    issues.push({
      severity: unchecked ? 'warning' : 'information',
      code: unchecked ? 'not-supported' : 'informational',
      expression: 'Bundle.entry[0].resource.eventCoding',
      message: profile
        ? `The message profile ${profile} of event ${ev.code} is not loaded; only claimed profiles were checked`
        : `No message profile known for event ${ev.system ?? ''}#${ev.code}; only claimed profiles were checked`,
    });
    return { issues };
  }
  return { profile, issues };
}
