import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeAttr, escapeText, parseXml, rootElement } from '../src/index.ts';

describe('escapeText / escapeAttr', () => {
  const nasty = 'a<b>&"c\'\td\ne\rf';

  it('escapes text: & < > and CR (which a parser would turn into LF)', () => {
    assert.equal(escapeText(nasty), 'a&lt;b&gt;&amp;"c\'\td\ne&#xD;f');
    assert.equal(escapeText('plain'), 'plain');
  });

  it('escapes attribute values: also " and tab, LF, CR as references', () => {
    assert.equal(escapeAttr(nasty), "a&lt;b&gt;&amp;&quot;c'&#x9;d&#xA;e&#xD;f");
  });

  it('what is written reads back unchanged', () => {
    const root = rootElement(parseXml(`<r a="${escapeAttr(nasty)}">${escapeText(nasty)}</r>`));
    assert.equal(root.getAttribute('a'), nasty);
    assert.equal(root.textContent, nasty);
  });
});
