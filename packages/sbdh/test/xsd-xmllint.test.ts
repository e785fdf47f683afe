// The long-lived XSD validator (@ehmi/xml validateXsd, one xmllint-wasm thread per process) against Debian's
// xmllint on the same envelopes and the package's own ehmiSBDH schema set: the same verdict and the same located
// errors, for MedCom's example envelopes and for broken copies of them, validated together in one batch.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { validateXsd, XsdWorker } from '@ehmi/xml';
import { schemaSet } from '../src/validate/schemas.ts';
import { SBDH, xmllint } from './fixtures.ts';

const ENTRY = fileURLToPath(
  new URL('../resources/xsd/ehmiStandardBusinessDocumentHeader.xsd', import.meta.url),
);

const examples = ['examples', 'pages'].flatMap((dir) =>
  readdirSync(join(SBDH, dir))
    .filter((f) => f.endsWith('.xml'))
    .map((f) => ({ name: `${dir}/${f}`, xml: readFileSync(join(SBDH, dir, f), 'utf8') }))
    .filter((d) => d.xml.includes('StandardBusinessDocument')),
);
const valid = examples.find((d) => d.name === 'examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml')!;
const broken = [
  { name: 'HeaderVersion 2.0', xml: valid.xml.replace(/<HeaderVersion>1\.0</, '<HeaderVersion>2.0<') },
  { name: 'no Receiver', xml: valid.xml.replace(/\s*<Receiver>[\s\S]*?<\/Receiver>/, '') },
  {
    name: 'Scope Type unknown',
    xml: valid.xml.replace(/<Type>[^<]*<\/Type>/, '<Type>NOT-A-SCOPE</Type>'),
  },
  { name: 'an unknown element', xml: valid.xml.replace('</HeaderVersion>', '</HeaderVersion><Extra/>') },
];

/**
 * Debian xmllint's located errors as `line: message`, without its file name prefix and without the `element X: `
 * prefix its libxml2 (2.9) writes before a validity error and the newer one in xmllint-wasm does not.
 */
function located(output: string): string[] {
  return output
    .split('\n')
    .map((l) => /^[^:]+:(\d+): (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}: ${m[2]!.replace(/^element [^:]+: /, '').trim()}`);
}

describe('validateXsd agrees with xmllint', () => {
  it('on every example envelope and broken copies, validated in one batch', async (t) => {
    if (!xmllint(valid.xml, ENTRY)) return t.skip('Debian xmllint is not installed');
    assert.ok(examples.length >= 10, `only ${examples.length} examples`);
    for (const b of broken) assert.notEqual(b.xml, valid.xml, b.name);
    const docs = [...examples, ...broken];
    const ours = await validateXsd(
      docs.map((d) => d.xml),
      await schemaSet('ehmi'),
    );
    let invalid = 0;
    for (const [i, d] of docs.entries()) {
      const theirs = xmllint(d.xml, ENTRY)!;
      const r = ours[i]!;
      assert.equal(r.valid, theirs.ok, `${d.name}: ${theirs.output} / ${JSON.stringify(r.issues)}`);
      assert.deepEqual(
        r.issues.map((x) => `${x.line}: ${x.message}`),
        located(theirs.output),
        d.name,
      );
      if (!r.valid) invalid++;
    }
    assert.ok(invalid >= broken.length, 'the broken copies are invalid');
    assert.ok(invalid < docs.length, 'some examples are valid');
  });

  it('keeps one document’s errors out of the others in the same run', async () => {
    const set = await schemaSet('ehmi');
    const [bad, good, bad2, good2] = await validateXsd(
      [broken[0]!.xml, valid.xml, broken[3]!.xml, valid.xml],
      set,
    );
    assert.equal(bad?.valid, false);
    assert.equal(bad2?.valid, false);
    assert.deepEqual(good, { valid: true, schema: set.entry, issues: [] });
    assert.deepEqual(good2, { valid: true, schema: set.entry, issues: [] });
  });

  it('runs concurrent calls on one thread, and starts a new one after it is closed', async () => {
    const set = await schemaSet('ehmi');
    const worker = new XsdWorker();
    const runs = await Promise.all(
      [valid.xml, broken[0]!.xml, valid.xml].map((xml) =>
        worker.run([{ fileName: 'doc-0.xml', contents: xml }], set),
      ),
    );
    assert.deepEqual(
      runs.map((r) => r.exitCode),
      [0, 4, 0].map((c) => (c === 4 ? runs[1]!.exitCode : c)),
    );
    assert.ok([3, 4].includes(runs[1]!.exitCode), `exit ${runs[1]!.exitCode}`);
    assert.match(runs[1]!.stderr, /^doc-0\.xml:\d+: .*HeaderVersion/m);
    await worker.close();
    const again = await worker.run([{ fileName: 'doc-0.xml', contents: valid.xml }], set);
    assert.equal(again.exitCode, 0);
    await worker.close();
  });
});
