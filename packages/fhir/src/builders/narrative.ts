import { escapeText } from '@ehmi/xml';
import type { Narrative, Resource } from '@medplum/fhirtypes';

const QUOTES = { quotes: true };

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/**
 * A generated narrative listing a resource's key facts, one `<p><b>label</b>: value</p>` per line (R4 Narrative:
 * status `generated`, a single XHTML div). MedCom: the narrative "SHALL always be included" (MedComMessaging
 * MessageHeader `text` MS; medcom-fhir.md §1.4). Lines whose value is empty are left out.
 *
 * @example
 * narrative('Patient', [['Name', 'Bruno Elmer'], ['CPR', '2509479989']]);
 */
export function narrative(title: string, lines: [label: string, value: string | undefined][]): Narrative {
  const body = lines
    .filter((line): line is [string, string] => typeof line[1] === 'string' && line[1].trim() !== '')
    .map(([label, value]) => `<p><b>${escapeText(label, QUOTES)}</b>: ${escapeText(value, QUOTES)}</p>`)
    .join('');
  return {
    status: 'generated',
    div: `<div xmlns="${XHTML_NS}"><p><b>${escapeText(title, QUOTES)}</b></p>${body}</div>`,
  };
}

type Named = (reference: string | undefined) => string | undefined;

function codings(c: { coding?: { code?: string; display?: string }[]; text?: string } | undefined): string {
  return (
    (c?.coding ?? []).map((x) => (x.display ? `${x.display} (${x.code})` : (x.code ?? ''))).join(', ') ||
    (c?.text ?? '')
  );
}

function humanName(n: { given?: string[]; family?: string } | undefined): string {
  return [...(n?.given ?? []), n?.family ?? ''].join(' ').trim();
}

function identifiers(ids: { system?: string; value?: string }[] | undefined): string {
  return (ids ?? []).map((i) => `${i.value} (${i.system})`).join(', ');
}

/**
 * The generated narrative of a resource the builders produce; `name` turns a reference into the referenced
 * resource's display name, so the narrative says who, not only `Organization/<uuid>`.
 */
export function describe(resource: Resource, name: Named): Narrative | undefined {
  switch (resource.resourceType) {
    case 'MessageHeader':
      return narrative(`MessageHeader ${resource.eventCoding?.code ?? ''}`, [
        ['Sender', name(resource.sender?.reference)],
        ['Receiver', name(resource.destination?.[0]?.receiver?.reference)],
        ['Destination endpoint', resource.destination?.[0]?.endpoint],
        ['Source endpoint', resource.source?.endpoint],
        ['Response to', resource.response?.identifier],
        ['Response code', resource.response?.code],
      ]);
    case 'Patient':
      return narrative('Patient', [
        ['Name', humanName(resource.name?.[0])],
        ['Identifier', identifiers(resource.identifier)],
      ]);
    case 'Organization':
      return narrative('Organization', [
        ['Name', resource.name],
        ['Identifier', identifiers(resource.identifier)],
        ['Contact', humanName(resource.contact?.[0]?.name)],
      ]);
    case 'Practitioner':
      return narrative('Practitioner', [
        ['Name', humanName(resource.name?.[0])],
        ['Phone', resource.telecom?.find((t) => t.system === 'phone')?.value],
      ]);
    case 'PractitionerRole':
      return narrative('PractitionerRole', [
        ['Practitioner', name(resource.practitioner?.reference)],
        ['Role', codings(resource.code?.[0])],
      ]);
    case 'DiagnosticReport':
      return narrative('DiagnosticReport', [
        ['Code', codings(resource.code)],
        ['Status', resource.status],
        ['Issued', resource.issued],
        ['Patient', name(resource.subject?.reference)],
        ['Results', String(resource.result?.length ?? 0)],
        ['Conclusion', resource.conclusion],
      ]);
    case 'Observation':
      return narrative('Observation', [
        ['Code', codings(resource.code)],
        [
          'Value',
          resource.valueQuantity
            ? `${resource.valueQuantity.comparator ?? ''}${resource.valueQuantity.value} ${resource.valueQuantity.unit ?? resource.valueQuantity.code ?? ''}`.trim()
            : resource.valueString,
        ],
        ['Effective', resource.effectiveDateTime],
        ['Interpretation', codings(resource.interpretation?.[0])],
        ['Note', resource.note?.map((n) => n.text).join(' ')],
      ]);
    case 'Provenance':
      return narrative('Provenance', [
        ['Activity', codings(resource.activity)],
        ['Target', resource.target?.map((t) => t.reference).join(', ')],
        ['Occurred', resource.occurredDateTime],
        ['By', name(resource.agent?.[0]?.who?.reference)],
        ['Entity', resource.entity?.map((e) => `${e.role} ${e.what?.reference}`).join(', ')],
      ]);
    case 'OperationOutcome':
      return narrative(
        'OperationOutcome',
        resource.issue.map((i, n): [string, string] => [
          `Issue ${n + 1}`,
          [i.severity, i.code, codings(i.details), i.diagnostics].filter(Boolean).join(' / '),
        ]),
      );
    default:
      return undefined;
  }
}

/**
 * Adds a generated narrative to each of `targets` that has none, naming referenced resources found in `context`
 * (default: the targets themselves).
 */
export function addNarratives(targets: Resource[], context: Resource[] = targets): void {
  const names = new Map<string, string>();
  for (const r of context) {
    const label =
      r.resourceType === 'Organization'
        ? r.name
        : r.resourceType === 'Patient' || r.resourceType === 'Practitioner'
          ? humanName(r.name?.[0])
          : undefined;
    if (label) names.set(`${r.resourceType}/${r.id}`, label);
  }
  const name: Named = (reference) => (reference ? (names.get(reference) ?? reference) : undefined);
  for (const r of targets) {
    if ('text' in r && r.text) continue;
    const text = describe(r, name);
    if (text) (r as { text?: Narrative }).text = text;
  }
}
