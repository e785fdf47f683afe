import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import { z } from 'zod';

/** Environment variables with the EHMI_ prefix that are not configuration keys. */
const NON_CONFIG_ENV = new Set(['EHMI_CONFIG', 'EHMI_DEBUG']);
const NON_CONFIG_ENV_PREFIXES = ['EHMI_TEST_'];

export interface LoadConfigOptions {
  /** Path of a JSON config file; `EHMI_CONFIG` is used when absent. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Values that win over file and environment (tests, CLI flags). */
  overrides?: object;
}

type Leaf = { path: string[]; schema: z.ZodType };

/** `http.port` → `EHMI_HTTP_PORT`. */
export function envName(path: readonly string[]): string {
  return `EHMI_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodPrefault) {
    s = s.unwrap() as z.ZodType;
  }
  return s;
}

function leaves(schema: z.ZodType, path: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([k, v]) =>
      leaves(v, [...path, k]),
    );
  }
  return [{ path, schema: inner }];
}

/** Every configuration key of `schema` with its environment variable, for `--help` and docs. */
export function configKeysOf(schema: z.ZodType): { key: string; env: string }[] {
  return leaves(schema).map((l) => ({ key: l.path.join('.'), env: envName(l.path) }));
}

function coerce(leaf: Leaf, raw: string, name: string): unknown {
  if (leaf.schema instanceof z.ZodNumber) {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) {
      throw new EhmiError('EHMI_CONFIG_INVALID', `${name}=${JSON.stringify(raw)}: expected a number`, {
        details: { key: leaf.path.join('.') },
      });
    }
    return n;
  }
  if (leaf.schema instanceof z.ZodBoolean) {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new EhmiError('EHMI_CONFIG_INVALID', `${name}=${JSON.stringify(raw)}: expected true or false`, {
      details: { key: leaf.path.join('.') },
    });
  }
  if (leaf.schema instanceof z.ZodArray || leaf.schema instanceof z.ZodRecord) {
    try {
      return JSON.parse(raw);
    } catch {
      throw new EhmiError('EHMI_CONFIG_INVALID', `${name}: expected JSON (a list or an object)`, {
        details: { key: leaf.path.join('.') },
      });
    }
  }
  return raw;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (next === undefined || next === null || typeof next !== 'object') node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = mergeDeep(b as Record<string, unknown>, v as Record<string, unknown>);
    } else if (v !== undefined) out[k] = v;
  }
  return out;
}

function readFileConfig(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `cannot read config file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `config file ${file} is not valid JSON: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `config file ${file} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function describeIssue(issue: z.core.$ZodIssue, sources: Map<string, string>): string {
  if (issue.code === 'unrecognized_keys') {
    const at = issue.path.join('.');
    return issue.keys
      .map(
        (k) =>
          `unknown configuration key "${at ? `${at}.` : ''}${k}"${sourceOf(sources, [...issue.path, k])}`,
      )
      .join('; ');
  }
  const key = issue.path.join('.');
  return `configuration key "${key}"${sourceOf(sources, issue.path)}: ${issue.message}`;
}

function sourceOf(sources: Map<string, string>, path: readonly PropertyKey[]): string {
  const s = sources.get(path.map(String).join('.'));
  return s ? ` (from ${s})` : '';
}

/**
 * Load and validate the configuration once, at start-up. An unknown key (in the file or as an `EHMI_*` variable) or
 * a bad value throws EHMI_CONFIG_INVALID naming the key and what is expected.
 *
 * @example
 * const config = loadConfigWith(configSchema, { file: 'node.json' }); // EHMI_HTTP_PORT=9000 wins over http.port
 */
export function loadConfigWith<S extends z.ZodType<{ dataDir: string }>>(
  schema: S,
  options: LoadConfigOptions = {},
): z.output<S> {
  const LEAVES = leaves(schema);
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const sources = new Map<string, string>();
  const fileName = options.file ?? env.EHMI_CONFIG;
  let input: Record<string, unknown> = {};
  if (fileName) {
    const file = resolve(cwd, fileName);
    input = readFileConfig(file);
    for (const leaf of LEAVES) sources.set(leaf.path.join('.'), file);
  }

  const byEnv = new Map(LEAVES.map((l) => [envName(l.path), l]));
  const fromEnv: Record<string, unknown> = {};
  if (env.DATABASE_URL && !env.EHMI_DATABASE_URL) {
    setPath(fromEnv, ['database', 'url'], env.DATABASE_URL);
    sources.set('database.url', 'DATABASE_URL');
  }
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('EHMI_') || raw === undefined) continue;
    if (NON_CONFIG_ENV.has(name) || NON_CONFIG_ENV_PREFIXES.some((p) => name.startsWith(p))) continue;
    const leaf = byEnv.get(name);
    if (!leaf) {
      problems.push(`unknown configuration variable ${name} (known: ${[...byEnv.keys()].join(', ')})`);
      continue;
    }
    try {
      setPath(fromEnv, leaf.path, coerce(leaf, raw, name));
      sources.set(leaf.path.join('.'), name);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length > 0) throw new EhmiError('EHMI_CONFIG_INVALID', problems.join('; '));

  const merged = mergeDeep(mergeDeep(input, fromEnv), (options.overrides ?? {}) as Record<string, unknown>);
  const result = schema.safeParse(merged);
  if (!result.success) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      result.error.issues.map((i) => describeIssue(i, sources)).join('; '),
      {
        details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
      },
    );
  }
  const config = result.data;
  config.dataDir = resolve(cwd, config.dataDir);
  return config;
}
