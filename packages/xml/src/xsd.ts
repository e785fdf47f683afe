import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import { validateXML, type XMLFileInfo } from 'xmllint-wasm';

/** A set of XSD files loaded once, validated against by name of the entry schema. */
export interface SchemaSet {
  /** The entry schema's file name inside the set. */
  readonly entry: string;
  readonly files: readonly XMLFileInfo[];
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
  const files: XMLFileInfo[] = [];
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
 * Validate documents against a schema set with libxml2 (xmllint compiled to WebAssembly). Several documents are
 * validated in one call, since each call pays for starting the WebAssembly instance.
 */
export async function validateXsd(documents: readonly string[], set: SchemaSet): Promise<XsdResult[]> {
  if (documents.length === 0) return [];
  const names = documents.map((_, i) => `doc-${i}.xml`);
  const entryFile = set.files.find((f) => f.fileName === set.entry)!;
  const result = await validateXML({
    xml: documents.map((contents, i) => ({ fileName: names[i]!, contents })),
    schema: entryFile,
    preload: set.files.filter((f) => f !== entryFile),
    maxMemoryPages: 16 * 1024,
  });
  const anyLocated = result.errors.some((e) => e.loc);
  return names.map((name) => {
    const issues = result.errors
      .filter((e) => e.loc?.fileName === name)
      .map((e) =>
        e.loc ? { message: e.message.trim(), line: e.loc.lineNumber } : { message: e.message.trim() },
      );
    // An error xmllint could not attach to a file (a schema that fails to compile) fails every document.
    const unlocated = result.errors.filter((e) => !e.loc).map((e) => ({ message: e.message.trim() }));
    const all = [...issues, ...unlocated];
    return { valid: all.length === 0 && (result.valid || anyLocated), schema: set.entry, issues: all };
  });
}
