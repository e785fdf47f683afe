import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LIFECYCLE } from '../../src/msh/lifecycle.ts';
import { TIMELINE_STEPS } from '../../src/msh/steps.ts';

const MSH = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/msh');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const sources = files(MSH).map((file) => ({ name: relative(MSH, file), text: readFileSync(file, 'utf8') }));

describe('the path of a message reads in one place (docs/architecture.md "The path of a message")', () => {
  it('finds the MSH sources it checks', () => {
    assert.ok(sources.some((s) => s.name === 'lifecycle.ts'));
    assert.ok(sources.length > 10, `${sources.length} files`);
  });

  it('names EDS step codes only in steps.ts and lifecycle.ts', () => {
    for (const { name, text } of sources) {
      if (name === 'steps.ts' || name === 'lifecycle.ts') continue;
      assert.doesNotMatch(text, /'\d{2}\.\d+'/, `${name} names a step code`);
    }
  });

  it('changes a status and writes the timeline only through transition', () => {
    for (const { name, text } of sources) {
      if (name === 'lifecycle.ts') continue;
      assert.doesNotMatch(text, /insertInto\('msh_events'\)/, `${name} writes a timeline event`);
      // To its run, or to the end of a statement built once (store/fixed.ts), which has none.
      for (const update of text.match(/updateTable\('msh_messages'\)[\s\S]*?(\.execute|\);\n)/g) ?? []) {
        assert.doesNotMatch(update, /\bstatus\b/, `${name} changes a message's status`);
      }
    }
  });

  it('route handlers and the inbox stream reach the database through the repository', () => {
    for (const { name, text } of sources.filter((s) => s.name === 'routes.ts' || s.name === 'index.ts')) {
      assert.doesNotMatch(text, /\b(selectFrom|updateTable|insertInto|deleteFrom)\(/, `${name} runs a query`);
    }
  });

  it('reaches jobs only through the queue API, by the names of path.ts', () => {
    for (const { name, text } of sources) {
      assert.doesNotMatch(text, /\(\s*'jobs'\s*\)/, `${name} reaches the jobs table`);
      assert.doesNotMatch(text, /queue: '/, `${name} names a queue`);
    }
  });

  it('builds each lifecycle step on a timeline step of steps.ts', () => {
    for (const [name, step] of Object.entries(LIFECYCLE)) {
      assert.ok(step.code in TIMELINE_STEPS, `${name}: ${step.code}`);
    }
  });

  it('inbound/ does not call into outbound/', () => {
    for (const { name, text } of sources.filter((s) => s.name.startsWith('inbound/'))) {
      assert.doesNotMatch(text, /from '\.\.\/outbound\//, `${name} imports outbound/`);
    }
  });
});
