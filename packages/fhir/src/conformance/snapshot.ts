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
    const why = conformance.problem(sd.baseDefinition);
    throw new EhmiError(
      'EHMI_NOT_FOUND',
      why
        ? `Base ${sd.baseDefinition} of ${sd.url} cannot be used: ${why}`
        : `Base ${sd.baseDefinition} of ${sd.url} is not loaded`,
    );
  }
  const elements: ElementDefinition[] = base.snapshot.element.map((e) => ({ ...e }));
  const indexOf = (id: string) => elements.findIndex((e) => (e.id ?? e.path) === id);
  const lastDescendant = (id: string): number => {
    let at = indexOf(id);
    for (let i = at + 1; i < elements.length; i++) {
      const other = elements[i]?.id ?? '';
      if (other.startsWith(`${id}.`) || other.startsWith(`${id}:`)) at = i;
      else break;
    }
    return at;
  };
  // Unfold the children of `id` (a slice, or an element of a datatype the base does not expand) so that a
  // differential element under it has all its siblings, as snapshots list them (R4 profiling §5.1.0.13).
  const expand = (id: string): boolean => {
    const at = indexOf(id);
    if (at < 0) {
      const parent = parentId(id);
      if (!parent || !expand(parent)) return false;
      return indexOf(id) >= 0 && expand(id);
    }
    if ((elements[at + 1]?.id ?? '').startsWith(`${id}.`)) return true;
    const el = elements[at] as ElementDefinition;
    const plain = withoutLastSlice(id);
    let children: ElementDefinition[] = [];
    if (plain !== undefined && plain !== id && indexOf(plain) >= 0) {
      const from = indexOf(plain);
      for (let i = from + 1; i < elements.length; i++) {
        const e = elements[i] as ElementDefinition;
        if (!(e.id ?? '').startsWith(`${plain}.`)) break;
        if ((e.id ?? '').slice(plain.length + 1).includes(':')) continue;
        children.push(rebase(e, plain, id, el.path));
      }
    }
    if (children.length === 0) {
      const code = el.type?.[0]?.code;
      // An element typed with one profile (an extension slice) takes its children from that profile.
      const profile = el.type?.length === 1 ? el.type[0]?.profile : undefined;
      const typeSd =
        (profile?.length === 1 ? conformance.structureDefinition(profile[0] as string) : undefined) ??
        (code ? conformance.typeDefinition(code) : undefined);
      if (!typeSd?.snapshot) return false;
      children = typeSd.snapshot.element.slice(1).map((e) => rebase(e, typeSd.type, id, el.path));
    }
    elements.splice(at + 1, 0, ...children);
    return true;
  };
  for (const diff of sd.differential?.element ?? []) {
    const id = diff.id ?? diff.path;
    let at = indexOf(id);
    if (at < 0 && !diff.sliceName && expand(parentId(id))) at = indexOf(id);
    if (at >= 0) {
      elements[at] = merge(elements[at] as ElementDefinition, diff);
      continue;
    }
    const plain = withoutLastSlice(id);
    // A slice of an element inside a datatype the base does not expand (`Patient.address.extension:x`).
    if (plain !== undefined && indexOf(plain) < 0) expand(parentId(plain));
    const template = plain !== undefined ? elements[indexOf(plain)] : undefined;
    if (!template || !diff.sliceName || plain === undefined) {
      throw new EhmiError('EHMI_NOT_SUPPORTED', `Cannot place differential element ${id} of ${sd.url}`);
    }
    // A new slice goes after the slicing element's children and earlier slices.
    elements.splice(lastDescendant(plain) + 1, 0, merge({ ...template, slicing: undefined }, diff));
  }
  sd.snapshot = { element: elements };
}
