import { isXmlText } from '@ehmi/xml';
import { NS, SCHEMA_NAMES, SCOPE_TYPES } from '../constants.ts';
import type { EhmiEnvelope, EnvelopeIssue } from '../model.ts';
import { checkRules, kindOf } from './rules.ts';
import type { ValidationResult } from './validate.ts';
import {
  BUSINESS_SERVICE_NAMES,
  base64,
  ENCODINGS,
  MIME_TYPES,
  plainDateTime,
  SCOPE_IDENTIFIERS,
  SERVICE_TRANSACTION,
  STANDARDS,
} from './xsd-compiled.ts';

/**
 * {@link validate} of an envelope this node built, from its model rather than from its text: for the envelope that
 * `serializeEnvelope(envelope)` writes, the same result `validate` gives, without parsing that text again. It is an
 * acceptor, as xsd-compiled.ts is: a result only when the model is plainly valid by the IG's XSD set as the
 * serialiser writes it, every value reads back unchanged (no surrounding whitespace, no carriage return, no
 * character XML refuses, base64 in one canonical run) and no variant is normalised; the IG's rules are then checked
 * on the model. Undefined whenever anything is unusual: then the text is validated as before (parsed, and xmllint
 * decides). Kept equal to `validate` of the serialised text by test/built.test.ts.
 *
 * @example
 * const r = validateBuilt(envelope) ?? (await validate(serializeEnvelope(envelope)));
 */
export function validateBuilt(envelope: EhmiEnvelope): ValidationResult | undefined {
  if (!acceptsModel(envelope)) return undefined;
  const errors: EnvelopeIssue[] = [];
  const warnings: EnvelopeIssue[] = [];
  for (const issue of checkRules(envelope)) (issue.severity === 'error' ? errors : warnings).push(issue);
  return {
    valid: errors.length === 0,
    recognised: true,
    schema: SCHEMA_NAMES.ehmi,
    profile: 'ehmi',
    kind: kindOf(envelope),
    errors,
    warnings,
    envelope,
  };
}

function acceptsModel(e: EhmiEnvelope): boolean {
  const d = e.documentIdentification;
  if (e.profile !== 'ehmi' || e.headerVersion !== '1.0') return false;
  for (const party of [e.sender, e.receiver]) {
    if (party.authority !== 'iso6523-actorid-upis' || !plain(party.value)) return false;
  }
  if (!STANDARDS.includes(d.standard)) return false;
  if (!plain(d.typeVersion) || !plain(d.instanceIdentifier) || !plain(d.type)) return false;
  if (d.multipleType !== undefined && d.multipleType !== false) return false;
  if (!plainDateTime(d.creationDateAndTime)) return false;
  for (const scope of e.scopes) {
    if (!(SCOPE_TYPES as readonly string[]).includes(scope.type) || !plain(scope.instanceIdentifier))
      return false;
    if (scope.identifier === undefined || !SCOPE_IDENTIFIERS.includes(scope.identifier)) return false;
    const ci = scope.correlationInformation;
    if (ci) {
      if (!plainDateTime(ci.requestingDocumentCreationDateTime)) return false;
      if (!plain(ci.requestingDocumentInstanceIdentifier)) return false;
      if (ci.expectedResponseDateTime === undefined || !plainDateTime(ci.expectedResponseDateTime))
        return false;
    }
    const bs = scope.businessService;
    if (bs) {
      if (!BUSINESS_SERVICE_NAMES.includes(bs.businessServiceName)) return false;
      for (const [name, value] of Object.entries(bs.serviceTransaction)) {
        const check = Object.hasOwn(SERVICE_TRANSACTION, name) ? SERVICE_TRANSACTION[name] : undefined;
        if (!check?.(value)) return false;
      }
    }
  }
  const bc = e.binaryContent;
  if (bc.namespace !== NS.sbdh || !MIME_TYPES.includes(bc.mimeType)) return false;
  if (bc.encoding !== undefined && !ENCODINGS.includes(bc.encoding)) return false;
  return bc.base64 !== '' && !BASE64_SPACE.test(bc.base64) && base64(bc.base64);
}

// Text that reads back as written: not empty, no surrounding whitespace (the reader trims), no carriage return (a
// parser reads CR LF as LF) and only characters XML 1.0 allows (§2.2: no other control character, no lone surrogate).
const BASE64_SPACE = /\s/;

function plain(value: string): boolean {
  return value !== '' && value.trim() === value && !value.includes('\r') && isXmlText(value);
}
