/** Namespaces of XML Signature 1.1 and of the canonicalisation it names. */
export const DSIG_NS = {
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  dsig11: 'http://www.w3.org/2009/xmldsig11#',
  dsigMore: 'http://www.w3.org/2021/04/xmldsig-more#',
  /** Exclusive c14n's namespace, for `ec:InclusiveNamespaces`. */
  ec: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  xmlns: 'http://www.w3.org/2000/xmlns/',
} as const;
