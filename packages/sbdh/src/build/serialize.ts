import { escapeAttr, escapeText } from '@ehmi/xml';
import { NS } from '../constants.ts';
import type { EhmiEnvelope, Scope } from '../model.ts';

/** SBDH text is written with `"` as `&quot;`, as it always was. */
export const QUOTES = { quotes: true };

/** Text as one or more CDATA sections (a `]]>` inside is split across two sections). */
export function cdata(value: string): string {
  return `<![CDATA[${value.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** Scope types whose value is written as CDATA: the XDS-METADATA DocumentReference JSON ("[CDATA: …]"). */
const CDATA_SCOPES = new Set(['XDS-METADATA']);

function el(indent: string, name: string, text: string): string {
  return `${indent}<${name}>${escapeText(text, QUOTES)}</${name}>\n`;
}

function scopeXml(scope: Scope, i: string): string {
  let out = `${i}<Scope>\n`;
  out += el(`${i}  `, 'Type', scope.type);
  out += CDATA_SCOPES.has(scope.type)
    ? `${i}  <InstanceIdentifier>${cdata(scope.instanceIdentifier)}</InstanceIdentifier>\n`
    : el(`${i}  `, 'InstanceIdentifier', scope.instanceIdentifier);
  if (scope.identifier !== undefined) out += el(`${i}  `, 'Identifier', scope.identifier);
  const ci = scope.correlationInformation;
  if (ci) {
    out += `${i}  <CorrelationInformation>\n`;
    out += el(`${i}    `, 'RequestingDocumentCreationDateTime', ci.requestingDocumentCreationDateTime);
    out += el(`${i}    `, 'RequestingDocumentInstanceIdentifier', ci.requestingDocumentInstanceIdentifier);
    if (ci.expectedResponseDateTime !== undefined) {
      out += el(`${i}    `, 'ExpectedResponseDateTime', ci.expectedResponseDateTime);
    }
    out += `${i}  </CorrelationInformation>\n`;
  }
  const bs = scope.businessService;
  if (bs) {
    const attrs = Object.entries(bs.serviceTransaction)
      .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
      .join('');
    out += `${i}  <BusinessService>\n`;
    out += el(`${i}    `, 'BusinessServiceName', bs.businessServiceName);
    out += `${i}    <ServiceTransaction${attrs}/>\n`;
    out += `${i}  </BusinessService>\n`;
  }
  return `${out}${i}</Scope>\n`;
}

/**
 * Serialize an envelope. For the `ehmi` profile `BinaryContent` is in the SBDH namespace, as the IG XSD declares it
 * (a local element of `StandardBusinessDocument`); for the `gs1` profile it is PEPPOL's global `bc:BinaryContent`,
 * the `##other` payload the GS1 schema expects.
 */
export function serializeEnvelope(envelope: EhmiEnvelope): string {
  const d = envelope.documentIdentification;
  const gs1 = envelope.profile === 'gs1';
  let out = '<?xml version="1.0" encoding="UTF-8"?>\n';
  out += `<StandardBusinessDocument xmlns="${NS.sbdh}"${gs1 ? ` xmlns:bc="${NS.peppol}"` : ''}>\n`;
  out += '  <StandardBusinessDocumentHeader>\n';
  out += el('    ', 'HeaderVersion', envelope.headerVersion);
  for (const [name, party] of [
    ['Sender', envelope.sender],
    ['Receiver', envelope.receiver],
  ] as const) {
    out += `    <${name}>\n      <Identifier Authority="${escapeAttr(party.authority)}">${escapeText(party.value, QUOTES)}</Identifier>\n    </${name}>\n`;
  }
  out += '    <DocumentIdentification>\n';
  out += el('      ', 'Standard', d.standard);
  out += el('      ', 'TypeVersion', d.typeVersion);
  out += el('      ', 'InstanceIdentifier', d.instanceIdentifier);
  out += el('      ', 'Type', d.type);
  if (d.multipleType !== undefined) out += el('      ', 'MultipleType', String(d.multipleType));
  out += el('      ', 'CreationDateAndTime', d.creationDateAndTime);
  out += '    </DocumentIdentification>\n';
  out += '    <BusinessScope>\n';
  for (const scope of envelope.scopes) out += scopeXml(scope, '      ');
  out += '    </BusinessScope>\n';
  out += '  </StandardBusinessDocumentHeader>\n';
  const bc = envelope.binaryContent;
  const name = gs1 ? 'bc:BinaryContent' : 'BinaryContent';
  const encoding = bc.encoding !== undefined ? ` encoding="${escapeAttr(bc.encoding)}"` : '';
  out += `  <${name} mimeType="${escapeAttr(bc.mimeType)}"${encoding}>${bc.base64}</${name}>\n`;
  out += '</StandardBusinessDocument>\n';
  return out;
}
