import { EhmiError } from '@ehmi/errors';
import type { Conformance } from './conformance.ts';
import type { ElementDefinition, StructureDefinition } from './types.ts';

// Properties a differential element replaces in the snapshot (FHIR R4 profiling §5.1.0.13 "snapshot generation":
// a constraint may only narrow; here we take the differential's value as given).
const REPLACED = ['min', 'max', 'type', 'binding', 'slicing', 'maxLength', 'sliceName', 'contentReference'];

function parentId(id: string): string {
  const i = id.lastIndexOf('.');
  return i < 0 ? '' : id.slice(0, i);
}

/** `a.b:s.c:t` → `a.b.c` style fallbacks: the same element without its last slice name. */
function withoutLastSlice(id: string): string | undefined {
  const segs = id.split('.');
  for (let i = segs.length - 1; i >= 0; i--) {
    const seg = segs[i] ?? '';
    const colon = seg.indexOf(':');
    if (colon >= 0) {
      segs[i] = seg.slice(0, colon);
      return segs.join('.');
    }
  }
  return undefined;
}

function merge(target: ElementDefinition, diff: ElementDefinition): ElementDefinition {
  const out: ElementDefinition = { ...target, id: diff.id ?? target.id, path: diff.path };
  for (const [k, v] of Object.entries(diff)) {
    if (REPLACED.includes(k) || k.startsWith('fixed') || k.startsWith('pattern')) out[k] = v;
  }
  if (diff.constraint) out.constraint = [...(target.constraint ?? []), ...diff.constraint];
  return out;
}

function rebase(e: ElementDefinition, fromPrefix: string, toId: string, toPath: string): ElementDefinition {
  const idTail = (e.id ?? e.path).slice(fromPrefix.length);
  const pathTail = e.path.slice(fromPrefix.length);
  return { ...e, id: toId + idTail, path: toPath + pathTail };
}

/**
 * Generates `sd.snapshot` from its differential and the base definition's snapshot, in place. This covers what
 * profiles built by SUSHI or Forge use: constraining elements, adding slices and constraining inside a slice or
 * a not-yet-expanded datatype. The shipped profiles all carry snapshots; this is for user-supplied ones.
 *
 * @example
 * generateSnapshot(differentialOnlyProfile, conformance);
 */
export function generateSnapshot(sd: StructureDefinition, conformance: Conformance): void {
  if (sd.snapshot) return;
  if (!sd.baseDefinition)
    throw new EhmiError('EHMI_NOT_SUPPORTED', `${sd.url} has neither snapshot nor base`);
  const base = conformance.structureDefinition(sd.baseDefinition);
  if (!base?.snapshot) {
    throw new EhmiError('EHMI_NOT_FOUND', `Base ${sd.baseDefinition} of ${sd.url} is not loaded`);
  }
  const elements: ElementDefinition[] = base.snapshot.element.map((e) => ({ ...e }));
  const indexOf = (id: string) => elements.findIndex((e) => (e.id ?? e.path) === id);
  for (const diff of sd.differential?.element ?? []) {
    const id = diff.id ?? diff.path;
    const at = indexOf(id);
    if (at >= 0) {
      elements[at] = merge(elements[at] as ElementDefinition, diff);
      continue;
    }
    let template: ElementDefinition | undefined;
    const plain = withoutLastSlice(id);
    if (plain !== undefined) {
      const t = elements[indexOf(plain)];
      if (t) template = { ...t };
    }
    if (!template) {
      // Inside a datatype the base snapshot does not expand (R4 snapshots stop at complex types).
      const parent = elements[indexOf(parentId(id))];
      const typeCode = parent?.type?.[0]?.code;
      const typeSd = typeCode ? conformance.typeDefinition(typeCode) : undefined;
      const name = id.slice(parentId(id).length + 1).split(':')[0] ?? '';
      const t = typeSd?.snapshot?.element.find((e) => e.path === `${typeSd.type}.${name}`);
      if (t && parent) template = rebase(t, typeSd?.type ?? '', parentId(id), parent.path);
    }
    if (!template)
      throw new EhmiError('EHMI_NOT_SUPPORTED', `Cannot place differential element ${id} of ${sd.url}`);
    // Insert after the last element under the same parent (children and earlier slices).
    const prefix = diff.sliceName && plain !== undefined ? plain : parentId(id);
    let insertAt = indexOf(prefix);
    for (let i = insertAt + 1; i < elements.length; i++) {
      const other = elements[i]?.id ?? '';
      if (other.startsWith(`${prefix}.`) || other.startsWith(`${prefix}:`)) insertAt = i;
      else if (insertAt >= 0) break;
    }
    elements.splice(insertAt + 1, 0, merge(template, diff));
  }
  sd.snapshot = { element: elements };
}
