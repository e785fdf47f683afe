import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ancestorNamespaceDeclarations, type Element, excC14n, parseXml } from '@ehmi/xml';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { AS4 } from './helpers.ts';

/** xml-crypto's exclusive c14n with the namespace order corrected to code points: the reference implementation. */
class Reference extends ExclusiveCanonicalization {
  override nsCompare(a: { prefix: string }, b: { prefix: string }): number {
    return a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;
  }
}

function reference(el: Element, inclusive: string[]): string {
  return new Reference().process(el as never, {
    // An empty list makes xml-crypto read the PrefixList of a CanonicalizationMethod child: pass a dummy prefix.
    inclusiveNamespacesPrefixList: inclusive.length > 0 ? inclusive : ['-none-'],
    ancestorNamespaces: ancestorNamespaceDeclarations(el).filter((n) => n.prefix !== ''),
    defaultNs: '',
  });
}

/** The SOAP envelope text of every XML-bearing fixture (HTTP/MIME headers and parts cut off). */
function envelopes(): [string, string][] {
  return readdirSync(AS4)
    .filter((f) => /\.(xml|as4in|mime)$/.test(f))
    .map((f) => {
      const text = readFileSync(AS4 + f, 'latin1');
      const start = text.search(/<\?xml|<[A-Za-z0-9]+:Envelope|<Envelope/);
      const endTag = /<\/([A-Za-z0-9]+:)?Envelope>/.exec(text.slice(start));
      const body = endTag ? text.slice(start, start + endTag.index + endTag[0].length) : text.slice(start);
      return [f, Buffer.from(body, 'latin1').toString('utf8')] as [string, string];
    })
    .filter(([, xml]) => xml.length > 0);
}

function allElements(root: Element): Element[] {
  const out: Element[] = [root];
  for (let n = root.firstChild; n; n = n.nextSibling)
    if (n.nodeType === 1) out.push(...allElements(n as Element));
  return out;
}

describe('exclusive c14n of @ehmi/xml, which WS-Security digests (Exc-C14N 1.0 §3), against the xml-crypto reference', () => {
  it('renders every element of every fixture envelope exactly as the reference does', () => {
    let compared = 0;
    for (const [name, xml] of envelopes()) {
      let doc: ReturnType<typeof parseXml>;
      try {
        doc = parseXml(xml);
      } catch {
        continue;
      }
      for (const el of allElements(doc.documentElement!)) {
        assert.equal(excC14n(el), reference(el, []), `${name}: ${el.nodeName}`);
        compared++;
      }
    }
    assert.ok(compared > 1000, `compared ${compared}`);
  });

  it('renders InclusiveNamespaces prefixes declared on ancestors like the reference', () => {
    for (const [name, xml] of envelopes()) {
      let probe: ReturnType<typeof parseXml>;
      try {
        probe = parseXml(xml);
      } catch {
        continue;
      }
      const count = allElements(probe.documentElement!).length;
      for (let i = 0; i < count; i += 7) {
        // Fresh documents: the reference adds the inclusive declarations to the DOM.
        const a = allElements(parseXml(xml).documentElement!)[i]!;
        const b = allElements(parseXml(xml).documentElement!)[i]!;
        const prefixes = ['S12', 'S11', 'env', 'soapenv', 'eb', 'xsi'];
        assert.equal(
          excC14n(a, { inclusivePrefixes: prefixes }),
          reference(b, prefixes),
          `${name}: ${a.nodeName}`,
        );
      }
    }
  });

  it('orders namespace declarations by code point: S12 before ds', () => {
    const doc = parseXml('<S12:E xmlns:S12="urn:s"><ds:X xmlns:ds="urn:d"/></S12:E>');
    const x = doc.documentElement!.firstChild as Element;
    assert.equal(
      excC14n(x, { inclusivePrefixes: ['S12'] }),
      '<ds:X xmlns:S12="urn:s" xmlns:ds="urn:d"></ds:X>',
    );
  });

  it('renders an inherited default namespace on the apex and leaves the DOM unchanged', () => {
    const xml = '<a xmlns="urn:a" xmlns:p="urn:p"><b p:x="1">t&amp;&lt;&gt;</b></a>';
    const doc = parseXml(xml);
    const b = doc.documentElement!.firstChild as Element;
    assert.equal(
      excC14n(b, { inclusivePrefixes: ['p'] }),
      '<b xmlns="urn:a" xmlns:p="urn:p" p:x="1">t&amp;&lt;&gt;</b>',
    );
    assert.equal(b.attributes.length, 1);
  });

  it('escapes attribute values (quotes, tabs, line ends) as Canonical XML 1.0 §2.3', () => {
    const doc = parseXml('<a b="x&quot;&#9;&#10;&#13;&lt;&amp;y">&#13;&gt;</a>');
    assert.equal(excC14n(doc.documentElement!), '<a b="x&quot;&#x9;&#xA;&#xD;&lt;&amp;y">&#xD;&gt;</a>');
  });
});
