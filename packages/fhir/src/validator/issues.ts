import type { FhirIssueType, OperationOutcome, OperationOutcomeIssue } from '@ehmi/errors';

export type Severity = 'error' | 'warning' | 'information';

/** One finding of the validator, before it becomes an `OperationOutcome.issue`. */
export interface Issue {
  severity: Severity;
  code: FhirIssueType | 'informational' | 'code-invalid';
  /** FHIRPath to the element, e.g. `Bundle.entry[0].resource.destination[0].receiver`. */
  expression: string;
  message: string;
  /** Further FHIRPaths for the same finding (the containing element of a missing one, the Reference of a target). */
  related?: string[];
  /** The profile (canonical URL) whose rule produced the issue; '' or absent for the base definition. */
  profile?: string;
}

/** Collects issues, dropping exact duplicates (the same rule reached through the base and a profile). */
export class IssueList {
  readonly items: Issue[] = [];
  readonly #seen = new Set<string>();

  add(issue: Issue): void {
    const key = `${issue.severity}|${issue.expression}|${issue.message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.items.push(issue);
  }

  addAll(issues: readonly Issue[]): void {
    for (const i of issues) this.add(i);
  }

  get hasErrors(): boolean {
    return this.items.some((i) => i.severity === 'error');
  }
}

/** The OperationOutcome for a list of issues; an empty list becomes one `information` issue "no issues". */
export function toOutcome(issues: readonly Issue[]): OperationOutcome {
  const ordered = [...issues].sort((a, b) => rank(a.severity) - rank(b.severity));
  const out: OperationOutcomeIssue[] = ordered.map((i) => ({
    severity: i.severity,
    // `code-invalid` is an R4 issue type (valueset-issue-type) that @ehmi/errors does not list.
    code: i.code as unknown as OperationOutcomeIssue['code'],
    diagnostics: i.profile ? `${i.message} (profile ${i.profile})` : i.message,
    details: { text: i.message },
    expression: [i.expression, ...(i.related ?? [])],
  }));
  if (out.length === 0) {
    out.push({ severity: 'information', code: 'informational', diagnostics: 'No issues detected' });
  }
  return { resourceType: 'OperationOutcome', issue: out };
}

function rank(s: Severity): number {
  return s === 'error' ? 0 : s === 'warning' ? 1 : 2;
}
