import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import { type XsdFile, xsdWorker } from './xsd-worker.ts';

/** A set of XSD files loaded once, validated against by name of the entry schema. */
export interface SchemaSet {
  /** The entry schema's file name inside the set. */
  readonly entry: string;
  readonly files: readonly XsdFile[];
}

export interface XsdIssue {
  message: string;
  line?: number;
}

export interface XsdResult {
  valid: boolean;
  /** The entry schema that was applied. */
  schema: string;
  issues: XsdIssue[];
}

/**
 * Load every `.xsd` under `dir` (recursively, keeping relative paths so `schemaLocation` imports resolve).
 *
 * @example
 * const set = await loadSchemaSet(new URL('../resources/xsd', import.meta.url).pathname, 'StandardBusinessDocumentHeader.xsd');
 */
export async function loadSchemaSet(dir: string, entry: string): Promise<SchemaSet> {
  const files: XsdFile[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const full = join(d, ent.name);
      if (ent.isDirectory()) await walk(full);
      else if (ent.name.endsWith('.xsd')) {
        files.push({ fileName: relative(dir, full), contents: await readFile(full, 'utf8') });
      }
    }
  };
  await walk(dir);
  if (!files.some((f) => f.fileName === entry)) {
    throw new EhmiError('EHMI_INTERNAL', `schema set ${dir} has no entry schema ${entry}`);
  }
  return { entry, files };
}

/**
 * Validate documents against a schema set with libxml2 (xmllint compiled to WebAssembly), in one long-lived worker
 * thread of this process (see {@link XsdWorker}). Several documents are validated in one xmllint run, and each
 * document gets only the issues xmllint located in it.
 */
export async function validateXsd(documents: readonly string[], set: SchemaSet): Promise<XsdResult[]> {
  if (documents.length === 0) return [];
  const names = documents.map((_, i) => `doc-${i}.xml`);
  const run = await xsdWorker().run(
    names.map((fileName, i) => ({ fileName, contents: documents[i]! })),
    set,
  );
  // xmllint exits 0 when every document is valid, 3 or 4 when one is not; anything else is a failure of the run
  // (a schema that does not compile: exit 5), which fails every document.
  if (run.exitCode !== 0 && run.exitCode !== 3 && run.exitCode !== 4) {
    throw new EhmiError('EHMI_INTERNAL', `xmllint failed (exit ${run.exitCode}): ${run.stderr.trim()}`);
  }
  const byName = new Map<string, XsdIssue[]>(names.map((n) => [n, []]));
  const failed = new Set<string>();
  const unlocated: XsdIssue[] = [];
  let afterLocated = false;
  for (const line of run.stderr.split('\n')) {
    if (line.trim() === '') continue;
    const status = /^(doc-\d+\.xml) (validates|fails to validate)$/.exec(line);
    if (status && byName.has(status[1]!)) {
      if (status[2] !== 'validates') failed.add(status[1]!);
      afterLocated = false;
      continue;
    }
    const located = /^(doc-\d+\.xml):(\d+): (.*)$/.exec(line);
    const issues = located ? byName.get(located[1]!) : undefined;
    if (located && issues) {
      issues.push({ message: located[3]!.trim(), line: Number(located[2]) });
      afterLocated = true;
    } else if (afterLocated && !/^[^\s:]+:\d+: /.test(line)) {
      // The context a parser error prints after its located line (the source line, a caret): part of that issue.
    } else {
      // Not attached to a document (a schema or run problem): it fails every document.
      unlocated.push({ message: line.trim() });
      afterLocated = false;
    }
  }
  return names.map((name) => {
    const issues = [...byName.get(name)!, ...unlocated];
    if (
      issues.length === 0 &&
      (failed.has(name) || (run.exitCode !== 0 && !run.stderr.includes(`${name} validates`)))
    )
      issues.push({ message: `${name} fails to validate` });
    return { valid: issues.length === 0, schema: set.entry, issues };
  });
}
