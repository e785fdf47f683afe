import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MESSAGE_PATH } from '../src/path.ts';
import { BLOB_REFERENCES, configSchema, ROLE_MIGRATIONS, ROLES } from '../src/role-list.ts';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const ROLE_FOLDERS: string[] = ROLES.map((r) => r.name);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The source folders (under src/) a file imports from, by relative import. */
function importedFolders(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => relative(SRC, resolve(dirname(file), s)).split('/')[0]!);
}

describe('the node is composed from its roles', () => {
  it('store/, config/ and http/ import no role', () => {
    for (const plumbing of ['store', 'config', 'http']) {
      for (const file of files(join(SRC, plumbing))) {
        const roles = importedFolders(file).filter((f) => ROLE_FOLDERS.includes(f));
        assert.deepEqual(roles, [], `${relative(SRC, file)} imports the role(s) ${roles.join(', ')}`);
      }
    }
  });

  it('every HTTP client of the node waits for its commits: undici agents come from nodeAgent()', () => {
    for (const file of files(SRC)) {
      if (relative(SRC, file) === join('http', 'client.ts')) continue;
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(
        text,
        /new Agent\(/,
        `${relative(SRC, file)} makes its own undici Agent; use nodeAgent()`,
      );
    }
  });

  it("a role's code imports no other role", () => {
    for (const role of ROLE_FOLDERS) {
      for (const file of files(join(SRC, role))) {
        const others = importedFolders(file).filter((f) => f !== role && ROLE_FOLDERS.includes(f));
        assert.deepEqual(others, [], `${relative(SRC, file)} imports the role(s) ${others.join(', ')}`);
      }
    }
  });

  it('every role declares itself in its folder, with migrations under its own prefix', () => {
    for (const role of ROLES) {
      assert.ok(statSync(join(SRC, role.name, 'role.ts')).isFile(), `${role.name}/role.ts`);
      assert.ok(role.name in configSchema.shape, `config section ${role.name}`);
      for (const name of Object.keys(role.migrations)) {
        assert.match(name, new RegExp(`^\\d{4}_${role.name}_`), `migration ${name} of ${role.name}`);
      }
    }
    const declared = ROLES.flatMap((r) => Object.keys(r.migrations));
    assert.equal(new Set(declared).size, declared.length, 'no two roles declare the same migration');
    assert.equal(Object.keys(ROLE_MIGRATIONS).length, declared.length);
  });

  it('the queues of a message path are each taken by one role', () => {
    const taken = ROLES.flatMap((r) => r.queues.map((q) => [q, r.name] as const));
    for (const queue of MESSAGE_PATH) {
      const by = taken.filter(([q]) => q === queue).map(([, role]) => role);
      assert.equal(by.length, 1, `${queue} is taken by ${by.join(', ') || 'no role'}`);
    }
  });

  it("the blob collector knows every role's blob columns", () => {
    assert.deepEqual([...BLOB_REFERENCES].map(([t, c]) => `${t}.${c}`).sort(), [
      'ap_outbound.blob_hash',
      'ap_received.blob_hash',
      'archive_documents.document_hash',
      'msh_inbox.ack_hash',
      'msh_inbox.envelope_hash',
      'msh_messages.envelope_hash',
      'msh_submissions.envelope_hash',
    ]);
  });

  it('every server of the node records its calls in the audit log: each createHttpServer of src/ is given `audit`', () => {
    for (const file of files(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/createHttpServer\(\{/g)) {
        const line = text.slice(text.lastIndexOf('\n', m.index) + 1, m.index);
        if (/^\s*(\*|\/\/)/.test(line)) continue; // an example in a comment
        // The options object of the call, to its closing brace at the same depth.
        let depth = 0;
        let end = m.index + m[0].length - 1;
        for (; end < text.length; end++) {
          if (text[end] === '{') depth++;
          else if (text[end] === '}' && --depth === 0) break;
        }
        const options = text.slice(m.index, end);
        // Either the call names `audit`, or it spreads options that do (the SMP's shared `http`).
        const spread = /\.\.\.(\w+),/.exec(options)?.[1];
        const named =
          /\baudit[:,]/.test(options) ||
          (spread !== undefined && new RegExp(`const ${spread}[^=]*= \\{[^;]*\\baudit:`, 's').test(text));
        assert.ok(named, `${relative(SRC, file)}: a createHttpServer call without audit`);
      }
    }
  });
});
