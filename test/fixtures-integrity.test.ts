// fixtures/ is a byte-for-byte copy of the project's original fixture set, ../shared/fixtures (provenance of both in
// fixtures/SOURCES-*.md). Where the original sits beside the repository, this test compares every file of the copy
// with it by SHA-256 and names each one that differs or has no original (a file added here). A clone on its own has
// nothing to compare with, so the test is skipped there with that reason. Fixtures added in the repository itself
// (fixtures/SOURCES-payloads.md: payloads of other standards) are named with their SHA-256 in that note, and checked
// against it instead, wherever the repository is.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COPY = join(ROOT, 'fixtures');
const ORIGINAL = join(ROOT, '..', 'shared', 'fixtures');

/** Every file under `dir`, by path relative to it (with `/`), with its SHA-256 in hex. */
function digests(dir: string, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) digests(dir, name, out);
    else
      out.set(
        name,
        createHash('sha256')
          .update(readFileSync(join(dir, name)))
          .digest('hex'),
      );
  }
  return out;
}

/**
 * The notes of the fixtures added here (payloads of other standards; the MedCom XDS DocumentReference profiles; the
 * MedCom EDS TestScripts),
 * and the files they name with their SHA-256 (`| path | … | sha256 |`).
 */
const ADDED_NOTES = ['SOURCES-payloads.md', 'SOURCES-xds-documents.md', 'SOURCES-eds-testscripts.md'];
function addedFixtures(note?: string): Map<string, string> {
  const added = new Map<string, string>();
  for (const name of note ? [note] : ADDED_NOTES) {
    for (const line of readFileSync(join(COPY, name), 'utf8').split('\n')) {
      const m = /^\| (\S+) \|.*\| ([0-9a-f]{64}) \|$/.exec(line);
      if (m) added.set(m[1]!, m[2]!);
    }
  }
  return added;
}

test('the fixtures added in the repository are those its notes name, each with the SHA-256 recorded there', () => {
  for (const note of ADDED_NOTES) assert.ok(addedFixtures(note).size >= 3, `${note} names no files`);
  const added = addedFixtures();
  const copy = digests(COPY);
  for (const [name, hash] of added) assert.equal(copy.get(name), hash, `fixtures/${name}`);
});

test('fixtures/ is byte for byte its original ../shared/fixtures (SHA-256 of every file)', {
  skip: existsSync(ORIGINAL) ? false : 'no ../shared/fixtures beside the repository: nothing to compare',
}, (t) => {
  const added = addedFixtures();
  const copy = new Map(
    [...digests(COPY)].filter(([name]) => !ADDED_NOTES.includes(name) && !added.has(name)),
  );
  const original = digests(ORIGINAL);
  // Guards against comparing two wrong (empty) folders: the copy always carries its provenance notes.
  assert.ok(copy.has('SOURCES-as4-smp.md'), `no fixtures/SOURCES-as4-smp.md under ${COPY}`);

  const problems: string[] = [];
  for (const [name, hash] of [...copy].sort(([a], [b]) => a.localeCompare(b))) {
    const expected = original.get(name);
    if (expected === undefined) problems.push(`fixtures/${name}: has no original in ../shared/fixtures`);
    else if (expected !== hash)
      problems.push(`fixtures/${name}: differs (sha256 ${hash}, original ${expected})`);
  }
  const notCopied = [...original.keys()].filter((name) => !copy.has(name)).sort();
  t.diagnostic(`${copy.size} files compared with ${ORIGINAL}`);
  if (notCopied.length > 0)
    t.diagnostic(`in ../shared/fixtures but not copied (${notCopied.length}): ${notCopied.join(', ')}`);

  assert.equal(
    problems.length,
    0,
    `fixtures/ is not a faithful copy of ../shared/fixtures:\n  ${problems.join('\n  ')}`,
  );
});

// EDS serves the EDS IG's SearchParameters from its own copies (packages/server/resources/eds, see PROVENANCE.md
// there): each must be byte for byte the fixture it was copied from, and every EDS SearchParameter fixture copied.
test('packages/server/resources/eds holds byte-identical copies of the EDS SearchParameter fixtures', () => {
  const RESOURCES = join(ROOT, 'packages', 'server', 'resources', 'eds');
  const FIXTURE_DIR = join(COPY, 'eds', 'json');
  const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  const copies = readdirSync(RESOURCES).filter((f) => f.endsWith('.json'));
  const fixtures = readdirSync(FIXTURE_DIR).filter((f) => f.startsWith('SearchParameter-'));
  assert.deepEqual(copies.sort(), fixtures.sort(), 'every EDS SearchParameter fixture, and nothing else');
  for (const name of copies) {
    assert.equal(
      sha(join(RESOURCES, name)),
      sha(join(FIXTURE_DIR, name)),
      `resources/eds/${name} differs from fixtures/eds/json/${name}`,
    );
    const original = join(ORIGINAL, 'eds', 'json', name);
    if (existsSync(original))
      assert.equal(sha(join(RESOURCES, name)), sha(original), `resources/eds/${name} differs from ../shared`);
  }
});
