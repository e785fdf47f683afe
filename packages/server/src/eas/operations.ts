import { readdirSync, readFileSync } from 'node:fs';
import { EhmiError } from '@ehmi/errors';
import { isObject, type Json } from './fhir.ts';

/** The OperationDefinitions of the EAS IG 2.0.0, copied to resources/eas (see PROVENANCE.md there). */
const RESOURCES = new URL('../../resources/eas/', import.meta.url);

export interface OperationParameter {
  name: string;
  use: 'in' | 'out';
  min: number;
  /** `*` as Infinity. */
  max: number;
  /** FHIR type: `string` or a resource type (`Patient`). */
  type: string;
}

export interface OperationDefinition {
  resource: Json;
  url: string;
  /** The operation's code, without `$` (`getReceivingOrganizationBySORId`). */
  code: string;
  id: string;
  parameters: OperationParameter[];
}

let loaded: OperationDefinition[] | undefined;

/** The four EAS operations, read once from `resources/eas/OperationDefinition-*.json`. */
export function easOperations(): OperationDefinition[] {
  loaded ??= readdirSync(RESOURCES)
    .filter((f) => f.startsWith('OperationDefinition-') && f.endsWith('.json'))
    .sort()
    .map((f) => {
      const resource = JSON.parse(readFileSync(new URL(f, RESOURCES), 'utf8')) as Json;
      const parameters = (resource.parameter as Json[]).map((p) => ({
        name: String(p.name),
        use: p.use as 'in' | 'out',
        min: Number(p.min),
        max: p.max === '*' ? Number.POSITIVE_INFINITY : Number(p.max),
        type: String(p.type),
      }));
      return {
        resource,
        url: String(resource.url),
        code: String(resource.code),
        id: String(resource.id),
        parameters,
      };
    });
  return loaded;
}

export function easOperation(code: string): OperationDefinition {
  const op = easOperations().find((o) => o.code === code);
  if (!op) throw new Error(`no OperationDefinition for $${code} in resources/eas`);
  return op;
}

/** A parsed `in` value: the string of a primitive parameter, or the resource of a resource parameter. */
export interface ParameterValue {
  value: string | Json;
  /** FHIRPath of the value in the request, for OperationOutcome.issue.expression. */
  expression: string;
}

export type OperationInput = Map<string, ParameterValue[]>;

const isPrimitive = (type: string) => /^[a-z]/.test(type);

function where(name: string): string {
  return `Parameters.parameter.where(name = '${name}')`;
}

function bad(message: string, expression: string, parameter: string): EhmiError {
  return new EhmiError('EHMI_USAGE', message, { expression: [expression], details: { parameter } });
}

/**
 * The `in` parameters of a GET request (FHIR R4 operations.html "Executing an Operation": an operation that does not
 * affect state and has only primitive in parameters may be invoked with GET, its parameters as URL parameters).
 * Parameters whose name starts with `_` (`_format`, `_pretty`) are not operation parameters and are ignored.
 */
export function inputFromQuery(op: OperationDefinition, query: Record<string, unknown>): OperationInput {
  const complex = op.parameters.find((p) => p.use === 'in' && !isPrimitive(p.type));
  if (complex) {
    throw new EhmiError(
      'EHMI_NOT_SUPPORTED',
      `$${op.code} takes the ${complex.type} resource parameter '${complex.name}', so it can only be invoked with POST and a Parameters body (FHIR R4 operations.html: GET only when every in parameter is primitive)`,
      { expression: [where(complex.name)], details: { parameter: complex.name } },
    );
  }
  const input: OperationInput = new Map();
  for (const [name, raw] of Object.entries(query)) {
    if (name.startsWith('_')) continue;
    const def = op.parameters.find((p) => p.use === 'in' && p.name === name);
    if (!def) throw bad(`$${op.code} has no parameter '${name}'`, where(name), name);
    const values = Array.isArray(raw) ? raw : [raw];
    for (const v of values) {
      if (typeof v !== 'string' || v.trim() === '') {
        throw bad(`parameter '${name}' is empty`, where(name), name);
      }
      const list = input.get(name) ?? [];
      list.push({ value: v.trim(), expression: where(name) });
      input.set(name, list);
    }
  }
  return checkCardinality(op, input);
}

/** The `in` parameters of a POST request: a FHIR Parameters resource, checked against the OperationDefinition. */
export function inputFromParameters(op: OperationDefinition, body: unknown): OperationInput {
  if (!isObject(body) || body.resourceType !== 'Parameters') {
    throw new EhmiError(
      'EHMI_INPUT_UNREADABLE',
      `$${op.code}: the POST body must be a FHIR Parameters resource (application/fhir+json)`,
      { expression: ['Parameters'] },
    );
  }
  if (body.parameter !== undefined && !Array.isArray(body.parameter)) {
    throw new EhmiError('EHMI_INPUT_UNREADABLE', 'Parameters.parameter must be an array', {
      expression: ['Parameters.parameter'],
    });
  }
  const input: OperationInput = new Map();
  ((body.parameter as unknown[] | undefined) ?? []).forEach((p, i) => {
    const at = `Parameters.parameter[${i}]`;
    if (!isObject(p) || typeof p.name !== 'string') {
      throw bad(`${at} has no name`, at, '');
    }
    const name = p.name;
    const def = op.parameters.find((d) => d.use === 'in' && d.name === name);
    if (!def) throw bad(`$${op.code} has no parameter '${name}'`, at, name);
    let value: string | Json;
    let expression: string;
    if (isPrimitive(def.type)) {
      const key = `value${def.type[0]!.toUpperCase()}${def.type.slice(1)}`;
      const v = p[key];
      if (typeof v !== 'string' || v.trim() === '') {
        throw bad(`parameter '${name}' needs a non-empty ${key}`, `${at}.${key}`, name);
      }
      value = v.trim();
      expression = `${at}.${key}`;
    } else {
      const r = p.resource;
      if (!isObject(r) || r.resourceType !== def.type) {
        throw bad(`parameter '${name}' needs a ${def.type} resource`, `${at}.resource`, name);
      }
      value = r;
      expression = `${at}.resource`;
    }
    const list = input.get(name) ?? [];
    list.push({ value, expression });
    input.set(name, list);
  });
  return checkCardinality(op, input);
}

function checkCardinality(op: OperationDefinition, input: OperationInput): OperationInput {
  for (const def of op.parameters) {
    if (def.use !== 'in') continue;
    const n = input.get(def.name)?.length ?? 0;
    if (n < def.min) throw bad(`$${op.code}: parameter '${def.name}' is missing`, where(def.name), def.name);
    if (n > def.max) {
      throw bad(
        `$${op.code}: parameter '${def.name}' may occur at most ${def.max} time(s), found ${n}`,
        where(def.name),
        def.name,
      );
    }
  }
  return input;
}

/** The string values of a primitive parameter. */
export function strings(input: OperationInput, name: string): ParameterValue[] {
  return (input.get(name) ?? []).filter((v) => typeof v.value === 'string');
}
