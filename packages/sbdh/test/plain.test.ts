// loadPlainEnvelope (a received envelope read without a DOM) is loadEnvelope for every document: the same model,
// warnings, errors and thrown errors, the same validateMany result, and a document it reads without a DOM is one
// xmllint finds valid against the IG's XSD set. Over the envelopes this package builds, MedCom's examples, and
// tampered copies of both, as text and as bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asEhmiError } from '@ehmi/errors';
import { parseXmlLean, validateXsd } from '@ehmi/xml';
import {
  type DomLoadedEnvelope,
  type LoadedEnvelope,
  loadEnvelope,
  loadPlainEnvelope,
  validateMany,
} from '../src/index.ts';
import { schemaSet } from '../src/validate/schemas.ts';
import { acceptsIgSchema } from '../src/validate/xsd-compiled.ts';
import { built, examples, type Replacement, tampered } from './envelope-corpus.ts';

/** Changes that concern how the document is read (the parser and the lean tree) rather than the schema. */
const READING: [string, RegExp, Replacement][] = [
  [
    'a prefix for the SBDH namespace',
    /<StandardBusinessDocument xmlns="([^"]+)"/,
    '<sh:StandardBusinessDocument xmlns="$1" xmlns:sh="$1"',
  ],
  ['the default namespace declared again', /<Sender>/, '<Sender xmlns="http://www.medcom.dk/ehmi/sbdh">'],
  ['the default namespace changed', /<Sender>/, '<Sender xmlns="urn:other">'],
  ['the default namespace undeclared', /<Sender>/, '<Sender xmlns="">'],
  ['an undeclared prefix', /<Sender>/, '<Sender p:x="1">'],
  ['an undeclared element prefix', /<Sender>([\s\S]*?)<\/Sender>/, '<p:Sender>$1</p:Sender>'],
  ['one attribute by two prefixes', /<Sender>/, '<Sender xmlns:p="urn:p" xmlns:q="urn:p" p:x="1" q:x="2">'],
  ['an attribute twice', / mimeType="([^"]*)"/, ' mimeType="$1" mimeType="$1"'],
  ['xml:lang', /<Sender>/, '<Sender xml:lang="da">'],
  ['an empty prefix declaration', /<Sender>/, '<Sender xmlns:p="">'],
  ['a predefined entity', /<TypeVersion>([^<]*)</, '<TypeVersion>$1&amp;&lt;&gt;&quot;&apos;<'],
  ['a character reference', /<TypeVersion>([^<]*)</, '<TypeVersion>$1&#x41;&#66;<'],
  ['an entity written as a reference in a typed value', /<HeaderVersion>1\.0</, '<HeaderVersion>1&#46;0<'],
  ['an undefined entity', /<TypeVersion>([^<]*)</, '<TypeVersion>$1&foo;<'],
  ['a bare ampersand', /<TypeVersion>([^<]*)</, '<TypeVersion>$1 & <'],
  ['a DOCTYPE', /^(<\?xml[^>]*>)?/, '$1<!DOCTYPE StandardBusinessDocument [<!ENTITY x "y">]>'],
  [
    'an entity declared and used',
    /^(<\?xml[^>]*>)?([\s\S]*?)<TypeVersion>/,
    '$1<!DOCTYPE d [<!ENTITY x "1.0">]>$2<TypeVersion>&x;',
  ],
  ['a comment inside a value', /<TypeVersion>([^<]*)</, '<TypeVersion>$1<!-- c --><'],
  ['a comment after the root', /$/, '\n<!-- after -->\n'],
  ['a processing instruction after the root', /$/, '\n<?pi after?>'],
  ['text after the root', /$/, 'text'],
  ['a second root', /$/, '<StandardBusinessDocument/>'],
  ['text before the root', /<StandardBusinessDocument /, 'text<StandardBusinessDocument '],
  ['CDATA between elements', /<\/HeaderVersion>/, '</HeaderVersion><![CDATA[ ]]>'],
  ['a value as CDATA', /<TypeVersion>([^<]*)</, '<TypeVersion><![CDATA[$1]]><'],
  ['whitespace around a party', /(<Identifier Authority="[^"]*">)([^<]*)</, '$1\n  $2\n<'],
  ['whitespace around the Type', /<Type>([^<]*)<\/Type>(\s*<CreationDateAndTime>)/, '<Type> $1 </Type>$2'],
  ['whitespace only in a party', /(<Identifier Authority="[^"]*">)([^<]*)</, '$1   <'],
  ['a party empty', /(<Identifier Authority="[^"]*">)([^<]*)</, '$1<'],
  ['whitespace around a string value', /<TypeVersion>([^<]*)</, '<TypeVersion> $1 <'],
  ['CRLF line endings', /\n/g, '\r\n'],
  ['CR line endings', /\n/g, '\r'],
  ['a tab between elements', /<\/HeaderVersion>/, '</HeaderVersion>\t'],
  ['a non-breaking space between elements', /<\/HeaderVersion>/, '</HeaderVersion>\u00a0'],
  ['a line separator in a value', /<TypeVersion>([^<]*)</, '<TypeVersion>$1\u2028x<'],
  ['a replacement character in a value', /<TypeVersion>([^<]*)</, '<TypeVersion>$1\ufffd<'],
  ['a control character', /<TypeVersion>([^<]*)</, '<TypeVersion>$1\u0001<'],
  ['a reference to character 0', /<TypeVersion>([^<]*)</, '<TypeVersion>$1&#0;<'],
  ['a reference to a surrogate', /<TypeVersion>([^<]*)</, '<TypeVersion>$1&#xD800;<'],
  ['a reference to U+FFFE', /<TypeVersion>([^<]*)</, '<TypeVersion>$1&#xFFFE;<'],
  ['a reference beyond Unicode', /<TypeVersion>([^<]*)</, '<TypeVersion>$1&#x110000;<'],
  ['"]]>" in a value', /<TypeVersion>([^<]*)</, '<TypeVersion>$1]]><'],
  ['U+0080 in a start tag', /<HeaderVersion>/, '<HeaderVersion\u0080>'],
  ['U+0085 in a start tag', /<HeaderVersion>/, '<HeaderVersion\u0085>'],
  ['U+037E in an end tag', /<\/HeaderVersion>/, '</HeaderVersion\u037e>'],
  ['the prefix xml bound elsewhere', /<Sender>/, '<Sender xmlns:xml="urn:x">'],
  [
    'a prefix bound to the XML namespace',
    /<Sender>/,
    '<Sender xmlns:p="http://www.w3.org/XML/1998/namespace">',
  ],
  ['the prefix xmlns declared', /<Sender>/, '<Sender xmlns:xmlns="urn:x">'],
  ['a prefix bound to the xmlns namespace', /<Sender>/, '<Sender xmlns:p="http://www.w3.org/2000/xmlns/">'],
  ['an unclosed element', /<\/Sender>/, ''],
  ['mismatched end tag', /<\/Sender>/, '</Sendr>'],
  ['a self-closed root', /^[\s\S]*$/, '<StandardBusinessDocument xmlns="http://www.medcom.dk/ehmi/sbdh"/>'],
  [
    'the root in another namespace',
    /<StandardBusinessDocument xmlns="[^"]+"/,
    '<StandardBusinessDocument xmlns="urn:other"',
  ],
  ['another root', /^[\s\S]*$/, '<Other/>'],
];

function changed(bases: { name: string; xml: string }[]): { name: string; xml: string }[] {
  const out: { name: string; xml: string }[] = [];
  for (const base of bases) {
    for (const [name, re, by] of READING) {
      const xml = typeof by === 'string' ? base.xml.replace(re, by) : base.xml.replace(re, by);
      if (xml !== base.xml) out.push({ name: `${base.name}: ${name}`, xml });
    }
  }
  return out;
}

/** The document as text and as bytes: UTF-8, UTF-8 with a BOM, UTF-16 with a BOM, and latin-1 where it fits. */
function forms(d: { name: string; xml: string }): { name: string; xml: string | Buffer }[] {
  const out: { name: string; xml: string | Buffer }[] = [
    d,
    { name: `${d.name} (UTF-8 bytes)`, xml: Buffer.from(d.xml, 'utf8') },
    { name: `${d.name} (BOM)`, xml: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(d.xml)]) },
  ];
  if (!d.xml.includes('encoding=')) return out;
  const utf16 = d.xml.replace(/encoding=(["'])UTF-8\1/i, 'encoding="UTF-16"');
  out.push({
    name: `${d.name} (UTF-16)`,
    xml: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(utf16, 'utf16le')]),
  });
  const latin = d.xml.replace(/encoding=(["'])UTF-8\1/i, 'encoding="ISO-8859-1"');
  if (![...latin].some((c) => c.charCodeAt(0) > 0xff))
    out.push({ name: `${d.name} (latin-1)`, xml: Buffer.from(latin, 'latin1') });
  // Declared latin-1 but written as UTF-8: the same characters only when all are ASCII.
  out.push({ name: `${d.name} (latin-1 declared, UTF-8 bytes)`, xml: Buffer.from(latin, 'utf8') });
  return out;
}

type Outcome = { loaded: LoadedEnvelope } | { code: string; message: string };

function outcome(load: () => LoadedEnvelope): Outcome {
  try {
    return { loaded: load() };
  } catch (err) {
    const e = asEhmiError(err);
    return { code: e.code, message: e.message };
  }
}

const bases = [...built, ...examples];
const corpus = [
  ...bases,
  ...tampered([...built.slice(0, 6), ...examples]),
  ...changed([...built.slice(0, 6), ...examples]),
].flatMap(forms);

describe('loadPlainEnvelope: a received envelope read without a DOM', () => {
  it('reads every document as loadEnvelope does, and without a DOM only what xmllint finds valid', async () => {
    let plain = 0;
    const plainTexts: { name: string; xml: string }[] = [];
    const pairs: { name: string; xml: string | Buffer; ours: LoadedEnvelope; theirs: LoadedEnvelope }[] = [];
    for (const d of corpus) {
      const ours = outcome(() => loadPlainEnvelope(d.xml, d.name));
      const theirs = outcome(() => loadEnvelope(d.xml, d.name));
      if (!('loaded' in ours) || !('loaded' in theirs)) {
        assert.deepEqual(ours, theirs, d.name);
        continue;
      }
      assert.deepEqual(ours.loaded.envelope, theirs.loaded.envelope, d.name);
      assert.deepEqual(ours.loaded.warnings, theirs.loaded.warnings, d.name);
      assert.deepEqual(ours.loaded.errors, theirs.loaded.errors, d.name);
      if ('schemaValid' in ours.loaded) {
        plain++;
        const dom = theirs.loaded as DomLoadedEnvelope;
        assert.deepEqual(dom.warnings, [], `${d.name} read without a DOM has variants`);
        assert.deepEqual(dom.errors, [], `${d.name} read without a DOM has errors`);
        assert.ok(
          acceptsIgSchema(dom.doc),
          `${d.name} read without a DOM, but the schema as code refuses its DOM`,
        );
        if (typeof d.xml === 'string') plainTexts.push({ name: d.name, xml: d.xml });
        pairs.push({ name: d.name, xml: d.xml, ours: ours.loaded, theirs: theirs.loaded });
      }
    }
    // The results validateMany gives (the XSD check, the IG's rules) are the same either way (a document read with a
    // DOM both times is the same input twice; one read without a DOM needs no xmllint run either way).
    const a = await validateMany(pairs.map((p) => ({ xml: p.xml, source: p.name, loaded: p.ours })));
    const b = await validateMany(pairs.map((p) => ({ xml: p.xml, source: p.name, loaded: p.theirs })));
    for (const [i, p] of pairs.entries()) assert.deepEqual(a[i], b[i], p.name);
    // xmllint, on the text as received, against the IG's XSD set.
    const schemas = await schemaSet('ehmi');
    const xsd = [];
    for (let i = 0; i < plainTexts.length; i += 100)
      xsd.push(
        ...(await validateXsd(
          plainTexts.slice(i, i + 100).map((d) => d.xml),
          schemas,
        )),
      );
    for (const [i, d] of plainTexts.entries())
      assert.equal(
        xsd[i]!.valid,
        true,
        `${d.name} read without a DOM, but xmllint says ${JSON.stringify(xsd[i]!.issues)}`,
      );
    for (const b of built)
      assert.ok('schemaValid' in loadPlainEnvelope(b.xml, b.name), `${b.name} needs a DOM`);
    assert.ok(corpus.length >= 1500, `only ${corpus.length} documents`);
    console.log(
      `${corpus.length} documents, ${plain} read without a DOM, ${plainTexts.length} of them checked by xmllint`,
    );
    assert.ok(plain >= built.length * 3, `only ${plain} read without a DOM`);
  });

  it('refuses, with either reader, what xmllint refuses as not well-formed though xmldom reads it', () => {
    const names = [
      'a reference to character 0',
      'a reference to a surrogate',
      'a reference to U+FFFE',
      'a reference beyond Unicode',
      '"]]>" in a value',
      'U+0080 in a start tag',
      'U+0085 in a start tag',
      'U+037E in an end tag',
      'the prefix xml bound elsewhere',
      'a prefix bound to the XML namespace',
      'the prefix xmlns declared',
      'a prefix bound to the xmlns namespace',
    ];
    for (const name of names) {
      const [, re, by] = READING.find(([n]) => n === name)!;
      const xml = built[0]!.xml.replace(re, by as string);
      assert.notEqual(xml, built[0]!.xml, name);
      assert.throws(() => loadPlainEnvelope(xml), { code: 'EHMI_XML_MALFORMED' }, name);
      assert.throws(() => loadEnvelope(xml), { code: 'EHMI_XML_MALFORMED' }, name);
    }
  });

  it('refuses a DOCTYPE, an oversized document and a bad encoding before any parse, as parseXml does', () => {
    const xml = built[0]!.xml;
    assert.throws(() => parseXmlLean(`<!DOCTYPE a [<!ENTITY x "y">]>${xml}`), {
      code: 'EHMI_XML_DOCTYPE_FORBIDDEN',
    });
    assert.throws(() => parseXmlLean(xml, { maxBytes: 100 }), { code: 'EHMI_TOO_LARGE' });
    assert.throws(() => parseXmlLean(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e])), {
      code: 'EHMI_XML_MALFORMED',
    });
    assert.equal(parseXmlLean('<a><b></a>'), undefined);
    assert.equal(parseXmlLean('<a>&foo;</a>'), undefined);
  });
});
