// A FHIR R4 TestScript engine (http://hl7.org/fhir/R4/testscript.html) for running published TestScripts against one
// of our FHIR servers: fixtures (files beside the script, autocreate/autodelete), variables (expression, path,
// headerField, sourceId, defaultValue), setup/test/teardown actions, operations (read, vread, search, create, update,
// delete, history, patch, transaction/batch, capabilities/metadata, with params, url, targetId, sourceId,
// responseId, requestHeader, contentType/accept) and asserts (response, responseCode, resource, contentType,
// headerField, expression, path, operator, value, compareToSourceId/Expression/Path, minimumId, validateProfileId,
// requestMethod, requestURL, warningOnly, direction). FHIRPath is fhirpath.js with the R4 model; profiles are
// checked with the project's validator. Every action's outcome is reported; the caller decides what fails a test.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { jsonToXml, shippedValidator, xmlToJson } from '@ehmi/fhir';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** One request and its answer, as a later action refers to it by `responseId`/`sourceId`. */
export interface Exchange {
  request: { method: string; url: string; headers: Record<string, string>; body?: string };
  status: number;
  headers: Headers;
  text: string;
  /** The body as a FHIR JSON resource (parsed from JSON or XML), when it is one. */
  resource?: Json;
}

export type ActionStatus = 'pass' | 'fail' | 'warning' | 'skip';

export interface ActionResult {
  section: 'setup' | 'test' | 'teardown';
  /** The test's id or name (tests only). */
  test?: string;
  kind: 'operation' | 'assert';
  description: string;
  status: ActionStatus;
  message: string;
}

export interface TestScriptReport {
  script: string;
  actions: ActionResult[];
  /** Every action that failed (not a warning, not a skip). */
  failures: ActionResult[];
}

export interface TestScriptRunOptions {
  /** Base URL of destination 1 (the FHIR server under test), without a trailing slash. */
  baseUrl: string;
  /** The file the script was read from: fixture references (`../Fixtures/x.json`) are resolved against it. */
  scriptPath: string;
  /** The fetch the client calls with (mTLS, access token …); default the global fetch. */
  fetch?: typeof fetch;
  /** Why an assert is not evaluated (undefined: it is). Lets a caller leave out asserts about another product. */
  skipAssert?: (assert: Json) => string | undefined;
  /** Reads a fixture file (absolute path); default {@link loadFixture}. */
  loadFixture?: (path: string) => FixtureFile;
}

/** A fixture file: its text and format, and the resource read from it (undefined when it is not FHIR). */
export interface FixtureFile {
  text: string;
  format: 'json' | 'xml';
  resource?: Json;
}

/** A fixture file as it is: FHIR JSON or FHIR XML by its extension. */
export function loadFixture(path: string): FixtureFile {
  const text = readFileSync(path, 'utf8');
  const format = path.endsWith('.xml') ? 'xml' : 'json';
  const resource = parseResource(text, format);
  return { text, format, ...(resource ? { resource } : {}) };
}

/** TestScript `assert.response` codes and their HTTP statuses (R4 assert-response-code-types). */
const RESPONSE_CODES: Record<string, number> = {
  okay: 200,
  created: 201,
  noContent: 204,
  notModified: 304,
  bad: 400,
  forbidden: 403,
  notFound: 404,
  methodNotAllowed: 405,
  conflict: 409,
  gone: 410,
  preconditionFailed: 412,
  unprocessable: 422,
};

/** `json`/`xml` (Touchstone and STU3 codes) or a MIME type (R4) to the FHIR MIME type. */
function mimeOf(code: string | undefined): string | undefined {
  if (code === undefined || code === 'none') return undefined;
  if (code === 'json') return 'application/fhir+json';
  if (code === 'xml') return 'application/fhir+xml';
  if (code === 'ttl') return 'text/turtle';
  return code;
}

/** A FHIR resource from a body in JSON or XML (undefined when it is neither). */
export function parseResource(text: string, contentType?: string | null): Json | undefined {
  const t = text.trimStart();
  try {
    if (t.startsWith('{')) return JSON.parse(text) as Json;
    if (t.startsWith('<') || /xml/.test(contentType ?? '')) return xmlToJson(text);
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * `= '1997-02-02T19:18:11.111+01:00'`: a string literal that is a FHIR dateTime, compared with `=`/`!=`. The scripts
 * compare dateTime elements with such strings (`recorded = '${...}'`); FHIRPath has no implicit String→DateTime
 * conversion (fhirpath.js says false), while the HL7 Java engine compares the two as the same value. The literal is
 * read as the dateTime literal `@…`; that the server answers the same text it was given is checked by the caller.
 */
const DATE_LITERAL_COMPARED =
  /(!?=)\s*'(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))'/g;

const CALENDAR_WORDS = 'years?|months?|weeks?|days?|hours?|minutes?|seconds?|milliseconds?';

/**
 * FHIRPath over a resource, with the R4 model (so `recorded` is a dateTime and `+ 1 minute` is date arithmetic).
 * A calendar word written as a quoted unit (`1 'minute'`, as MedCom's scripts do) is read as the calendar duration
 * (`1 minute`): FHIRPath allows only UCUM units in quotes ('min'), but the HL7 Java FHIRPath engine behind Touchstone
 * and HAPI accepts the quoted word, and the scripts were written against it.
 */
export function evaluate(resource: unknown, expression: string): unknown[] {
  const e = expression
    .replace(
      new RegExp(`(\\d)\\s*'(${CALENDAR_WORDS})'`, 'g'),
      (_, digit: string, word: string) => `${digit} ${word}`,
    )
    .replace(DATE_LITERAL_COMPARED, (_, op: string, literal: string) => `${op} @${literal}`);
  return fhirpath.evaluate(resource as object, e, undefined, r4) as unknown[];
}

/** A FHIRPath result as the text TestScript compares (the first item; booleans and numbers as FHIRPath writes them). */
function textOf(result: unknown[]): string | undefined {
  if (result.length === 0) return undefined;
  const v = result[0];
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v !== null && typeof v === 'object' && 'toString' in v && !(v.constructor === Object)) return String(v);
  return JSON.stringify(v);
}

/** Compares `actual` with `expected` by a TestScript assert operator (R4 assert-operator-codes). */
export function compare(operator: string, actual: string | undefined, expected: string | undefined): boolean {
  const a = actual ?? '';
  const e = expected ?? '';
  const num = (s: string) => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : undefined);
  switch (operator) {
    case 'equals':
      return actual !== undefined && (a === e || (num(a) !== undefined && num(a) === num(e)));
    case 'notEquals':
      return !(actual !== undefined && (a === e || (num(a) !== undefined && num(a) === num(e))));
    case 'in':
      return e.split(',').some((x) => x.trim() === a);
    case 'notIn':
      return !e.split(',').some((x) => x.trim() === a);
    case 'greaterThan':
    case 'lessThan': {
      const x = num(a);
      const y = num(e);
      if (x !== undefined && y !== undefined) return operator === 'greaterThan' ? x > y : x < y;
      return operator === 'greaterThan' ? a > e : a < e;
    }
    case 'empty':
      return actual === undefined || a === '';
    case 'notEmpty':
      return actual !== undefined && a !== '';
    case 'contains':
      return a.includes(e);
    case 'notContains':
      return !a.includes(e);
    default:
      throw new Error(`assert operator ${operator} is not supported`);
  }
}

/** True when every element of `minimum` is in `actual` (arrays: each item of the minimum matches some item). */
export function containsMinimum(actual: unknown, minimum: unknown): boolean {
  if (Array.isArray(minimum)) {
    const items = Array.isArray(actual) ? actual : [];
    return minimum.every((m) => items.some((a) => containsMinimum(a, m)));
  }
  if (minimum !== null && typeof minimum === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(minimum).every(
      ([k, v]) => k === 'id' || k === 'meta' || k === 'text' || containsMinimum((actual as Json)[k], v),
    );
  }
  return actual === minimum;
}

interface Fixture {
  resource?: Json;
  /** The file's own text and format, sent as it is when the request asks for that format. */
  text?: string;
  format?: 'json' | 'xml';
  exchange?: Exchange;
}

/** Runs one TestScript: setup, every test, teardown (also after a failure), then autodelete. */
export async function runTestScript(script: Json, options: TestScriptRunOptions): Promise<TestScriptReport> {
  const doFetch = options.fetch ?? fetch;
  const base = options.baseUrl.replace(/\/$/, '');
  const fixtures = new Map<string, Fixture>();
  const profiles = new Map<string, string>();
  const variables = list(script.variable);
  const actions: ActionResult[] = [];
  let last: Exchange | undefined;

  for (const p of list(script.profile)) {
    const id = str(p.id);
    const ref = str(p.reference);
    if (id && ref) profiles.set(id, ref);
  }
  for (const f of list(script.fixture)) {
    const id = str(f.id);
    const ref = str(obj(f.resource).reference);
    if (!id) continue;
    if (!ref || ref.startsWith('#') || /^[A-Za-z]+\//.test(ref) || /^https?:/.test(ref)) {
      fixtures.set(id, {});
      continue;
    }
    const path = resolve(dirname(options.scriptPath), ref);
    fixtures.set(id, (options.loadFixture ?? loadFixture)(path));
  }

  /** The resource and headers a `sourceId` names: a fixture, or the answer stored under a `responseId`. */
  const source = (id: string | undefined): { resource?: Json; exchange?: Exchange } => {
    if (id === undefined) return { ...(last?.resource ? { resource: last.resource } : {}), exchange: last };
    const f = fixtures.get(id);
    if (!f) throw new Error(`no fixture or response ${id}`);
    return {
      ...(f.resource
        ? { resource: f.resource }
        : f.exchange?.resource
          ? { resource: f.exchange.resource }
          : {}),
      ...(f.exchange ? { exchange: f.exchange } : {}),
    };
  };

  const variable = (name: string): string => {
    const v = variables.find((x) => x.name === name);
    if (!v) throw new Error(`\${${name}} names no variable`);
    const from = source(str(v.sourceId));
    let value: string | undefined;
    if (str(v.headerField)) value = from.exchange?.headers.get(str(v.headerField)!) ?? undefined;
    else if (str(v.expression) || str(v.path))
      value = from.resource ? textOf(evaluate(from.resource, str(v.expression) ?? str(v.path)!)) : undefined;
    return value ?? str(v.defaultValue) ?? '';
  };
  const substitute = (text: string): string =>
    text.replace(/\$\{([^}]+)\}/g, (_, name: string) => variable(name));

  /** The query of `params` with each value percent-encoded (`encodeRequestUrl`), names and separators kept. */
  const encodeParams = (params: string): string =>
    params.replace(/([?&][^=&]*=)([^&]*)/g, (_, key: string, value: string) => {
      let raw = value;
      try {
        raw = decodeURIComponent(value);
      } catch {}
      return `${key}${encodeURIComponent(raw)}`;
    });

  const operation = async (op: Json): Promise<string> => {
    const type = str(obj(op.type).code) ?? '';
    const resourceType = str(op.resource);
    const encode = op.encodeRequestUrl !== false;
    let params = str(op.params) !== undefined ? substitute(str(op.params)!) : undefined;
    if (params !== undefined && encode) params = encodeParams(params);
    const target = str(op.targetId) ? source(str(op.targetId)) : undefined;
    const targetPath = (): string => {
      const r = target?.resource;
      if (!r) throw new Error(`targetId ${String(op.targetId)} has no resource`);
      return `${String(r.resourceType)}/${String(r.id)}`;
    };
    let method = 'GET';
    let url: string;
    const bodySource = str(op.sourceId);
    switch (type) {
      case 'read':
      case 'vread':
      case 'history':
        url = params?.startsWith('/')
          ? `${base}/${resourceType}${params}`
          : target
            ? `${base}/${targetPath()}${type === 'history' ? '/_history' : ''}`
            : `${base}/${resourceType}${params ?? ''}`;
        break;
      case 'search':
        url = `${base}/${resourceType}${params ?? ''}`;
        break;
      case 'create':
        method = 'POST';
        url = `${base}/${resourceType ?? String(source(bodySource).resource?.resourceType)}${params ?? ''}`;
        break;
      case 'update':
      case 'updateCreate':
      case 'patch':
        method = type === 'patch' ? 'PATCH' : 'PUT';
        url = target
          ? `${base}/${targetPath()}`
          : `${base}/${resourceType ?? String(source(bodySource).resource?.resourceType)}${params ?? `/${String(source(bodySource).resource?.id)}`}`;
        break;
      case 'delete':
      case 'deleteCondMultiple':
        method = 'DELETE';
        url =
          target && params === undefined
            ? `${base}/${targetPath()}`
            : `${base}/${resourceType}${params ?? ''}`;
        break;
      case 'transaction':
      case 'batch':
        method = 'POST';
        url = base;
        break;
      case 'capabilities':
      case 'metadata':
        url = `${base}/metadata`;
        break;
      default:
        if (!str(op.url)) throw new Error(`operation type ${type} is not supported`);
        url = base;
    }
    if (str(op.url)) {
      const u = substitute(str(op.url)!);
      url = /^https?:/.test(u) ? u : `${base}/${u.replace(/^\//, '')}`;
    }
    const headers: Record<string, string> = {};
    const accept = mimeOf(str(op.accept));
    if (accept) headers.accept = accept;
    for (const h of list(op.requestHeader))
      headers[String(h.field).toLowerCase()] = substitute(String(h.value));
    let body: string | undefined;
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      const f = bodySource ? fixtures.get(bodySource) : undefined;
      const resource = bodySource ? source(bodySource).resource : undefined;
      if (!resource) throw new Error(`operation ${type} has no body (sourceId ${String(bodySource)})`);
      const contentType = mimeOf(str(op.contentType)) ?? 'application/fhir+json';
      const wantXml = contentType.includes('xml');
      if (f?.text && f.format === (wantXml ? 'xml' : 'json')) body = f.text;
      else body = wantXml ? jsonToXml(resource) : JSON.stringify(resource);
      headers['content-type'] ??= contentType;
    }
    const res = await doFetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    const resource = parseResource(text, res.headers.get('content-type'));
    last = {
      request: { method, url, headers, ...(body !== undefined ? { body } : {}) },
      status: res.status,
      headers: res.headers,
      text,
      ...(resource ? { resource } : {}),
    };
    const responseId = str(op.responseId);
    if (responseId) fixtures.set(responseId, { exchange: last, ...(resource ? { resource } : {}) });
    return `${method} ${url} → ${res.status}`;
  };

  /** Undefined when the assert holds, else why not. */
  const check = (a: Json): string | undefined => {
    const operator = str(a.operator) ?? 'equals';
    const from = source(str(a.sourceId));
    const exchange = from.exchange;
    const value = str(a.value) !== undefined ? substitute(str(a.value)!) : undefined;
    const request = str(a.direction) === 'request';
    const problems: string[] = [];
    const expect = (
      what: string,
      actual: string | undefined,
      expected: string | undefined,
      op = operator,
    ) => {
      if (!compare(op, actual, expected))
        problems.push(`${what}: ${String(actual)} ${op} ${String(expected)} is false`);
    };
    if (str(a.response)) {
      const code = RESPONSE_CODES[str(a.response)!];
      if (code === undefined) problems.push(`response code ${String(a.response)} is unknown`);
      else
        expect(
          'response',
          String(exchange?.status),
          String(code),
          operator === 'equals' ? 'equals' : operator,
        );
    }
    if (str(a.responseCode)) expect('responseCode', String(exchange?.status), str(a.responseCode));
    if (str(a.resource)) expect('resource', str(from.resource?.resourceType), str(a.resource));
    if (str(a.contentType)) {
      const actual = request
        ? exchange?.request.headers['content-type']
        : exchange?.headers.get('content-type');
      const expected = mimeOf(str(a.contentType))!;
      if (!(actual ?? '').includes(expected))
        problems.push(`contentType: ${String(actual)} is not ${expected}`);
    }
    if (str(a.headerField)) {
      const actual = request
        ? exchange?.request.headers[str(a.headerField)!.toLowerCase()]
        : (exchange?.headers.get(str(a.headerField)!) ?? undefined);
      expect(`header ${String(a.headerField)}`, actual, value);
    }
    if (str(a.requestMethod))
      expect('requestMethod', exchange?.request.method.toLowerCase(), str(a.requestMethod));
    if (str(a.requestURL)) expect('requestURL', exchange?.request.url, substitute(str(a.requestURL)!));
    const expression = str(a.expression) ?? str(a.path);
    if (expression) {
      const e = substitute(expression);
      if (!from.resource) problems.push(`expression ${e}: the response has no resource`);
      else {
        const result = evaluate(from.resource, e);
        let expected = value;
        if (str(a.compareToSourceId)) {
          const other = source(str(a.compareToSourceId)).resource;
          const otherExpr = str(a.compareToSourceExpression) ?? str(a.compareToSourcePath) ?? e;
          expected = other ? textOf(evaluate(other, substitute(otherExpr))) : undefined;
        }
        if (expected === undefined && str(a.operator) === undefined) {
          // A boolean expression with nothing to compare with holds when it is true.
          if (!(result.length === 1 && result[0] === true))
            problems.push(`expression ${e}: ${JSON.stringify(result)} is not true`);
        } else expect(`expression ${e}`, textOf(result), expected);
      }
    }
    if (str(a.minimumId)) {
      const minimum = source(str(a.minimumId)).resource;
      if (!containsMinimum(from.resource, minimum))
        problems.push(`minimumId ${String(a.minimumId)}: the resource does not contain it`);
    }
    if (str(a.validateProfileId)) {
      const profile = profiles.get(str(a.validateProfileId)!);
      if (!profile) problems.push(`validateProfileId ${String(a.validateProfileId)} names no profile`);
      else if (!from.resource) problems.push(`validateProfileId: the response has no resource`);
      else {
        const errors = shippedValidator()
          .issues(from.resource, { profile })
          .filter((i) => i.severity === 'error');
        if (errors.length > 0)
          problems.push(
            `not valid against ${profile}: ${errors
              .slice(0, 5)
              .map((i) => `${i.expression}: ${i.message}`)
              .join('; ')}`,
          );
      }
    }
    return problems.length > 0 ? problems.join('; ') : undefined;
  };

  const run = async (section: ActionResult['section'], steps: Json[], test?: string): Promise<boolean> => {
    for (const step of steps) {
      const op = step.operation ? obj(step.operation) : undefined;
      const a = step.assert ? obj(step.assert) : undefined;
      if (op) {
        const description = substitute(str(op.description) ?? str(obj(op.type).code) ?? 'operation');
        try {
          const message = await operation(op);
          actions.push({
            section,
            ...(test ? { test } : {}),
            kind: 'operation',
            description,
            status: 'pass',
            message,
          });
        } catch (e) {
          actions.push({
            section,
            ...(test ? { test } : {}),
            kind: 'operation',
            description,
            status: 'fail',
            message: (e as Error).message,
          });
          return false;
        }
      } else if (a) {
        const description = substitute(str(a.description) ?? 'assert');
        const skip = options.skipAssert?.(a);
        if (skip) {
          actions.push({
            section,
            ...(test ? { test } : {}),
            kind: 'assert',
            description,
            status: 'skip',
            message: skip,
          });
          continue;
        }
        let problem: string | undefined;
        try {
          problem = check(a);
        } catch (e) {
          problem = (e as Error).message;
        }
        const status: ActionStatus =
          problem === undefined ? 'pass' : a.warningOnly === true ? 'warning' : 'fail';
        actions.push({
          section,
          ...(test ? { test } : {}),
          kind: 'assert',
          description,
          status,
          message: problem ?? 'holds',
        });
        if (status === 'fail' && a.stopTestOnFail !== false && section === 'setup') return false;
      }
    }
    return true;
  };

  const autodeleted: Fixture[] = [];
  try {
    for (const f of list(script.fixture)) {
      if (f.autocreate !== true) continue;
      const fixture = fixtures.get(String(f.id));
      await run('setup', [
        {
          operation: { type: { code: 'create' }, sourceId: f.id, resource: fixture?.resource?.resourceType },
        },
      ]);
      if (last && last.status < 300) {
        const id = /\/([^/]+)\/([^/]+)(?:\/_history\/[^/]+)?$/.exec(last.headers.get('location') ?? '');
        if (fixture?.resource && id) fixture.resource = { ...fixture.resource, id: id[2] };
        if (fixture && f.autodelete === true) autodeleted.push(fixture);
      }
    }
    const setupOk = await run('setup', list(obj(script.setup).action));
    if (setupOk)
      for (const t of list(script.test)) await run('test', list(t.action), str(t.name) ?? str(t.id));
  } finally {
    await run('teardown', list(obj(script.teardown).action));
    for (const f of autodeleted) {
      const r = f.resource;
      if (r?.id) await doFetch(`${base}/${String(r.resourceType)}/${String(r.id)}`, { method: 'DELETE' });
    }
  }
  return {
    script: String(script.id ?? script.name ?? options.scriptPath),
    actions,
    failures: actions.filter((x) => x.status === 'fail'),
  };
}
