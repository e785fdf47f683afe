import type { ElementNode } from '../conformance/tree.ts';
import type { Issue } from './issues.ts';
import { planOf } from './plan.ts';

/** Whether `count` values are within the element's min and max (no issue to report). */
export function cardinalityHolds(count: number, node: ElementNode): boolean {
  const b = planOf(node);
  return count >= b.min && count <= b.max;
}

/** min/max of an element (R4 ElementDefinition.min/max; profiles may only narrow the base). */
export function cardinalityIssues(count: number, node: ElementNode, parentExpression: string): Issue[] {
  const min = node.def.min ?? 0;
  const max = node.def.max ?? '*';
  if (cardinalityHolds(count, node)) return [];
  const where = `${parentExpression}.${node.name.replace('[x]', '')}`;
  if (count < min) {
    return [
      {
        severity: 'error',
        code: 'required',
        expression: where,
        related: [parentExpression],
        message:
          count === 0
            ? `${node.def.path} is required (minimum ${min}) but missing`
            : `${node.def.path} needs at least ${min} values, found ${count}`,
      },
    ];
  }
  if (max !== '*' && count > Number(max)) {
    return [
      {
        severity: 'error',
        code: 'structure',
        expression: where,
        message:
          max === '0'
            ? `${node.def.path} is not allowed here (maximum 0)`
            : `${node.def.path} allows at most ${max} value(s), found ${count}`,
      },
    ];
  }
  return [];
}

/**
 * JSON shape: an element that repeats in the base definition is always an array, one that does not never is
 * (R4 json.html §2.6.2 "Repeating elements"). Profiles narrowing max to 1 keep the array.
 */
export function shapeIssue(
  value: unknown,
  ext: unknown,
  node: ElementNode,
  expression: string,
): Issue | undefined {
  const { repeats, nested } = planOf(node);
  const isArray = Array.isArray(value) || Array.isArray(ext);
  if (repeats && !isArray && nested) {
    return {
      severity: 'error',
      code: 'structure',
      expression,
      message: `${node.def.path} repeats, so it must be a JSON array`,
    };
  }
  if (!repeats && isArray) {
    return {
      severity: 'error',
      code: 'structure',
      expression,
      message: `${node.def.path} does not repeat, so it must not be a JSON array`,
    };
  }
  return undefined;
}
