/** FHIR XML namespace (R4 §2.6.1). */
export const FHIR_NS = 'http://hl7.org/fhir';
/** Narrative `div` namespace (R4 §2.6.1, Narrative). */
export const XHTML_NS = 'http://www.w3.org/1999/xhtml';
