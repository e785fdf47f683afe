import type { NodePlan } from '../validator/plan.ts';
import type { ElementDefinition, StructureDefinition } from './types.ts';

/**
 * One element of a snapshot, with its children and slices: the snapshot's flat list made into a tree
 * (FHIR R4 ElementDefinition §2.27.0.1: `id` segments are `name[:sliceName]` joined by `.`).
 */
export interface ElementNode {
  readonly def: ElementDefinition;
  readonly sd: StructureDefinition;
  /** Last path segment: `value[x]`, `extension`, `identifier`. */
  readonly name: string;
  readonly id: string;
  readonly children: ElementNode[];
  /** Slices when `def.slicing` is set (or re-slices of a slice). */
  readonly slices: ElementNode[];
  /** The slicing entry this node is a slice of. */
  parentSlicing?: ElementNode;
  /** What the validator's walk reads of the element for each value, made on first use (`validator/plan.ts`). */
  plan: NodePlan | undefined;
}

const trees = new WeakMap<StructureDefinition, ElementNode>();

/** Splits an element id into its segments, keeping dots that belong to a slice name. */
export function idSegments(id: string, path: string): string[] {
  const names = path.split('.');
  const pieces = id.split('.');
  const out: string[] = [];
  let j = 0;
  for (let i = 0; i < names.length; i++) {
    let seg = pieces[j++] ?? '';
    const need = names.length - i - 1;
    while (pieces.length - j > need) seg += `.${pieces[j++]}`;
    out.push(seg);
  }
  return out;
}

/** The element tree of a StructureDefinition's snapshot, built once per definition. */
export function elementTree(sd: StructureDefinition): ElementNode {
  const cached = trees.get(sd);
  if (cached) return cached;
  const elements = sd.snapshot?.element ?? [];
  const byId = new Map<string, ElementNode>();
  let root: ElementNode | undefined;
  for (const def of elements) {
    const id = def.id ?? def.path;
    const segs = idSegments(id, def.path);
    const last = segs[segs.length - 1] ?? '';
    const colon = last.indexOf(':');
    const name = colon < 0 ? last : last.slice(0, colon);
    const node: ElementNode = { def, sd, name, id, children: [], slices: [], plan: undefined };
    byId.set(id, node);
    if (segs.length === 1 && colon < 0) {
      root ??= node;
      continue;
    }
    const parentId = segs.slice(0, -1).join('.');
    if (colon >= 0) {
      const slice = last.slice(colon + 1);
      const slash = slice.lastIndexOf('/');
      const entryId =
        (parentId ? `${parentId}.` : '') + (slash < 0 ? name : `${name}:${slice.slice(0, slash)}`);
      const entry = byId.get(entryId);
      if (entry) {
        entry.slices.push(node);
        node.parentSlicing = entry;
      }
    } else {
      byId.get(parentId)?.children.push(node);
    }
  }
  root ??= {
    def: { path: sd.type },
    sd,
    name: sd.type,
    id: sd.type,
    children: [],
    slices: [],
    plan: undefined,
  };
  trees.set(sd, root);
  return root;
}

/** Finds a node by element id (`Observation.code.coding:NPU`) in a definition's tree. */
export function findNode(sd: StructureDefinition, id: string): ElementNode | undefined {
  const root = elementTree(sd);
  const walk = (n: ElementNode): ElementNode | undefined => {
    if (n.id === id) return n;
    for (const c of [...n.children, ...n.slices]) {
      if (id === c.id || id.startsWith(`${c.id}.`) || id.startsWith(`${c.id}:`)) {
        const r = walk(c);
        if (r) return r;
      }
    }
    return undefined;
  };
  return walk(root);
}
