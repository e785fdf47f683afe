export type { Attr, Document, Element, Node } from '@xmldom/xmldom';
export {
  ancestorNamespaceDeclarations,
  EXC_C14N,
  EXC_C14N_WITH_COMMENTS,
  type ExcC14nOptions,
  excC14n,
} from './c14n.ts';
export { childElement, childElements, descendantElements, pathOf, rootElement, textOf } from './dom.ts';
export { escapeAttr, escapeCanonicalAttr, escapeText, isXmlText } from './escape.ts';
export { type LeanAttr, LeanDocument, LeanElement, LeanNode, parseXmlLean } from './lean.ts';
export { DEFAULT_MAX_XML_BYTES, type ParseXmlOptions, parseXml, serializeXml } from './parse.ts';
export { loadSchemaSet, type SchemaSet, validateXsd, type XsdIssue, type XsdResult } from './xsd.ts';
export { type XsdFile, type XsdRun, XsdWorker } from './xsd-worker.ts';
