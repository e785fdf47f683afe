import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { childElement, excC14n, parseXml, parseXmlLean, rootElement } from '../src/index.ts';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof EhmiError ? err.code : `not EhmiError: ${String(err)}`;
  }
  return undefined;
}

describe('parseXml', () => {
  it('parses a namespaced document', () => {
    const doc = parseXml('<a:r xmlns:a="urn:a"><a:c>x</a:c></a:r>');
    assert.equal(childElement(rootElement(doc), 'urn:a', 'c')?.textContent, 'x');
  });

  it('refuses an internal DTD with entity expansion (billion laughs) before parsing', () => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><r>&lol2;</r>';
    assert.equal(
      code(() => parseXml(bomb)),
      'EHMI_XML_DOCTYPE_FORBIDDEN',
    );
  });

  it('refuses an external entity (XXE)', () => {
    const xxe = '<!doctype r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>';
    assert.equal(
      code(() => parseXml(xxe)),
      'EHMI_XML_DOCTYPE_FORBIDDEN',
    );
  });

  it('treats an undefined entity reference as malformed', () => {
    assert.equal(
      code(() => parseXml('<r>&undefined;</r>')),
      'EHMI_XML_MALFORMED',
    );
  });

  it('treats unclosed tags, garbage and empty input as malformed', () => {
    assert.equal(
      code(() => parseXml('<r><a></r>')),
      'EHMI_XML_MALFORMED',
    );
    assert.equal(
      code(() => parseXml('not xml at all')),
      'EHMI_XML_MALFORMED',
    );
    assert.equal(
      code(() => parseXml('')),
      'EHMI_XML_MALFORMED',
    );
  });

  it('refuses a document over the size limit', () => {
    assert.equal(
      code(() => parseXml(`<r>${'x'.repeat(100)}</r>`, { maxBytes: 50 })),
      'EHMI_TOO_LARGE',
    );
  });

  it('names the source in the error message', () => {
    assert.throws(() => parseXml('<r>', { source: 'env.xml' }), /env\.xml is not well-formed XML/);
  });
});

describe('excC14n', () => {
  it('renders only visibly used namespaces, taken from ancestors when declared there', () => {
    const doc = parseXml(
      '<s:E xmlns:s="urn:s" xmlns:eb="urn:eb" xmlns:u="urn:u"><s:H><eb:M  b="2" a="1"><eb:X/></eb:M></s:H></s:E>',
    );
    const m = doc.getElementsByTagNameNS('urn:eb', 'M').item(0)!;
    assert.equal(excC14n(m), '<eb:M xmlns:eb="urn:eb" a="1" b="2"><eb:X></eb:X></eb:M>');
  });

  it('keeps an ancestor namespace listed in the InclusiveNamespaces PrefixList', () => {
    const doc = parseXml('<s:E xmlns:s="urn:s" xmlns:u="urn:u"><s:B/></s:E>');
    const b = doc.getElementsByTagNameNS('urn:s', 'B').item(0)!;
    assert.equal(excC14n(b, { inclusivePrefixes: ['u'] }), '<s:B xmlns:s="urn:s" xmlns:u="urn:u"></s:B>');
  });
});

describe('excC14n ordering', () => {
  it('orders namespace declarations by code point (upper case before lower case), as Canonical XML 1.0 §2.2 says', () => {
    const doc = parseXml('<S12:E xmlns:S12="urn:s" xmlns:ds="urn:d" ds:a="1"><S12:B/></S12:E>');
    assert.equal(
      excC14n(rootElement(doc)),
      '<S12:E xmlns:S12="urn:s" xmlns:ds="urn:d" ds:a="1"><S12:B></S12:B></S12:E>',
    );
  });

  it('escapes text and attribute values as Canonical XML 1.0 §2.3, and drops comments', () => {
    const doc = parseXml('<r a="x&#9;&quot;&lt;">a&amp;b&gt;<!-- gone --><![CDATA[<c>]]></r>');
    assert.equal(excC14n(rootElement(doc)), '<r a="x&#x9;&quot;&lt;">a&amp;b&gt;&lt;c&gt;</r>');
  });
});

describe('excC14n with comments', () => {
  it('keeps comments inside the element in the #WithComments variant', () => {
    const doc = parseXml('<r><!-- kept --><a/></r>');
    assert.equal(excC14n(rootElement(doc), { withComments: true }), '<r><!-- kept --><a></a></r>');
  });
});

describe('parseXml strictness beyond the DOM parser', () => {
  it('refuses a bare "&" in text, and accepts it inside CDATA and comments', () => {
    assert.equal(
      code(() => parseXml('<r>a & b</r>')),
      'EHMI_XML_MALFORMED',
    );
    assert.equal(parseXml('<r><![CDATA[a & b]]><!-- & --></r>').documentElement?.textContent, 'a & b');
    assert.equal(parseXml('<r a="&amp;&#38;&#x26;"/>').documentElement?.getAttribute('a'), '&&&');
  });

  it('names the first bare "&" outside CDATA, comments and processing instructions', () => {
    assert.throws(
      () => parseXml('<r><![CDATA[&]]><?pi & ?><!-- & -->&amp;x & y</r>'),
      /"&" at offset 42 does not/,
    );
    assert.throws(() => parseXml('<r>&#x;</r>'), /"&" at offset 3 does not/);
    assert.throws(() => parseXml('<r><!-- never closed & <a/></r>'), /"&" at offset 21 does not/);
    assert.equal(parseXml('<r>&lt;<![CDATA[ & ]]>&#38;</r>').documentElement?.textContent, '< & &');
  });

  it('finds a bare "&" where blanking the literal sections and searching did, on generated documents', () => {
    // The earlier check, kept here as the reference: blank the literal sections, then search.
    const sections = /<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
    const bare = /&(?!(?:[A-Za-z_:][\w.:-]*|#[0-9]+|#x[0-9A-Fa-f]+);)/;
    const pieces = [
      '&',
      '&amp;',
      '&#38;',
      '&#x26;',
      '&#x;',
      '&a.b:c-d;',
      '&1;',
      ';',
      'a',
      ' ',
      '<![CDATA[',
      ']]>',
      '<!--',
      '-->',
      '<?p',
      '?>',
      '<',
      '>',
    ];
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      let inner = '';
      for (let j = next(12); j >= 0; j--) inner += pieces[next(pieces.length)];
      const text = `<r>${inner}</r>`;
      const expected = bare.exec(text.replace(sections, (m) => ' '.repeat(m.length)))?.index;
      let found: number | undefined;
      try {
        parseXml(text);
      } catch (err) {
        const m = /"&" at offset (\d+)/.exec((err as Error).message);
        if (m) found = Number(m[1]);
        else if (expected !== undefined) continue; // another well-formedness error came first
      }
      assert.equal(found, expected, text);
    }
  });

  it('refuses a character reference to no XML character, in text and in attribute values', () => {
    for (const ref of [
      '&#0;',
      '&#x0;',
      '&#8;',
      '&#xD800;',
      '&#xDFFF;',
      '&#xFFFE;',
      '&#xFFFF;',
      '&#x110000;',
      '&#99999999;',
    ]) {
      for (const doc of [`<r>a${ref}</r>`, `<r a="${ref}"/>`]) {
        assert.throws(
          () => parseXml(doc),
          { code: 'EHMI_XML_MALFORMED', message: /is to no XML character/ },
          doc,
        );
        assert.throws(() => parseXmlLean(doc), { code: 'EHMI_XML_MALFORMED' }, doc);
      }
    }
    // The edges of XML's characters, and the same references where they are literal.
    const ok = parseXml('<r a="&#9;">&#xA;&#xD;&#x20;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;</r>');
    assert.equal(ok.documentElement?.textContent, '\n\r \ud7ff\ue000\ufffd\u{10000}\u{10ffff}');
    assert.equal(
      parseXml('<r><![CDATA[&#0;]]><!-- &#0; --><?p &#0;?></r>').documentElement?.textContent,
      '&#0;',
    );
  });

  it('refuses "]]>" in character data, and reads it in CDATA, comments, processing instructions and values', () => {
    for (const doc of ['<r>a]]>b</r>', '<r><a/>]]></r>', '<r a="1">]]></r>', '<r a=">">]]></r>']) {
      assert.throws(
        () => parseXml(doc),
        { code: 'EHMI_XML_MALFORMED', message: /"\]\]>" at offset \d+ is in character data/ },
        doc,
      );
      assert.throws(() => parseXmlLean(doc), { code: 'EHMI_XML_MALFORMED' }, doc);
    }
    const doc = parseXml('<r a="]]>" b=\'"]]>\'><![CDATA[x]]><!-- ]]> --><?p ]]>?>]]&gt;</r>');
    assert.equal(doc.documentElement?.getAttribute('a'), ']]>');
    assert.equal(doc.documentElement?.getAttribute('b'), '"]]>');
    assert.equal(doc.documentElement?.textContent, 'x]]>');
  });

  it('refuses in a tag the characters xmldom reads as spaces or name characters, and reads them in text and values', () => {
    for (const [ch, code] of [
      ['\u0080', '0080'],
      ['\u0085', '0085'],
      ['\u2028', '2028'],
      ['\u2029', '2029'],
      ['\u037e', '037E'],
    ]) {
      for (const doc of [
        `<r${ch}a="1"/>`,
        `<r a="1"${ch}b="2"/>`,
        `<r a="1"${ch}/>`,
        `<r a='1'${ch}>x</r>`,
        `<r${ch}/>`,
        `<r a${ch}="1"/>`,
        `<r>x</r${ch}>`,
      ]) {
        const message = new RegExp(`U\\+${code} at offset \\d+ is not allowed in a tag`);
        assert.throws(() => parseXml(doc), { code: 'EHMI_XML_MALFORMED', message }, JSON.stringify(doc));
        assert.throws(() => parseXmlLean(doc), { code: 'EHMI_XML_MALFORMED' }, JSON.stringify(doc));
      }
      const doc = parseXml(`<r a="${ch}">${ch}<!--${ch}--></r>`);
      assert.equal(doc.documentElement?.getAttribute('a'), ch);
      assert.equal(doc.documentElement?.textContent, ch);
    }
  });

  it('refuses an end tag that closes no open element, and U+037E in a processing instruction target, with either reader', () => {
    for (const [doc, wrong] of [
      ['<r/></r>', 'the end tag "r" closes no open element'],
      ['<r><a/></r></r>', 'the end tag "r" closes no open element'],
      ['<?a\u037eb x?><r/>', "U\\+037E is not allowed in a processing instruction's target"],
      ['<r><?a\u037e?></r>', "U\\+037E is not allowed in a processing instruction's target"],
    ] as const) {
      for (const locator of [true, false]) {
        assert.throws(
          () => parseXml(doc, { locator }),
          { code: 'EHMI_XML_MALFORMED', message: new RegExp(wrong) },
          JSON.stringify(doc),
        );
      }
      assert.equal(parseXmlLean(doc), undefined, JSON.stringify(doc));
    }
    // Read as before: a processing instruction with a plain target, U+037E in its data, nested end tags.
    for (const doc of ['<?a b\u037e?><r/>', '<r><?a b?></r>', '<r><a><b/></a></r>']) {
      assert.ok(parseXml(doc).documentElement, doc);
      assert.ok(parseXmlLean(doc)?.documentElement, doc);
    }
  });

  it('refuses a document declaring an XML version other than 1.0, with either reader', () => {
    for (const doc of [
      '<?xml version="1.1"?><r/>',
      "<?xml version='1.1' encoding='UTF-8'?><r/>",
      '<?xml version="2.0"?><r/>',
    ]) {
      assert.throws(
        () => parseXml(doc),
        { code: 'EHMI_XML_MALFORMED', message: /only XML 1.0 is read/ },
        doc,
      );
      assert.throws(() => parseXmlLean(doc), { code: 'EHMI_XML_MALFORMED' }, doc);
    }
    assert.equal(parseXml('<?xml version="1.0" encoding="UTF-8"?><r/>').documentElement?.nodeName, 'r');
    assert.equal(parseXml("<?xml version='1.0'?><r/>").documentElement?.nodeName, 'r');
  });

  it('reads line ends as XML 1.0 does: CR LF and CR as LF, U+0085, U+2028 and U+2029 as themselves', () => {
    const xml = '<r a="x\u0085y\u2028z\u2029">x\u0085y\u2028z\u2029\r\nw\rv</r>';
    for (const doc of [parseXml(xml), parseXmlLean(xml)!]) {
      const r = doc.documentElement!;
      assert.equal(r.getAttribute('a'), 'x\u0085y\u2028z\u2029');
      assert.equal(r.firstChild?.nodeValue, 'x\u0085y\u2028z\u2029\nw\nv');
    }
  });

  it('refuses the namespace declarations Namespaces in XML 1.0 §3 reserves', () => {
    const XML = 'http://www.w3.org/XML/1998/namespace';
    const XMLNS = 'http://www.w3.org/2000/xmlns/';
    for (const [declaration, wrong] of [
      ['xmlns:xml="urn:x"', 'the prefix "xml" must not be bound to "urn:x"'],
      [`xmlns:p="${XML}"`, 'the prefix "p" must not be bound to the XML namespace'],
      [`xmlns="${XML}"`, 'the default namespace must not be bound to the XML namespace'],
      ['xmlns:xmlns="urn:x"', 'the prefix "xmlns" must not be declared'],
      [`xmlns:xmlns="${XMLNS}"`, 'the prefix "xmlns" must not be declared'],
      [`xmlns:p="${XMLNS}"`, 'the prefix "p" must not be bound to the xmlns namespace'],
      [`xmlns="${XMLNS}"`, 'the default namespace must not be bound to the xmlns namespace'],
    ]) {
      for (const doc of [`<r ${declaration}/>`, `<r><a ${declaration}>x</a></r>`]) {
        assert.throws(
          () => parseXml(doc),
          { code: 'EHMI_XML_MALFORMED', message: new RegExp(`: ${wrong}`) },
          doc,
        );
        assert.throws(() => parseXml(doc, { locator: false }), { code: 'EHMI_XML_MALFORMED' }, doc);
        assert.equal(parseXmlLean(doc), undefined, doc);
      }
    }
    // The prefix xml bound to its own namespace may be declared.
    const doc = parseXml(`<r xmlns:xml="${XML}" xml:lang="da"/>`);
    assert.equal(doc.documentElement?.getAttributeNS(XML, 'lang'), 'da');
  });

  it('refuses control characters XML 1.0 does not allow, naming the code point', () => {
    assert.throws(() => parseXml('<r>a\u0001b</r>'), /U\+0001 at offset 4/);
  });

  it('reports where a well-formedness error is', () => {
    assert.throws(
      () => parseXml('<r>\n<a></r>', { source: 'x.xml' }),
      /x\.xml is not well-formed XML at line 2/,
    );
  });

  it('without positions: nodes carry none, the document is the same, an error still says where', () => {
    const text = '<r xmlns="urn:x">\n  <a b="1">t</a>\n</r>';
    const plain = parseXml(text, { locator: false });
    const a = childElement(rootElement(plain), 'urn:x', 'a') as unknown as { lineNumber?: number };
    assert.equal(a.lineNumber, undefined);
    const located = childElement(rootElement(parseXml(text)), 'urn:x', 'a') as unknown as {
      lineNumber?: number;
    };
    assert.equal(located.lineNumber, 2);
    assert.equal(excC14n(rootElement(plain)), excC14n(rootElement(parseXml(text))));
    assert.throws(
      () => parseXml('<r>\n<a></r>', { source: 'x.xml', locator: false }),
      /x\.xml is not well-formed XML at line 2/,
    );
  });

  it('decodes bytes in the encoding the XML declaration names', () => {
    const latin1 = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><r>\xe6</r>', 'latin1');
    assert.equal(parseXml(latin1).documentElement?.textContent, 'æ');
  });

  it('refuses bytes that are not valid in the document encoding, and unknown encodings', () => {
    assert.throws(
      () => parseXml(Buffer.from([0x3c, 0x72, 0x3e, 0xff, 0x3c, 0x2f, 0x72, 0x3e])),
      /not valid utf-8/,
    );
    assert.throws(
      () => parseXml(Buffer.from('<?xml version="1.0" encoding="klingon"?><r/>')),
      /unsupported encoding "klingon"/,
    );
  });
});

describe("xmldom's grammar expressions", () => {
  it('are built once per combination of parts, not once per end tag', async () => {
    parseXml('<r/>');
    const { createRequire } = await import('node:module');
    const g = createRequire(import.meta.url)('@xmldom/xmldom/lib/grammar.js') as {
      reg: (...parts: unknown[]) => RegExp;
      QName_group: RegExp;
      S_OPT: RegExp;
    };
    const a = g.reg('^', g.QName_group, g.S_OPT, '$');
    assert.equal(g.reg('^', g.QName_group, g.S_OPT, '$'), a);
    assert.notEqual(g.reg('^', g.QName_group), a);
    assert.ok(a.test('soap:Envelope'));
  });

  it('still tell a mismatched or malformed end tag', () => {
    assert.equal(
      code(() => parseXml('<a><b></c></a>')),
      'EHMI_XML_MALFORMED',
    );
    assert.equal(
      code(() => parseXml('<a><b></b x></a>')),
      'EHMI_XML_MALFORMED',
    );
    assert.equal(rootElement(parseXml('<a><b></b ></a>')).localName, 'a');
  });
});
