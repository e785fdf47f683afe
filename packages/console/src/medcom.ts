// A MedCom FHIR message (a Bundle of type `message`) read for a person: who it is about, who sent it, what was
// measured, and the words written. Only text leaves this module; a resource's XHTML narrative is reduced to its text,
// never put into the page as markup.

type R = Record<string, unknown>;

export interface ObservationView {
  test: string;
  code?: string;
  value: string;
  unit: string;
  reference: string;
  interpretation: string;
  abnormal: boolean;
  time?: string;
  note: string;
}

export interface MessageView {
  title: string;
  sent?: string;
  patient?: { name: string; cpr?: string; birthDate?: string; gender?: string };
  sender?: string;
  receiver?: string;
  observations: ObservationView[];
  narrative: string[];
}

const arr = (v: unknown): R[] => (Array.isArray(v) ? (v as R[]) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

function codingText(c: unknown): string {
  const cc = (c ?? {}) as R;
  const coding = arr(cc.coding)[0];
  return str(cc.text) || str(coding?.display) || str(coding?.code);
}

function textOfXhtml(div: string): string {
  const doc = new DOMParser().parseFromString(div, 'text/html');
  return (doc.body.textContent ?? '').replace(/\s+/g, ' ').trim();
}

function nameOf(r: R | undefined): string {
  if (!r) return '';
  if (typeof r.name === 'string') return r.name;
  const n = arr(r.name)[0];
  if (!n) return '';
  return str(n.text) || [...arr(n.given).map(str), str(n.family)].filter(Boolean).join(' ');
}

function quantity(q: unknown): { value: string; unit: string } {
  const v = (q ?? {}) as R;
  const comparator = str(v.comparator);
  return { value: `${comparator}${str(v.value)}`, unit: str(v.unit) || str(v.code) };
}

/** Interpretation codes that flag a value outside its range (HL7 v3 ObservationInterpretation). */
const ABNORMAL = new Set(['A', 'AA', 'H', 'HH', 'HU', 'L', 'LL', 'LU', '<', '>', 'POS', 'W', 'CAR', 'R']);

export function readMessage(bundle: R): MessageView {
  const resources = arr(bundle.entry)
    .map((e) => e.resource as R | undefined)
    .filter((r): r is R => r !== undefined);
  const byRef = new Map<string, R>();
  for (const e of arr(bundle.entry)) {
    const r = e.resource as R | undefined;
    if (!r) continue;
    if (typeof e.fullUrl === 'string') byRef.set(e.fullUrl, r);
    byRef.set(`${str(r.resourceType)}/${str(r.id)}`, r);
  }
  const resolve = (ref: unknown): R | undefined => byRef.get(str((ref as R | undefined)?.reference));
  const header = resources.find((r) => r.resourceType === 'MessageHeader');
  const patient = resources.find((r) => r.resourceType === 'Patient');
  const cpr = arr(patient?.identifier).find((i) => str(i.system) === 'urn:oid:1.2.208.176.1.2');
  const event = (header?.eventCoding ?? {}) as R;
  const destination = arr(header?.destination)[0];

  const observations = resources
    .filter((r) => r.resourceType === 'Observation')
    .map((o): ObservationView => {
      let value = '';
      let unit = '';
      if (o.valueQuantity) ({ value, unit } = quantity(o.valueQuantity));
      else if (o.valueString !== undefined) value = str(o.valueString);
      else if (o.valueCodeableConcept) value = codingText(o.valueCodeableConcept);
      else if (o.valueBoolean !== undefined) value = String(o.valueBoolean);
      const range = arr(o.referenceRange)[0];
      const reference = range
        ? str(range.text) ||
          [range.low ? quantity(range.low).value : '', range.high ? quantity(range.high).value : ''].join('–')
        : '';
      const interpretation = arr(o.interpretation).map(codingText).filter(Boolean).join(', ');
      const interpretationCode = str(arr(arr(o.interpretation)[0]?.coding)[0]?.code);
      return {
        test: codingText(o.code),
        code: str(arr((o.code as R | undefined)?.coding)[0]?.code) || undefined,
        value,
        unit,
        reference,
        interpretation,
        abnormal: ABNORMAL.has(interpretationCode),
        time: str(o.effectiveDateTime) || str(o.issued) || undefined,
        note: arr(o.note)
          .map((n) => str(n.text))
          .filter(Boolean)
          .join(' '),
      };
    });

  const narrative: string[] = [];
  for (const r of resources) {
    if (r.resourceType === 'DiagnosticReport' && r.conclusion) narrative.push(str(r.conclusion));
    if (r.resourceType === 'Communication') {
      for (const p of arr(r.payload)) if (p.contentString) narrative.push(str(p.contentString));
    }
    for (const n of arr(r.note)) if (r.resourceType !== 'Observation' && n.text) narrative.push(str(n.text));
    const text = (r.text ?? {}) as R;
    if (typeof text.div === 'string' && text.status !== 'generated') {
      const t = textOfXhtml(text.div);
      if (t) narrative.push(t);
    }
  }

  return {
    title: str(event.display) || str(event.code) || 'MedCom message',
    sent: str(bundle.timestamp) || undefined,
    patient: patient
      ? {
          name: nameOf(patient),
          cpr: cpr ? str(cpr.value) : undefined,
          birthDate: str(patient.birthDate) || undefined,
          gender: str(patient.gender) || undefined,
        }
      : undefined,
    sender: nameOf(resolve(header?.sender)) || str((header?.sender as R | undefined)?.display) || undefined,
    receiver: nameOf(resolve(destination?.receiver)) || undefined,
    observations,
    narrative: [...new Set(narrative)],
  };
}
