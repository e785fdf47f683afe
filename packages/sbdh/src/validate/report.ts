import type { EnvelopeIssue } from '../model.ts';

/** Where a rule reports: a rule id, the element path, the message. */
export type Report = (rule: string, element: string, message: string) => void;

/** What an envelope carries, which decides the rules for PATIENTID and the ORIGINAL* scopes. */
export type EnvelopeKind = 'message' | 'acknowledgement' | 'receipt';

export const H = 'StandardBusinessDocumentHeader';
export const at = (type: string): string => `${H}/BusinessScope/Scope[${type}]`;

export type { EnvelopeIssue };
