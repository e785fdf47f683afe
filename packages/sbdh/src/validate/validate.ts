import { asEhmiError, type EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import { serializeXml, validateXsd, type XsdIssue } from '@ehmi/xml';
import { type EnvelopeProfile, NS, SCHEMA_NAMES } from '../constants.ts';
import type { EhmiEnvelope, EnvelopeIssue } from '../model.ts';
import { type DomLoadedEnvelope, type LoadedEnvelope, loadEnvelope } from '../parse.ts';
import { readSignal } from '../receipt/signal.ts';
import { checkRules, type EnvelopeKind, kindOf } from './rules.ts';
import { schemaSet } from './schemas.ts';
import { acceptsIgSchema } from './xsd-compiled.ts';

/** What a bare ebBP signal is checked against (structurally: the schema imports xmldsig/xlink by URL). */
export const SIGNAL_SCHEMA = 'ebBP signals 2.0.4 (ebbp-signals-2.0.4.xsd structure)';

/** The outcome of {@link validate}: valid when there is no error; warnings name accepted variants. */
export interface ValidationResult {
  valid: boolean;
  /** False when the document is not a StandardBusinessDocument at all (the CLI's exit 2). */
  recognised: boolean;
  /** The schema applied: the IG's XSD set or the GS1/PEPPOL base. */
  schema?: string;
  profile?: EnvelopeProfile;
  kind?: EnvelopeKind;
  errors: EnvelopeIssue[];
  warnings: EnvelopeIssue[];
  envelope?: EhmiEnvelope;
  /** The error code of a document that could not be loaded (malformed, DOCTYPE, namespace, unrecognised). */
  code?: EhmiErrorCode;
}

export interface ValidateInput {
  xml: string | Uint8Array;
  /** Name used in messages (a file name). */
  source?: string;
  /** The document as {@link loadEnvelope} read it from `xml`, when the caller has it: it is not read again. */
  loaded?: LoadedEnvelope;
}

/**
 * Validate an ehmiSBDH: the IG's XSD set (or the GS1/PEPPOL base for Standards the pilot XSD does not list) after
 * lenient normalisation of MedCom's known variants, then the IG's rules the XSD cannot express.
 * Never throws for bad input: every problem is an error in the result.
 *
 * @example
 * const r = await validate(xml);
 * if (!r.valid) for (const e of r.errors) console.log(`${e.element}: ${e.message}`);
 * r.schema; // 'ehmiSBDH 2.0.1 (ehmiStandardBusinessDocumentHeader.xsd)'
 */
export async function validate(xml: string | Uint8Array, source?: string): Promise<ValidationResult> {
  const [result] = await validateMany([source === undefined ? { xml } : { xml, source }]);
  return result!;
}

/**
 * {@link validate} for many documents, with one XSD run per schema set (each run costs a WebAssembly start).
 *
 * @example
 * const results = await validateMany(files.map((f) => ({ xml: readFileSync(f), source: f })));
 */
export async function validateMany(inputs: readonly ValidateInput[]): Promise<ValidationResult[]> {
  const loaded: (LoadedEnvelope | ValidationResult)[] = inputs.map((input) => {
    if (input.loaded) return input.loaded;
    try {
      return loadEnvelope(input.xml, input.source);
    } catch (err) {
      const e = asEhmiError(err);
      if (e.code === 'EHMI_INTERNAL') throw err;
      const signal = bareSignal(e, input.xml);
      if (signal) return signal;
      const recognised = e.code !== 'EHMI_INPUT_UNREADABLE';
      const message = cleanMessage(e.message);
      const element =
        e.expression[0] ??
        (e.code === 'EHMI_XML_DOCTYPE_FORBIDDEN'
          ? 'DOCTYPE'
          : (/mismatch: "([^"]+)"/.exec(message)?.[1] ?? 'document'));
      return {
        valid: false,
        recognised,
        code: e.code,
        errors: [{ severity: 'error', rule: ruleOf(e.code), element, message }],
        warnings: [],
      } satisfies ValidationResult;
    }
  });

  const xsdResults = new Map<number, XsdIssue[]>();
  for (const profile of ['ehmi', 'gs1'] as const) {
    const batch = loaded.flatMap((l, i) => {
      if ('valid' in l || l.errors.length > 0 || l.envelope.profile !== profile) return [];
      // The envelopes the IG's XSD plainly accepts need no xmllint run (xsd-compiled.ts; loadPlainEnvelope decided
      // it while reading); xmllint words the rest.
      if (profile === 'ehmi' && ('schemaValid' in l || acceptsIgSchema(l.doc))) {
        xsdResults.set(i, []);
        return [];
      }
      return [i];
    });
    if (batch.length === 0) continue;
    const results = await validateXsd(
      batch.map((i) => serializeXml((loaded[i] as DomLoadedEnvelope).doc)),
      await schemaSet(profile),
    );
    for (const [k, i] of batch.entries()) xsdResults.set(i, results[k]!.issues);
  }

  return loaded.map((l, i) => {
    if ('valid' in l) return l;
    const profile = l.envelope.profile;
    const errors: EnvelopeIssue[] = [...l.errors];
    const warnings: EnvelopeIssue[] = [...l.warnings];
    if (l.errors.length === 0) {
      for (const x of xsdResults.get(i) ?? []) errors.push(xsdIssue(x));
      for (const issue of checkRules(l.envelope))
        (issue.severity === 'error' ? errors : warnings).push(issue);
    }
    return {
      valid: errors.length === 0,
      recognised: true,
      schema: SCHEMA_NAMES[profile],
      profile,
      kind: kindOf(l.envelope),
      errors,
      warnings,
      envelope: l.envelope,
    };
  });
}

/**
 * A bare ebBP signal (`bpssignal:ReceiptAcknowledgement` / `bpssignal:Exception`, the BinaryContent of an
 * EnvelopeReceipt, as in MedCom's `ehmiSbdhRA_…` example): checked the way ebbp-signals-2.0.4.xsd would, rather
 * than refused as an unknown kind.
 */
function bareSignal(e: EhmiError, xml: string | Uint8Array): ValidationResult | undefined {
  const details = e.details as { root?: unknown; namespace?: unknown } | undefined;
  if (
    e.code !== 'EHMI_INPUT_UNREADABLE' ||
    details?.namespace !== NS.bpssignal ||
    !['ReceiptAcknowledgement', 'Exception'].includes(String(details.root))
  ) {
    return undefined;
  }
  const { issues } = readSignal(typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml, 'bpssignal');
  const errors = issues.filter((i) => i.severity === 'error');
  return {
    valid: errors.length === 0,
    recognised: true,
    schema: SIGNAL_SCHEMA,
    kind: 'receipt',
    errors,
    warnings: issues.filter((i) => i.severity !== 'error'),
  };
}

/** The parser's wrapped message, once (`… caused EhmiError: <the message>`). */
function cleanMessage(message: string): string {
  const marker = 'caused EhmiError: ';
  const i = message.lastIndexOf(marker);
  return i === -1 ? message : message.slice(i + marker.length);
}

function ruleOf(code: EhmiErrorCode): string {
  switch (code) {
    case 'EHMI_XML_MALFORMED':
      return 'well-formed';
    case 'EHMI_XML_DOCTYPE_FORBIDDEN':
      return 'doctype';
    case 'EHMI_XML_SCHEMA_INVALID':
      return 'namespace';
    case 'EHMI_INPUT_UNREADABLE':
      return 'kind';
    default:
      return 'load';
  }
}

/** An xmllint message as an issue: namespaces dropped, the element it names as `element`. */
function xsdIssue(x: XsdIssue): EnvelopeIssue {
  const message = x.message
    .replace(/^.*?Schemas validity error\s*:\s*/, '')
    .replace(/\{(?:https?|urn):[^}]*\}/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  const element = /Element '([^']+)'/.exec(message)?.[1] ?? 'document';
  const issue: EnvelopeIssue = { severity: 'error', rule: 'xsd', element, message };
  if (x.line !== undefined) issue.line = x.line;
  return issue;
}
