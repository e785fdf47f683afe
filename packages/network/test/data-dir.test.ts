import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { noteDataDir } from '../src/data-dir.ts';

describe('a failed start takes back only what it added to the data folder', () => {
  const base = mkdtempSync(join(tmpdir(), 'ehmi-data-dir-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  const owns = (name: string) => ['pki', 'gp', 'network.json'].includes(name);

  it('a folder it created is removed whole, with the parents it created', () => {
    const dir = join(base, 'new', 'deeper', '.ehmi');
    const undo = noteDataDir(dir, { owns });
    assert.ok(existsSync(dir), 'created by the note');
    writeFileSync(join(dir, 'network.json'), '{}');
    assert.deepEqual(undo(), []);
    assert.ok(!existsSync(join(base, 'new')));
  });

  it('in a folder that existed: new entries it owns go; its old entries, and what others add meanwhile, stay', () => {
    const dir = join(base, 'shared');
    mkdirSync(join(dir, 'pki'), { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'the user’s');
    writeFileSync(join(dir, 'pki', 'root-ca.pem'), 'old');
    const undo = noteDataDir(dir, { owns, nested: ['pki'] });
    mkdirSync(join(dir, 'gp'));
    writeFileSync(join(dir, 'network.json'), '{}');
    mkdirSync(join(dir, 'pki', 'gp'));
    writeFileSync(join(dir, 'photos.zip'), 'another program’s, written during the start');
    assert.deepEqual(undo(), []);
    assert.deepEqual(readdirSync(dir).sort(), ['notes.txt', 'photos.zip', 'pki']);
    assert.deepEqual(readdirSync(join(dir, 'pki')), ['root-ca.pem']);
  });

  it('a data folder under a dangling symlink is refused, not taken for a folder to create and delete', () => {
    const link = join(base, 'disk');
    symlinkSync(join(base, 'unmounted'), link);
    assert.throws(() => noteDataDir(join(link, 'ehmi'), { owns }));
    assert.ok(existsSync(join(base, 'disk')) || readdirSync(base).includes('disk'), 'the link is left alone');
  });
});
