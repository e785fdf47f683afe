import type { Conformance } from '../conformance/conformance.ts';
import { type ElementNode, elementTree } from '../conformance/tree.ts';
import type { Json } from '../conformance/types.ts';
import type { Issue } from './issues.ts';

/**
 * The child definitions an extension is checked against: the definition its `url` names, when the slice it
 * matched did not already declare a profile (R4 extensibility.html §2.4: every extension is defined by the
 * StructureDefinition at its url). An unknown url is a warning; an unknown modifier extension an error.
 */
export function extensionChildren(
  conformance: Conformance,
  obj: Json,
  node: ElementNode,
  children: ElementNode[],
  expression: string,
  out: Issue[],
): ElementNode[] {
  const declared = node.def.type?.some((t) => t.profile?.length);
  if (declared || typeof obj.url !== 'string') return children;
  const sd = conformance.structureDefinition(obj.url);
  if (!sd) {
    // R4 extensibility §2.4.1: a modifier extension the receiver does not know cannot be safely ignored.
    const modifier = node.name === 'modifierExtension';
    out.push({
      severity: modifier ? 'error' : 'warning',
      code: 'not-supported',
      expression,
      message: modifier
        ? `Unknown modifier extension ${obj.url}: it may change the meaning of the element, so it cannot be ignored`
        : `Unknown extension ${obj.url}; its content was not checked`,
    });
    return children;
  }
  const root = elementTree(sd);
  return root.children;
}
